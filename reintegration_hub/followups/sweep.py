"""The follow-up sweep: set-based, one plan-id range per transaction, idempotent.

For an as-of date and a range of plan ids, a handful of statements: close the windows that
ended, mark milestones overdue and due, raise escalation levels (pure functions of the dates
stored with each milestone), then write a notice for each milestone these updates changed
(``milestone_notices`` is unique per milestone, kind and level: one made due and then overdue
is reminded once) and queue one e-mail per new notice and recipient in the outbox (unique key
per notice and recipient). A new reminder of a milestone that involves the returnee (the
first-contact call, a monitoring visit, a sustainability survey) is also texted to the returnee
who consents to SMS (``cases.sms.queue_milestone_sms``, unique key per milestone).

Each statement that looks for what to change reads the range's milestones in the state it
changes through a partial index of ``Milestone`` (by plan, then the date it compares), never
every milestone of the range: its filter and its index's condition go together
(``tests/followups/test_sweep_indexes.py`` fails on a full scan).

Notices are written only for what the range's own updates change (``UPDATE ... RETURNING``),
not for every open milestone again each day, and in the same transaction: a range killed half
way is rolled back whole, and the next run changes the same rows again and writes their
notices then. A range run twice changes nothing the second time and so writes and queues
nothing twice. Whatever else changes a milestone's dates must set it back to ``upcoming`` and
level 0 (``scheduling.reschedule_case`` and ``actions.move_milestone`` do), so that the sweep
decides, and notices, its state again; nothing but the sweep makes a milestone due or overdue
or raises its level.

Only milestones with a completion path are escalated (``ownership.has_completion_path``): one
whose owners cannot close it (the case is closed, or not shared with the origin office) stays
overdue at its level, and is escalated by the first run after it has one again. Reminders and
escalations go to whoever the case and the office name at the time of the run: after a
reassignment, the new owner and their supervisor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from sqlalchemy.dialects import postgresql

from partners.models import Partner, Referral
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.cases.sms import queue_milestone_sms
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import (
    MessageKey,
    OutgoingMessage,
    app_paths,
    message_key,
    public_urls,
    queue_messages,
    recipient_languages,
)
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.sql import insert_ignore, random_reads_costed_as_cached, without_jit
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import milestone_name
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneNotice,
    MilestoneStatus,
    NoticeKind,
    Responsible,
    SweptRange,
)
from reintegration_hub.followups.ownership import has_completion_path
from reintegration_hub.plans.models import Plan, PlanLine

#: milestone ids a statement at most (SQLite binds each one)
_IDS_PER_SELECT = 5000
#: new notices whose e-mails are built and queued at a time
_NOTICES_PER_CHUNK = 5000


@dataclass
class SweepCounts:
    closed_windows: int = 0
    cancelled: int = 0  # the other open milestones of plans whose window ended
    overdue: int = 0
    due: int = 0
    escalated: int = 0
    reminders: int = 0
    escalations: int = 0
    messages: int = 0  # outbox rows queued: e-mails, and text messages to returnees

    def __add__(self, other: SweepCounts) -> SweepCounts:
        return SweepCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def plan_id_ranges(batch_size: int | Callable[[int], int]) -> list[tuple[int, int]]:
    """Contiguous plan-id ranges of ``batch_size`` ids covering every plan (the last one may
    be shorter); a callable is given the number of ids from the lowest to the highest and
    returns the size."""
    low, high = db.session.execute(sa.select(sa.func.min(Plan.id), sa.func.max(Plan.id))).one()
    if low is None:
        return []
    if callable(batch_size):
        batch_size = max(batch_size(high - low + 1), 1)
    return [
        (start, min(start + batch_size - 1, high)) for start in range(low, high + 1, batch_size)
    ]


def _update(where: sa.ColumnElement[bool], **values: Any) -> int:
    result = db.session.execute(
        sa.update(Milestone)
        .where(where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _returning(
    where: sa.ColumnElement[bool],
    in_range: sa.ColumnElement[bool],
    changed: sa.orm.InstrumentedAttribute[Any],
    **values: Any,
) -> list[tuple[int, bool, Any]]:
    """Update the milestones of the range matching ``where``, and return each changed one's
    id, whether it has a supervisor escalation date, and the ``changed`` column's new value."""
    return [
        (milestone_id, has_supervisor, new)
        for milestone_id, has_supervisor, new in db.session.execute(
            sa.update(Milestone)
            .where(in_range, where)
            .values(**values)
            .returning(Milestone.id, Milestone.supervisor_on.is_not(None), changed)
            .execution_options(synchronize_session=False)
        )
    ]


