"""Every milestone has an action: done, not applicable, moved, or reopened after a mistake; and
the arrival, which the origin case manager (or the counsellor) records.

Who may act is ``ownership.may_act``: the milestone's owners, their office's supervisor,
administrators; out of scope answers NotFound, a role that may not act PermissionDenied.

- **Done** (a date and a note) closes a milestone nothing else records: the first contact, or a
  step an administrator added. An arrival milestone is done by recording the arrival (its date
  is the arrival date, the same rule as ``record_arrival``); a visit, a survey or a delivery is
  done by recording it (the record is the evidence: ``Conflict`` names what to record).
- **Not applicable** (a reason from ``NotApplicableReason``, a note; the note is required for
  ``other``) closes it as ``cancelled`` with its reason: not counted as done, nor as late.
- **Moved** (a new due date from today to the end of the window, and why) shifts its reminder
  and escalation dates by as much and sets it back to ``upcoming`` at level 0, so the sweep
  decides its state again (``sweep`` module docstring).
- **Reopened** (why) undoes a done or not applicable set here by mistake, while the window is
  open: the milestone is ``upcoming`` again and the sweep decides.

Each action writes a ``MilestoneAction`` row (the milestone's history) and an audit row.
The window's own milestone has no action: it closes by itself.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    ActionKind,
    Milestone,
    MilestoneAction,
    MilestoneKind,
    MilestoneStatus,
    NotApplicableReason,
)
from reintegration_hub.followups.ownership import may_act
from reintegration_hub.followups.scheduling import close_milestone, return_date
from reintegration_hub.followups.windows import window_end
from reintegration_hub.plans.models import Plan

#: Notes and reasons are at most this long.
MAX_NOTE = 1000
#: Who may record an arrival: the origin office, the host office, administrators.
ARRIVAL_ROLES = frozenset({Role.CASE_MANAGER, Role.COUNSELLOR, Role.ADMIN})

#: Milestones closed by a record of their own, and what to record instead of "done".
RECORD_INSTEAD: dict[MilestoneKind, Any] = {
    MilestoneKind.MONITORING_VISIT: _l("Record the monitoring visit: it closes this milestone."),
    MilestoneKind.SUSTAINABILITY_SURVEY: _l("Record the survey: it closes this milestone."),
    MilestoneKind.LINE_DELIVERED: _l("Record the delivery: it closes this milestone."),
}


def clean_text(
    value: str, field: str, *, required: bool = False, max_length: int = MAX_NOTE
) -> str:
    """``value`` stripped; InvalidInput on ``field`` when it is missing but required, too long,
    or holds a NUL or a lone surrogate (which no database column can store)."""
    text = (value or "").strip()
    message = None
    if any(ch == "\x00" or unicodedata.category(ch) == "Cs" for ch in text):
        message = _l("The text holds characters that cannot be stored.")
    elif len(text) > max_length:
        message = _l("At most %(num)d characters.", num=max_length)
    elif required and not text:
        message = _l("This field is required.")
    if message is not None:
        raise InvalidInput(message, field_errors={field: [message]})
    return text


def get_milestone(milestone_id: int, *, actor: Actor) -> Milestone:
    """A milestone in ``actor``'s scope, with its case; NotFound otherwise."""
    milestone: Milestone = get_scoped(Milestone, milestone_id, actor)
    return milestone


def milestone_history(milestone_id: int) -> Sequence[MilestoneAction]:
    """What was done to the milestone by hand, oldest first (the caller checked the scope)."""
    return db.session.scalars(
        sa.select(MilestoneAction)
        .where(MilestoneAction.milestone_id == milestone_id)
        .options(joinedload(MilestoneAction.actor))
        .order_by(MilestoneAction.id)
    ).all()


def available_actions(milestone: Milestone, actor: Actor) -> frozenset[str]:
    """What ``actor`` may do to ``milestone`` now: ``done``, ``record`` (its own record closes
    it), ``not_applicable``, ``move``, ``reopen``; empty when they may not act on it."""
    if milestone.kind == MilestoneKind.WINDOW_CLOSES or not may_act(milestone, actor):
        return frozenset()
    if milestone.returnee.status == CaseStatus.CLOSED:
        return frozenset()
    if milestone.is_open:
        closing = "record" if milestone.kind in RECORD_INSTEAD else "done"
        return frozenset({closing, "not_applicable", "move"})
    if _reopenable(milestone):
        return frozenset({"reopen"})
    return frozenset()


def _acting_on(milestone_id: int, actor: Actor, *, open_only: bool = True) -> Milestone:
    milestone = get_milestone(milestone_id, actor=actor)
    if not may_act(milestone, actor):
        raise PermissionDenied(_l("Your role cannot do this."))
    if milestone.kind == MilestoneKind.WINDOW_CLOSES:
        raise Conflict(_l("The window closes by itself when it is due."))
    if milestone.returnee.status == CaseStatus.CLOSED:
        raise Conflict(_l("The case is closed: its milestones no longer change."))
    if open_only and not milestone.is_open:
        raise Conflict(_l("This milestone is closed already."))
    return milestone


