"""Scheduling a plan's milestones: on approval, again when the return date moves, and closing them.

The programme's template is applied to a plan in the transaction that approves it. Dates count
from the return date (the departure date recorded on the case, else the day of approval); a
step may count from another step instead. Delivery steps are one per plan line, due when the
option's lead time and duration have passed, at the latest at the step's own offset; a line
whose option is paid monthly has one per instalment instead, the first due when the option's
lead time has passed (at the latest at the step's offset), the others a month apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.fallback import own_else_default, owned_by
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
)
from reintegration_hub.followups.ownership import office_for
from reintegration_hub.followups.templates import default_template
from reintegration_hub.plans.models import Plan, PlanLine


def template_for(case: Returnee) -> MilestoneTemplate:
    """The grant's own template, else the default one (Conflict when none is set up)."""
    template = own_else_default(
        sa.select(MilestoneTemplate),
        (
            owned_by(MilestoneTemplate.grant_id, case.grant_id),
            MilestoneTemplate.is_default.is_(True),
        ),
    )
    return template if template is not None else default_template()


def return_date(case: Returnee, plan: Plan) -> dt.date:
    """What the milestones count from: the departure, else the day the plan was approved."""
    if case.departed_on is not None:
        return case.departed_on
    return (plan.approved_at or now_utc()).date()


class _Planned(NamedTuple):
    """One milestone to schedule: its step, plan line (delivery steps) and due date, and for a
    line paid in instalments, which one of how many."""

    step: MilestoneStep
    line: PlanLine | None
    due: dt.date
    instalment: int = 1
    instalments: int = 1

    @property
    def key(self) -> str:
        """``step``, ``step:<line id>``, then ``step:<line id>:<instalment>`` from the second."""
        if self.line is None:
            return self.step.key
        key = f"{self.step.key}:{self.line.id}"
        return key if self.instalment == 1 else f"{key}:{self.instalment}"

    @property
    def name(self) -> str:
        if self.instalments == 1:
            return self.step.name
        return f"{self.step.name[:108]} ({self.instalment}/{self.instalments})"


def _due_dates(
    template: MilestoneTemplate, anchor: dt.date, lines: Sequence[PlanLine]
) -> list[_Planned]:
    """Every milestone's step, line and due date, in the template's order (a delivery step
    gives each line its own, ``_line_deliveries``)."""
    latest = _latest_dates(template, anchor)
    planned: list[_Planned] = []
    for step in template.steps:
        due = latest[step.key]
        if step.kind != MilestoneKind.LINE_DELIVERED:
            planned.append(_Planned(step, None, due))
            continue
        start = due - dt.timedelta(days=step.offset_days)
        for line in lines:
            planned += _line_deliveries(step, line, start, due)
    return planned


def _latest_dates(template: MilestoneTemplate, anchor: dt.date) -> dict[str, dt.date]:
    """Each step's due date (a delivery step's: its own latest date), by step key. A step that
    counts from another one starts at that step's date, wherever the other step stands in
    the list; chains are followed to the return date (``anchor``)."""
    steps = {step.key: step for step in template.steps}
    latest_by_key: dict[str, dt.date] = {}

    def latest(step: MilestoneStep, chain: frozenset[str] = frozenset()) -> dt.date:
        if step.key not in latest_by_key:
            before = steps.get(step.after_step or "")
            # a loop cannot be saved (add_step and update_step refuse it); count from the
            # return date rather than recurse forever should one be in the database anyway
            start = (
                latest(before, chain | {step.key})
                if before is not None and before.key not in chain | {step.key}
                else anchor
            )
            due = start + dt.timedelta(days=step.offset_days)
            if step.kind == MilestoneKind.WINDOW_CLOSES:
                due += dt.timedelta(days=template.grace_days)
            latest_by_key[step.key] = due
        return latest_by_key[step.key]

    return {step.key: latest(step) for step in template.steps}


def _line_deliveries(
    step: MilestoneStep, line: PlanLine, start: dt.date, due: dt.date
) -> list[_Planned]:
    """The delivery milestones of one line: due when the option's lead time and duration have
    passed from ``start``, at the latest on the step's ``due``; one per instalment, a month
    apart, when the option is paid monthly (the first when the lead time has passed)."""
    option = line.option
    # a line an amendment added counts from the day it came into effect, and gets its lead
    # time even when the step's own date has passed by then
    begins = max(start, line.effective_on or start) if line.amendment_id else start
    count = option.instalments_for(line.quantity)
    if count == 1:
        ready_on = begins + dt.timedelta(days=option.lead_time_days + (option.duration_days or 0))
        return [_Planned(step, line, ready_on if due < begins else min(ready_on, due))]
    lead_on = begins + dt.timedelta(days=option.lead_time_days)
    first = lead_on if due < begins else min(lead_on, due)
    return [
        _Planned(step, line, first + relativedelta(months=number - 1), number, count)
        for number in range(1, count + 1)
    ]


def milestone_dates(step: MilestoneStep, due: dt.date) -> dict[str, dt.date | None]:
    """A milestone's dates from its step and due date: due, remind, and the two escalations."""

    def after(days: int | None) -> dt.date | None:
        return None if days is None else due + dt.timedelta(days=days)

    return {
        "due_on": due,
        "remind_on": due - dt.timedelta(days=step.reminder_days),
        "supervisor_on": after(step.supervisor_after_days),
        "home_office_on": after(step.home_office_after_days),
    }