def sweep_range(as_of: dt.date, first_plan_id: int, last_plan_id: int) -> SweepCounts:
    """Sweep the milestones of plans ``first_plan_id..last_plan_id`` as of ``as_of``. The
    caller commits (one transaction per range)."""
    in_range = Milestone.plan_id.between(first_plan_id, last_plan_id)
    now = now_utc()
    without_jit()
    random_reads_costed_as_cached()
    cancelled, closed_windows = _close_ended_windows(in_range, as_of, now)
    changes = _advance(in_range, as_of)
    new_notices = _write_notices(changes.wanted_notices(), as_of, now)
    reminders = sum(1 for *_, level in new_notices if level == 0)
    return SweepCounts(
        closed_windows=closed_windows,
        cancelled=cancelled,
        overdue=len(changes.made_overdue),
        due=len(changes.made_due),
        escalated=len(changes.to_home_office) + len(changes.to_supervisor),
        reminders=reminders,
        escalations=len(new_notices) - reminders,
        # in chunks, so that a range's memory does not grow with what it has to catch up on
        messages=sum(
            _queue_messages(new_notices[at : at + _NOTICES_PER_CHUNK])
            + queue_milestone_sms(
                [(n, m) for n, m, level in new_notices[at : at + _NOTICES_PER_CHUNK] if level == 0]
            )
            for at in range(0, len(new_notices), _NOTICES_PER_CHUNK)
        ),
    )


def sweep_claimed_range(
    sweep_id: str, as_of: dt.date, first_plan_id: int, last_plan_id: int, *, flow_run_id: str = ""
) -> SweepCounts | None:
    """``sweep_range``, once per sweep run (``sweep_id``): the range's ``SweptRange`` row is
    written first, in the same transaction, so a second sweeper of the same range in the same
    run waits for the first one's transaction and then finds the row (``None``: done before,
    nothing changed), or, when the first one was rolled back or killed, sweeps it itself. The
    caller commits."""
    claimed = insert_ignore(
        SweptRange.__table__,
        [
            {
                "sweep_id": sweep_id,
                "first_plan_id": first_plan_id,
                "last_plan_id": last_plan_id,
                "as_of": as_of,
                "flow_run_id": flow_run_id,
                "done_at": now_utc(),
                "counts": {},
            }
        ],
        ["sweep_id", "first_plan_id"],
        returning=[SweptRange.__table__.c.sweep_id],
    )
    if not claimed:
        return None
    counts = sweep_range(as_of, first_plan_id, last_plan_id)
    db.session.execute(
        sa.update(SweptRange)
        .where(SweptRange.sweep_id == sweep_id, SweptRange.first_plan_id == first_plan_id)
        .values(counts=counts.as_dict(), done_at=now_utc())
        .execution_options(synchronize_session=False)
    )
    return counts


def swept_ranges(sweep_id: str) -> list[SweptRange]:
    """The ranges a sweep run finished (committed), by first plan id."""
    return list(
        db.session.scalars(
            sa.select(SweptRange)
            .where(SweptRange.sweep_id == sweep_id)
            .order_by(SweptRange.first_plan_id)
        )
    )