def _record(
    milestone: Milestone,
    action: ActionKind,
    *,
    actor: Actor,
    changes: dict[str, Any],
    on_date: dt.date | None = None,
    previous_due_on: dt.date | None = None,
    reason: NotApplicableReason | None = None,
    note: str = "",
) -> MilestoneAction:
    row = MilestoneAction(
        milestone_id=milestone.id,
        action=action,
        on_date=on_date,
        previous_due_on=previous_due_on,
        reason=reason,
        note=note,
        actor_id=actor.id,
        actor_label=actor.audit_label,
        at=now_utc(),
    )
    db.session.add(row)
    record_audit(
        f"milestone.{action.value}",
        milestone,
        actor=actor,
        office_id=milestone.office_id,
        changes={"returnee_id": [None, milestone.returnee_id], **changes},
    )
    return row


def _earliest_day(milestone: Milestone) -> dt.date:
    """Nothing about a milestone happens before the return it counts from."""
    plan = db.session.get(Plan, milestone.plan_id)
    assert plan is not None
    return return_date(milestone.returnee, plan)


def _check_day(day: dt.date, field: str, earliest: dt.date) -> None:
    message = None
    if day > now_utc().date():
        message = _l("The date cannot be in the future.")
    elif day < earliest:
        message = _l(
            "The date cannot be before the return (%(date)s).",
            date=format_date(earliest, "medium"),
        )
    if message is not None:
        raise InvalidInput(message, field_errors={field: [message]})


def mark_done(milestone_id: int, *, done_on: dt.date, note: str = "", actor: Actor) -> Milestone:
    """Close the milestone as done on ``done_on`` (see the module docstring)."""
    milestone = _acting_on(milestone_id, actor)
    note = clean_text(note, "note")
    if milestone.kind == MilestoneKind.ARRIVAL_CONFIRMED:
        record_arrival(milestone.returnee_id, arrived_on=done_on, note=note, actor=actor)
        return milestone
    if milestone.kind in RECORD_INSTEAD:
        raise Conflict(RECORD_INSTEAD[milestone.kind])
    _check_day(done_on, "done_on", _earliest_day(milestone))
    close_milestone(milestone, completed_on=done_on, note=note, actor=actor)
    _record(
        milestone,
        ActionKind.DONE,
        actor=actor,
        on_date=done_on,
        note=note,
        changes={
            "status": [None, MilestoneStatus.DONE.value],
            "completed_on": [None, str(done_on)],
        },
    )
    return milestone


def mark_not_applicable(
    milestone_id: int, *, reason: NotApplicableReason, note: str = "", actor: Actor
) -> Milestone:
    """Close the milestone as not applicable, for ``reason`` (``other`` needs a note)."""
    milestone = _acting_on(milestone_id, actor)
    note = clean_text(note, "note", required=reason == NotApplicableReason.OTHER)
    before = milestone.status.value
    milestone.status, milestone.not_applicable_reason = MilestoneStatus.CANCELLED, reason
    milestone.completed_at, milestone.completed_on = now_utc(), None
    milestone.completed_by_id, milestone.note = actor.id, note
    _record(
        milestone,
        ActionKind.NOT_APPLICABLE,
        actor=actor,
        reason=reason,
        note=note,
        changes={
            "status": [before, MilestoneStatus.CANCELLED.value],
            "not_applicable_reason": [None, reason.value],
        },
    )
    return milestone


def move_milestone(milestone_id: int, *, due_on: dt.date, reason: str, actor: Actor) -> Milestone:
    """Give the milestone a new due date (today at the earliest, the window's end at the
    latest); its reminder and escalation dates move by as much."""
    milestone = _acting_on(milestone_id, actor)
    reason = clean_text(reason, "reason", required=True)
    today, end = now_utc().date(), window_end(milestone.returnee_id)
    message = None
    if due_on == milestone.due_on:
        message = _l("The milestone is due on that day already.")
    elif due_on < today:
        message = _l("Give today or a later day.")
    elif end is not None and due_on > end:
        message = _l(
            "The reintegration window closes on %(date)s: give that day or an earlier one.",
            date=format_date(end, "medium"),
        )
    if message is not None:
        raise InvalidInput(message, field_errors={"due_on": [message]})
    shift = due_on - milestone.due_on
    previous = milestone.due_on
    milestone.due_on, milestone.remind_on = due_on, milestone.remind_on + shift
    if milestone.supervisor_on is not None:
        milestone.supervisor_on += shift
    if milestone.home_office_on is not None:
        milestone.home_office_on += shift
    if milestone.offset_days is not None:  # a later change of the return date keeps the move
        milestone.offset_days += shift.days
    level = milestone.escalation_level
    milestone.status, milestone.escalation_level = MilestoneStatus.UPCOMING, 0
    _record(
        milestone,
        ActionKind.MOVED,
        actor=actor,
        on_date=due_on,
        previous_due_on=previous,
        note=reason,
        changes={"due_on": [str(previous), str(due_on)], "escalation_level": [level, 0]},
    )
    return milestone


