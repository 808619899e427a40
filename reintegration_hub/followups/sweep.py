"""The follow-up sweep: set-based, one plan-id range per transaction, idempotent.

For an as-of date and a range of plan ids, a handful of statements: close the windows that
ended, mark milestones overdue and due, raise escalation levels (pure functions of the dates
stored with each milestone), then write the reminders and escalations that do not exist yet
(``milestone_notices`` is unique per milestone, kind and level) and queue one e-mail per new
notice in the outbox (unique key per notice). Running a range twice, or again after a crash
half way, changes nothing twice and queues nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from partners.models import Partner, Referral
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneNotice,
    MilestoneStatus,
    NoticeKind,
    Responsible,
)
from reintegration_hub.plans.models import Plan, PlanLine


@dataclass
class SweepCounts:
    closed_windows: int = 0
    overdue: int = 0
    due: int = 0
    escalated: int = 0
    reminders: int = 0
    escalations: int = 0
    messages: int = 0

    def __add__(self, other: SweepCounts) -> SweepCounts:
        return SweepCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def plan_id_ranges(batch_size: int) -> list[tuple[int, int]]:
    """Contiguous plan-id ranges of about ``batch_size`` ids covering every plan."""
    low, high = db.session.execute(sa.select(sa.func.min(Plan.id), sa.func.max(Plan.id))).one()
    if low is None:
        return []
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


def _insert_ignore(table: Any) -> Any:
    module: Any = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def sweep_range(as_of: dt.date, first_plan_id: int, last_plan_id: int) -> SweepCounts:
    """Sweep the milestones of plans ``first_plan_id..last_plan_id`` as of ``as_of``. The
    caller commits (one transaction per range)."""
    counts = SweepCounts()
    in_range = Milestone.plan_id.between(first_plan_id, last_plan_id)
    is_open = Milestone.status.in_(OPEN_STATUSES)
    now = now_utc()

    ended = (
        sa.select(Milestone.plan_id)
        .where(
            in_range,
            is_open,
            Milestone.kind == MilestoneKind.WINDOW_CLOSES,
            Milestone.due_on <= as_of,
        )
        .scalar_subquery()
    )
    # the other open milestones of plans whose window ended are cancelled, then the window closes
    _update(
        sa.and_(
            in_range,
            is_open,
            Milestone.kind != MilestoneKind.WINDOW_CLOSES,
            Milestone.plan_id.in_(ended),
        ),
        status=MilestoneStatus.CANCELLED,
    )
    counts.closed_windows = _update(
        sa.and_(
            in_range,
            is_open,
            Milestone.kind == MilestoneKind.WINDOW_CLOSES,
            Milestone.due_on <= as_of,
        ),
        status=MilestoneStatus.DONE,
        completed_at=now,
    )
    counts.overdue = _update(
        sa.and_(
            in_range,
            Milestone.status.in_([MilestoneStatus.UPCOMING, MilestoneStatus.DUE]),
            Milestone.due_on < as_of,
        ),
        status=MilestoneStatus.OVERDUE,
    )
    counts.due = _update(
        sa.and_(
            in_range, Milestone.status == MilestoneStatus.UPCOMING, Milestone.remind_on <= as_of
        ),
        status=MilestoneStatus.DUE,
    )
    overdue = sa.and_(in_range, Milestone.status == MilestoneStatus.OVERDUE)
    counts.escalated = _update(
        sa.and_(overdue, Milestone.escalation_level < 2, Milestone.home_office_on <= as_of),
        escalation_level=2,
    ) + _update(
        sa.and_(overdue, Milestone.escalation_level < 1, Milestone.supervisor_on <= as_of),
        escalation_level=1,
    )

    new_notices: list[tuple[int, int, int]] = []  # (notice id, milestone id, level)
    notices: list[tuple[NoticeKind, int, sa.ColumnElement[bool]]] = [
        (
            NoticeKind.REMINDER,
            0,
            Milestone.status.in_([MilestoneStatus.DUE, MilestoneStatus.OVERDUE]),
        ),
        (
            NoticeKind.ESCALATION,
            1,
            sa.and_(Milestone.escalation_level >= 1, Milestone.supervisor_on.is_not(None)),
        ),
        (NoticeKind.ESCALATION, 2, Milestone.escalation_level >= 2),
    ]
    for kind, level, condition in notices:
        select = sa.select(
            Milestone.id,
            sa.literal(kind.value),
            sa.literal(level),
            sa.literal(as_of),
            sa.literal(now),
        ).where(in_range, condition)
        inserted = db.session.execute(
            _insert_ignore(MilestoneNotice)
            .from_select(["milestone_id", "kind", "level", "on_date", "created_at"], select)
            .on_conflict_do_nothing(index_elements=["milestone_id", "kind", "level"])
            .returning(MilestoneNotice.id, MilestoneNotice.milestone_id)
        ).all()
        new_notices += [(notice_id, milestone_id, level) for notice_id, milestone_id in inserted]
        if kind == NoticeKind.REMINDER:
            counts.reminders = len(inserted)
        else:
            counts.escalations += len(inserted)
    counts.messages = _queue_messages(new_notices)
    return counts


def _queue_messages(new_notices: list[tuple[int, int, int]]) -> int:
    """One outbox row per new notice and recipient, rendered from one compiled template."""
    if not new_notices:
        return 0
    manager, counsellor, supervisor = (sa.orm.aliased(User) for _ in range(3))
    rows = db.session.execute(
        sa.select(
            Milestone.id,
            Milestone.name,
            Milestone.due_on,
            Milestone.responsible,
            Returnee.id.label("case_id"),
            Returnee.case_number,
            manager.email.label("manager_email"),
            counsellor.email.label("counsellor_email"),
            supervisor.email.label("supervisor_email"),
            Partner.focal_point_email.label("partner_email"),
        )
        .join(Returnee, Returnee.id == Milestone.returnee_id)
        .outerjoin(manager, sa.and_(manager.id == Returnee.case_manager_id, manager.is_active))
        .join(counsellor, counsellor.id == Returnee.counsellor_id)
        .join(Office, Office.id == Milestone.office_id)
        .outerjoin(supervisor, sa.and_(supervisor.id == Office.supervisor_id, supervisor.is_active))
        .outerjoin(PlanLine, PlanLine.id == Milestone.plan_line_id)
        .outerjoin(Referral, Referral.id == PlanLine.referral_id)
        .outerjoin(Partner, Partner.id == Referral.partner_id)
        .where(Milestone.id.in_(sorted({milestone_id for _, milestone_id, _ in new_notices})))
    ).all()
    # a milestone may get several notices in one run (a reminder and escalations): each of
    # them queues its own e-mails
    row_of = {row.id: row for row in rows}
    home_office = list(
        db.session.scalars(
            sa.select(User.email).where(User.role == Role.PROGRAMME_MANAGER, User.is_active)
        )
    )
    template = current_app.jinja_env.get_template("emails/milestone_notice.txt")
    base_url = current_app.config["PUBLIC_BASE_URL"]
    now = now_utc()
    values: list[dict[str, Any]] = []
    for _notice, milestone_id, level in new_notices:
        row = row_of[milestone_id]
        if level == 0:
            responsible = {
                Responsible.CASE_MANAGER: row.manager_email,
                Responsible.COUNSELLOR: row.counsellor_email,
                Responsible.PARTNER: row.partner_email or row.manager_email,
            }[row.responsible]
            recipients = [responsible] if responsible else []
        elif level == 1:
            recipients = [row.supervisor_email] if row.supervisor_email else []
        else:
            recipients = home_office
        body = template.render(
            row=row, level=level, plan_url=f"{base_url}/cases/{row.case_id}/plan"
        )
        subject = f"{row.case_number}: {row.name} ({row.due_on.isoformat()})"
        for address in recipients:
            values.append(
                {
                    # unique per notice and recipient (the address hashed: keys stay short)
                    "key": f"milestone:{row.id}:{level}:{_digest(address)}",
                    "to_address": address,
                    "subject": subject[:300],
                    "body_text": body,
                    "status": OutboxStatus.QUEUED,
                    "attempts": 0,
                    "last_error": "",
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
    if not values:
        return 0
    db.session.execute(
        _insert_ignore(OutboxMessage).on_conflict_do_nothing(index_elements=["key"]), values
    )
    return len(values)


def _digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def sweep(as_of: dt.date, *, batch_size: int = 5000) -> SweepCounts:
    """Every range in turn, committing each (the CLI's and a single process's way)."""
    total = SweepCounts()
    for first, last in plan_id_ranges(batch_size):
        total = total + sweep_range(as_of, first, last)
        db.session.commit()
    return total