def forget_swept_ranges(before: dt.datetime) -> int:
    """Delete the records of ranges finished before ``before`` (runs long over)."""
    result = db.session.execute(sa.delete(SweptRange).where(SweptRange.done_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _close_ended_windows(
    in_range: sa.ColumnElement[bool], as_of: dt.date, now: dt.datetime
) -> tuple[int, int]:
    """The windows that ended close, then the other open milestones of their plans are
    cancelled (found by plan id: one pass over the range, not two); how many of each."""
    is_open = Milestone.status.in_(OPEN_STATUSES)
    closed = list(
        db.session.scalars(
            sa.update(Milestone)
            .where(
                in_range,
                is_open,
                Milestone.kind == MilestoneKind.WINDOW_CLOSES,
                Milestone.due_on <= as_of,
            )
            .values(status=MilestoneStatus.DONE, completed_at=now)
            .returning(Milestone.plan_id)
            .execution_options(synchronize_session=False)
        )
    )
    cancelled = 0
    for start in range(0, len(closed), _IDS_PER_SELECT):
        cancelled += _update(
            sa.and_(
                Milestone.plan_id.in_(closed[start : start + _IDS_PER_SELECT]),
                is_open,
                Milestone.kind != MilestoneKind.WINDOW_CLOSES,
            ),
            status=MilestoneStatus.CANCELLED,
        )
    return cancelled, len(closed)


@dataclass(frozen=True)
class _Changes:
    """The milestones one run changed, each with whether it has a supervisor escalation date."""

    made_overdue: list[tuple[int, bool]]
    made_due: list[tuple[int, bool]]
    to_home_office: list[tuple[int, bool]]
    to_supervisor: list[tuple[int, bool]]

    def wanted_notices(self) -> list[tuple[int, int]]:
        """(milestone id, level): a reminder for each milestone made due or overdue; the
        supervisor's escalation for each one escalated that has a supervisor date (also when
        it went straight to the home office); the home office's for each one raised to 2."""
        return sorted(
            {(milestone_id, 0) for milestone_id, _ in self.made_overdue + self.made_due}
            | {
                (milestone_id, 1)
                for milestone_id, supervised in self.to_home_office + self.to_supervisor
                if supervised
            }
            | {(milestone_id, 2) for milestone_id, _ in self.to_home_office}
        )


def _advance(in_range: sa.ColumnElement[bool], as_of: dt.date) -> _Changes:
    """Make milestones overdue and due, and raise the escalation levels, from their dates: two
    statements, each returning what it changed."""
    status = _returning(
        sa.or_(
            sa.and_(
                Milestone.status.in_([MilestoneStatus.UPCOMING, MilestoneStatus.DUE]),
                Milestone.due_on < as_of,
            ),
            sa.and_(Milestone.status == MilestoneStatus.UPCOMING, Milestone.remind_on <= as_of),
        ),
        in_range,
        Milestone.status,
        status=sa.case(
            (Milestone.due_on < as_of, MilestoneStatus.OVERDUE), else_=MilestoneStatus.DUE
        ),
    )
    # escalated only when an owner could have closed it (after the statuses above)
    level = _returning(
        sa.and_(
            Milestone.status == MilestoneStatus.OVERDUE,
            sa.or_(
                sa.and_(Milestone.escalation_level < 2, Milestone.home_office_on <= as_of),
                sa.and_(Milestone.escalation_level < 1, Milestone.supervisor_on <= as_of),
            ),
            has_completion_path(),
        ),
        in_range,
        Milestone.escalation_level,
        escalation_level=sa.case((Milestone.home_office_on <= as_of, 2), else_=1),
    )
    return _Changes(
        made_overdue=[(i, s) for i, s, new in status if new == MilestoneStatus.OVERDUE],
        made_due=[(i, s) for i, s, new in status if new == MilestoneStatus.DUE],
        to_home_office=[(i, s) for i, s, new in level if new == 2],
        to_supervisor=[(i, s) for i, s, new in level if new == 1],
    )


#: a notice written by this run: (its id, the milestone's id, the level)
_Notice = tuple[int, int, int]


def _write_notices(
    wanted: list[tuple[int, int]], on_date: dt.date, now: dt.datetime
) -> list[_Notice]:
    """Insert the notices that do not exist yet, and return those inserted (a milestone
    rescheduled after a notice was written has it already)."""
    table = MilestoneNotice.__table__
    inserted = insert_ignore(
        table,
        [
            {
                "milestone_id": milestone_id,
                "kind": NoticeKind.REMINDER if level == 0 else NoticeKind.ESCALATION,
                "level": level,
                "on_date": on_date,
                "created_at": now,
            }
            for milestone_id, level in wanted
        ],
        ["milestone_id", "kind", "level"],
        returning=[table.c.id, table.c.milestone_id, table.c.level],
    )
    return sorted(
        ((notice_id, milestone_id, level) for notice_id, milestone_id, level in inserted),
        key=lambda notice: notice[1:],
    )


def notice_message_key(milestone_id: int, level: int, address: str) -> MessageKey:
    """Unique per notice and recipient (the address hashed: keys stay short). A reminder is of
    kind ``milestone``, an escalation of kind ``milestone:escalation``, which is e-mailed
    whatever its recipient chose (``core.inbox.ALWAYS_EMAILED``)."""
    if level == 0:
        return message_key("milestone:{}:{}:{}", milestone_id, level, _digest(address))
    return message_key("milestone:{}:{}:{}:escalation", milestone_id, level, _digest(address))


#: the fields the message template shows, rendered as markers once per level, language and run
_FIELDS = ("milestone", "number", "date", "url")
_MARKERS = re.compile("\x00(" + "|".join(_FIELDS) + ")\x00")


def _marker(name: str) -> str:
    return f"\x00{name}\x00"


class _MarkedDay:
    def isoformat(self) -> str:
        return _marker("date")


#: (level, recording a delivery, language): one body with markers for each
_TextKey = tuple[int, bool, str]


def _texts(wanted: set[_TextKey]) -> dict[_TextKey, str]:
    """The message body for each level, link and language with markers for the row's values:
    the template and its translations are rendered once, each message is a substitution."""
    template = current_app.jinja_env.get_template("emails/milestone_notice.txt")
    row = SimpleNamespace(
        name=_marker("milestone"), case_number=_marker("number"), due_on=_MarkedDay()
    )
    texts = {}
    for level, delivery, language in wanted:
        with force_locale(language):
            texts[level, delivery, language] = template.render(
                row=row, level=level, delivery=delivery, url=_marker("url")
            )
    return texts


def _fill(text: str, values: dict[str, str]) -> str:
    return _MARKERS.sub(lambda found: values[found.group(1)], text)


@dataclass(frozen=True)
class _Addressed:
    """A new notice with its milestone's row, whom it goes to and the line whose delivery it
    asks to record (``None``: the e-mail links to the plan)."""

    notice_id: int
    level: int
    row: Any
    line_id: int | None
    recipients: list[tuple[str, int | None]]  # address, and the account when it is one


def _queue_messages(new_notices: list[_Notice]) -> int:
    """One outbox row per new notice and recipient, in the recipient's language."""
    if not new_notices:
        return 0
    row_of = _milestone_rows(sorted({milestone_id for _, milestone_id, _ in new_notices}))
    home_office = _home_office_addresses()
    # a milestone may get several notices in one run (a reminder and escalations): each of
    # them queues its own e-mails
    addressed = [
        notice
        for notice_id, milestone_id, level in new_notices
        if (notice := _address(notice_id, level, row_of[milestone_id], home_office)).recipients
    ]
    language_of = recipient_languages({a for n in addressed for a, _ in n.recipients})
    texts = _texts(
        {
            (n.level, n.line_id is not None, language_of[address])
            for n in addressed
            for address, _ in n.recipients
        }
    )
    return queue_messages(_messages(addressed, language_of, texts))


def _milestone_rows(ids: list[int]) -> dict[int, Any]:
    """What the e-mails of each milestone show, and whom they may go to, by milestone id."""
    manager, counsellor, supervisor = (sa.orm.aliased(User) for _ in range(3))
    columns = sa.select(
        Milestone.id,
        Milestone.name,
        Milestone.due_on,
        Milestone.responsible,
        Milestone.kind,
        Milestone.plan_line_id,
        Returnee.id.label("case_id"),
        Returnee.case_number,
        manager.email.label("manager_email"),
        manager.id.label("manager_id"),
        counsellor.email.label("counsellor_email"),
        counsellor.id.label("counsellor_id"),
        supervisor.email.label("supervisor_email"),
        supervisor.id.label("supervisor_id"),
        Partner.focal_point_email.label("partner_email"),
    )
    joined = (
        columns.join(Returnee, Returnee.id == Milestone.returnee_id)
        .outerjoin(manager, sa.and_(manager.id == Returnee.case_manager_id, manager.is_active))
        .join(counsellor, counsellor.id == Returnee.counsellor_id)
        .join(Office, Office.id == Milestone.office_id)
        .outerjoin(
            supervisor,
            sa.and_(
                supervisor.id == Office.supervisor_id,
                supervisor.is_active,
                supervisor.office_id == Office.id,  # still works there (ownership module)
            ),
        )
        .outerjoin(PlanLine, PlanLine.id == Milestone.plan_line_id)
        .outerjoin(Referral, Referral.id == PlanLine.referral_id)
        .outerjoin(Partner, Partner.id == Referral.partner_id)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # one array parameter: psycopg parses a statement of thousands of parameters in Python
        listed = sa.cast(sa.bindparam("ids", ids), postgresql.ARRAY(sa.Integer))
        return {
            row.id: row for row in db.session.execute(joined.where(Milestone.id == listed.any_()))
        }
    row_of: dict[int, Any] = {}
    for start in range(0, len(ids), _IDS_PER_SELECT):
        chunk = ids[start : start + _IDS_PER_SELECT]
        row_of.update(
            (row.id, row) for row in db.session.execute(joined.where(Milestone.id.in_(chunk)))
        )
    return row_of


def _home_office_addresses() -> list[tuple[str, int | None]]:
    """Whom a level-2 escalation goes to: the home office's active programme managers."""
    return list(
        db.session.execute(
            sa.select(User.email, User.id)
            .join(Office, Office.id == User.office_id)
            # a host office's programme manager runs one national programme, not the home office
            .where(
                User.role == Role.PROGRAMME_MANAGER,
                User.is_active,
                Office.kind == OfficeKind.HOME,
            )
        ).tuples()
    )


def _address(
    notice_id: int, level: int, row: Any, home_office: list[tuple[str, int | None]]
) -> _Addressed:
    """Whom a notice goes to: a reminder to whoever is responsible, the first escalation to
    the office's supervisor, the second to the home office."""
    manager = (row.manager_email, row.manager_id)
    recipients: list[tuple[str, int | None]]
    if level == 0:
        # a partner's focal point has an in-app notice if an account has the address
        responsible = {
            Responsible.CASE_MANAGER: manager,
            Responsible.COUNSELLOR: (row.counsellor_email, row.counsellor_id),
            Responsible.PARTNER: (row.partner_email, None) if row.partner_email else manager,
        }[row.responsible]
        recipients = [responsible] if responsible[0] else []
    elif level == 1:
        recipients = [(row.supervisor_email, row.supervisor_id)] if row.supervisor_email else []
    else:
        recipients = home_office
    # whoever is reminded of a delivery gets the line's delivery form, overseers the plan
    line_id = row.plan_line_id if level == 0 and row.kind == MilestoneKind.LINE_DELIVERED else None
    return _Addressed(notice_id, level, row, line_id, recipients)


def _messages(
    addressed: list[_Addressed], language_of: dict[str, str], texts: dict[_TextKey, str]
) -> Iterator[OutgoingMessage]:
    """The e-mail of each notice to each of its recipients, filled in from the texts."""
    links, paths = public_urls(), app_paths()
    names: dict[tuple[str, str], str] = {}

    def name_in(name: str, language: str) -> str:
        """The milestone's name in ``language`` (a default step's is translated)."""
        if (name, language) not in names:
            with force_locale(language):
                names[name, language] = milestone_name(name)
        return names[name, language]

    for notice in addressed:
        row = notice.row
        due = row.due_on.isoformat()
        if notice.line_id is None:
            endpoint, values = "plans.plan", {"case_id": row.case_id}
        else:
            endpoint, values = "deliveries.record", {"line_id": notice.line_id}
        url = links.build(endpoint, values, force_external=True)
        app_link = paths.build(endpoint, values)
        for address, user_id in notice.recipients:
            language = language_of[address]
            name = name_in(row.name, language)
            shown = {"milestone": name, "number": row.case_number, "date": due, "url": url}
            yield OutgoingMessage(
                notice_message_key(row.id, notice.level, address),
                address,
                f"{row.case_number}: {name} ({due})",
                _fill(texts[notice.level, notice.line_id is not None, language], shown),
                language,
                notice_id=notice.notice_id,
                user_id=user_id,
                app_link=app_link,
            )


def _digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def sweep(as_of: dt.date, *, batch_size: int = 5000) -> SweepCounts:
    """Every range in turn, committing each (the CLI's and a single process's way)."""
    total = SweepCounts()
    for first, last in plan_id_ranges(batch_size):
        total = total + sweep_range(as_of, first, last)
        db.session.commit()
    return total