def _reopenable(milestone: Milestone) -> bool:
    """Closed by an action here (not by a record nor by the sweep), the window still open."""
    if milestone.is_open or milestone.kind == MilestoneKind.ARRIVAL_CONFIRMED:
        return False
    last = db.session.scalar(
        sa.select(MilestoneAction.action)
        .where(MilestoneAction.milestone_id == milestone.id)
        .order_by(MilestoneAction.id.desc())
        .limit(1)
    )
    if last not in {ActionKind.DONE, ActionKind.NOT_APPLICABLE}:
        return False
    window = db.session.scalar(
        sa.select(Milestone.status).where(
            Milestone.plan_id == milestone.plan_id,
            Milestone.kind == MilestoneKind.WINDOW_CLOSES,
        )
    )
    return window is None or window in OPEN_STATUSES


def reopen_milestone(milestone_id: int, *, reason: str, actor: Actor) -> Milestone:
    """Undo a done or not applicable recorded here by mistake (Conflict otherwise)."""
    milestone = _acting_on(milestone_id, actor, open_only=False)
    reason = clean_text(reason, "reason", required=True)
    if not _reopenable(milestone):
        raise Conflict(
            _l("Only a milestone marked done or not applicable by hand, in its window, reopens.")
        )
    before = milestone.status.value
    milestone.status, milestone.escalation_level = MilestoneStatus.UPCOMING, 0
    milestone.completed_at = milestone.completed_on = milestone.completed_by_id = None
    milestone.not_applicable_reason, milestone.note = None, ""
    _record(
        milestone,
        ActionKind.REOPENED,
        actor=actor,
        note=reason,
        changes={"status": [before, MilestoneStatus.UPCOMING.value]},
    )
    return milestone


# --- the arrival -----------------------------------------------------------------------------


def record_arrival(case_id: int, *, arrived_on: dt.date, note: str = "", actor: Actor) -> Returnee:
    """Record (or correct) the day the returnee arrived; the arrival milestone is done on it.
    Case managers of the origin office, counsellors of the host office, administrators."""
    if actor.role not in ARRIVAL_ROLES:
        raise PermissionDenied(_l("Your role cannot do this."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    note = clean_text(note, "note")
    if case.status == CaseStatus.CLOSED:
        raise Conflict(_l("The case is closed: its milestones no longer change."))
    message = None
    if arrived_on > now_utc().date():
        message = _l("The date cannot be in the future.")
    elif case.departed_on is not None and arrived_on < case.departed_on:
        message = _l("Arrival cannot be before departure.")
    if message is not None:
        raise InvalidInput(message, field_errors={"arrived_on": [message]})
    if case.arrived_on != arrived_on:
        changes = {
            "arrived_on": [str(case.arrived_on) if case.arrived_on else None, str(arrived_on)]
        }
        case.arrived_on = arrived_on
        record_audit("case.arrival", case, actor=actor, changes=changes | {"note": [None, note]})
    arrival_recorded(case, actor=actor, note=note)
    return case


def arrival_recorded(case: Returnee, *, actor: Actor, note: str = "") -> int:
    """After ``case.arrived_on`` was set (here or on the case's form): its open arrival
    milestones are done on that day, and a done one takes a corrected day. How many closed."""
    if case.arrived_on is None:
        return 0
    milestones = db.session.scalars(
        sa.select(Milestone).where(
            Milestone.returnee_id == case.id,
            Milestone.kind == MilestoneKind.ARRIVAL_CONFIRMED,
            Milestone.status.in_([*OPEN_STATUSES, MilestoneStatus.DONE]),
        )
    ).all()
    closed = 0
    for milestone in milestones:
        if milestone.is_open:
            close_milestone(milestone, completed_on=case.arrived_on, note=note, actor=actor)
            closed += 1
        else:
            milestone.completed_on = case.arrived_on
    return closed


def case_milestones(case_id: int, *, actor: Actor) -> Sequence[Milestone]:
    """The milestones of a case in ``actor``'s scope, by due date; NotFound out of scope."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return db.session.scalars(
        scoped(sa.select(Milestone).where(Milestone.returnee_id == case.id), Milestone, actor)
        .options(joinedload(Milestone.returnee))
        .order_by(Milestone.due_on, Milestone.id)
    ).all()