def schedule_plan(plan: Plan, *, actor: Actor) -> list[Milestone]:
    """Create the plan's milestones from its programme's template (called on approval, in
    the approval's transaction, and when an amendment puts new lines into effect). Already
    scheduled steps are left alone; lines no longer in effect get none."""
    case = plan.returnee
    template = template_for(case)
    existing = set(
        db.session.scalars(sa.select(Milestone.step_key).where(Milestone.plan_id == plan.id))
    )
    created = []
    anchor = return_date(case, plan)
    for planned in _due_dates(template, anchor, plan.lines_in_effect):
        step, line, due = planned.step, planned.line, planned.due
        if planned.key in existing:
            continue
        milestone = Milestone(
            offset_days=(due - anchor).days,
            plan_id=plan.id,
            returnee_id=case.id,
            plan_line_id=line.id if line is not None else None,
            office_id=office_for(step.responsible, case),
            step_key=planned.key,
            kind=step.kind,
            name=planned.name,
            responsible=step.responsible,
            status=MilestoneStatus.UPCOMING,
            **milestone_dates(step, due),
        )
        if step.kind == MilestoneKind.PLAN_AGREED:  # agreeing the plan is what approval is
            milestone.status, milestone.completed_at = MilestoneStatus.DONE, now_utc()
            milestone.completed_by_id = actor.id
        db.session.add(milestone)
        created.append(milestone)
    db.session.flush()
    record_audit("plan.schedule", plan, actor=actor, changes={"milestones": [None, len(created)]})
    return created


def reschedule_case(case: Returnee, *, actor: Actor) -> int:
    """After the return date changed: the open milestones of the case's plan move with it
    (done ones keep their dates). Each keeps the offset, reminder and escalation days it was
    scheduled with, so a template edited since never moves milestones already scheduled;
    only those scheduled before offsets were kept are placed by the template. Returns how
    many moved."""
    plan = db.session.scalars(sa.select(Plan).where(Plan.returnee_id == case.id)).first()
    if plan is None or plan.approved_at is None:
        return 0
    anchor = return_date(case, plan)
    open_milestones = db.session.scalars(
        sa.select(Milestone).where(
            Milestone.plan_id == plan.id, Milestone.status.in_(OPEN_STATUSES)
        )
    ).all()
    planned: dict[str, tuple[MilestoneStep, dt.date]] = {}
    if any(milestone.offset_days is None for milestone in open_milestones):
        planned = {
            p.key: (p.step, p.due) for p in _due_dates(template_for(case), anchor, plan.lines)
        }
    moved = 0
    for milestone in open_milestones:
        if milestone.offset_days is not None:
            shift = anchor + dt.timedelta(days=milestone.offset_days) - milestone.due_on
            new_dates = {
                name: (None if value is None else value + shift)
                for name in ("due_on", "remind_on", "supervisor_on", "home_office_on")
                for value in [getattr(milestone, name)]
            }
        elif (found := planned.get(milestone.step_key)) is not None:
            new_dates = milestone_dates(*found)
        else:
            continue
        if new_dates["due_on"] == milestone.due_on:
            continue
        for name, value in new_dates.items():
            setattr(milestone, name, value)
        # the sweep decides the state again from the new dates
        milestone.status, milestone.escalation_level = MilestoneStatus.UPCOMING, 0
        moved += 1
    if moved:
        record_audit("plan.reschedule", plan, actor=actor, changes={"milestones": [None, moved]})
    return moved


def close_milestone(
    milestone: Milestone, *, completed_on: dt.date, actor: Actor, note: str = ""
) -> None:
    """Mark ``milestone`` done on ``completed_on`` (the day it happened; ``completed_at`` is
    when it was recorded)."""
    milestone.status, milestone.completed_at = MilestoneStatus.DONE, now_utc()
    milestone.completed_on = completed_on
    milestone.completed_by_id = actor.id if isinstance(actor, User) else None
    if note:
        milestone.note = note


def complete_milestones(
    case_id: int,
    kind: MilestoneKind,
    *,
    actor: Actor,
    plan_line_id: int | None = None,
    first_only: bool = False,
    completed_on: dt.date | None = None,
) -> int:
    """Close the open milestones of ``kind`` for a case (for one plan line when given), when
    what they wait for was recorded: a delivery, say, on ``completed_on`` (default: today).
    With ``first_only`` only the earliest one closes."""
    stmt = (
        sa.select(Milestone)
        .where(
            Milestone.returnee_id == case_id,
            Milestone.kind == kind,
            Milestone.status.in_(OPEN_STATUSES),
        )
        .order_by(Milestone.due_on, Milestone.id)
    )
    if plan_line_id is not None:
        stmt = stmt.where(Milestone.plan_line_id == plan_line_id)
    if first_only:
        stmt = stmt.limit(1)
    closed = 0
    for milestone in db.session.scalars(stmt):
        close_milestone(milestone, completed_on=completed_on or now_utc().date(), actor=actor)
        closed += 1
    return closed


def cancel_case_milestones(case_id: int) -> int:
    """When a case closes: its open milestones are cancelled (nobody is reminded of, nor
    escalated, work on a closed case). One statement; how many."""
    result = db.session.execute(
        sa.update(Milestone)
        .where(Milestone.returnee_id == case_id, Milestone.status.in_(OPEN_STATUSES))
        .values(status=MilestoneStatus.CANCELLED)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
