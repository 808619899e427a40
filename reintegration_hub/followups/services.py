"""Rules for milestones: scheduling on approval, rescheduling, completion.

The programme's template is applied to a plan in the transaction that approves it. Dates count
from the return date (the departure date recorded on the case, else the day of approval); a
step may count from another step instead. Delivery steps are one per plan line, due when the
option's lead time and duration have passed, at the latest at the step's own offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
    Responsible,
)
from reintegration_hub.plans.models import Plan, PlanLine


def template_for(case: Returnee) -> MilestoneTemplate:
    """The grant's own template, else the default one."""
    template = None
    if case.grant_id is not None:
        template = db.session.scalars(
            sa.select(MilestoneTemplate).where(MilestoneTemplate.grant_id == case.grant_id)
        ).first()
    template = (
        template
        or db.session.scalars(
            sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default.is_(True))
        ).first()
    )
    if template is None:
        raise Conflict(_l("No milestone template is set up: an administrator must add one."))
    return template


def return_date(case: Returnee, plan: Plan) -> dt.date:
    """What the milestones count from: the departure, else the day the plan was approved."""
    if case.departed_on is not None:
        return case.departed_on
    return (plan.approved_at or now_utc()).date()


def _office_of(responsible: Responsible, case: Returnee) -> int:
    if responsible == Responsible.COUNSELLOR or case.origin_office_id is None:
        return case.host_office_id
    return case.origin_office_id


def _due_dates(
    template: MilestoneTemplate, anchor: dt.date, lines: Sequence[PlanLine]
) -> list[tuple[MilestoneStep, PlanLine | None, dt.date]]:
    """Every milestone's step, line and due date (steps after another step follow it)."""
    due_by_key: dict[str, dt.date] = {}
    planned: list[tuple[MilestoneStep, PlanLine | None, dt.date]] = []
    for step in template.steps:
        start = due_by_key.get(step.after_step, anchor) if step.after_step else anchor
        latest = start + dt.timedelta(days=step.offset_days)
        if step.kind == MilestoneKind.WINDOW_CLOSES:
            latest += dt.timedelta(days=template.grace_days)
        if step.kind == MilestoneKind.LINE_DELIVERED:
            for line in lines:
                option = line.option
                ready = dt.timedelta(days=option.lead_time_days + (option.duration_days or 0))
                planned.append((step, line, min(start + ready, latest)))
            due_by_key[step.key] = latest
            continue
        due_by_key[step.key] = latest
        planned.append((step, None, latest))
    return planned


def _dates(step: MilestoneStep, due: dt.date) -> dict[str, dt.date | None]:
    def after(days: int | None) -> dt.date | None:
        return None if days is None else due + dt.timedelta(days=days)

    return {
        "due_on": due,
        "remind_on": due - dt.timedelta(days=step.reminder_days),
        "supervisor_on": after(step.supervisor_after_days),
        "home_office_on": after(step.home_office_after_days),
    }


def _step_key(step: MilestoneStep, line: PlanLine | None) -> str:
    return f"{step.key}:{line.id}" if line is not None else step.key


def schedule_plan(plan: Plan, *, actor: Actor) -> list[Milestone]:
    """Create the plan's milestones from its programme's template (called on approval, in
    the approval's transaction). Already scheduled steps are left alone."""
    case = plan.returnee
    template = template_for(case)
    existing = set(
        db.session.scalars(sa.select(Milestone.step_key).where(Milestone.plan_id == plan.id))
    )
    created = []
    for step, line, due in _due_dates(template, return_date(case, plan), plan.lines):
        key = _step_key(step, line)
        if key in existing:
            continue
        milestone = Milestone(
            plan_id=plan.id,
            returnee_id=case.id,
            plan_line_id=line.id if line is not None else None,
            office_id=_office_of(step.responsible, case),
            step_key=key,
            kind=step.kind,
            name=step.name,
            responsible=step.responsible,
            status=MilestoneStatus.UPCOMING,
            **_dates(step, due),
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
    (done ones keep their dates). Returns how many moved."""
    plan = db.session.scalars(sa.select(Plan).where(Plan.returnee_id == case.id)).first()
    if plan is None or plan.approved_at is None:
        return 0
    template = template_for(case)
    steps = {step.key: step for step in template.steps}
    planned = {
        _step_key(step, line): (step, due)
        for step, line, due in _due_dates(template, return_date(case, plan), plan.lines)
    }
    moved = 0
    for milestone in db.session.scalars(
        sa.select(Milestone).where(
            Milestone.plan_id == plan.id, Milestone.status.in_(OPEN_STATUSES)
        )
    ):
        found = planned.get(milestone.step_key)
        if found is None or found[1] == milestone.due_on:
            continue
        step, due = found
        for name, value in _dates(steps[step.key], due).items():
            setattr(milestone, name, value)
        # the sweep decides the state again from the new dates
        milestone.status, milestone.escalation_level = MilestoneStatus.UPCOMING, 0
        moved += 1
    if moved:
        record_audit("plan.reschedule", plan, actor=actor, changes={"milestones": [None, moved]})
    return moved


def complete_milestones(
    case_id: int,
    kind: MilestoneKind,
    *,
    actor: Actor,
    plan_line_id: int | None = None,
    first_only: bool = False,
) -> int:
    """Close the open milestones of ``kind`` for a case (for one plan line when given), when
    what they wait for was recorded: an arrival, a delivery, a visit, a survey. With
    ``first_only`` only the earliest one closes (a visit answers one visit milestone)."""
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
        milestone.status, milestone.completed_at = MilestoneStatus.DONE, now_utc()
        milestone.completed_by_id = actor.id if isinstance(actor, User) else None
        closed += 1
    return closed


def plan_milestones(plan_id: int) -> Sequence[Milestone]:
    """The plan's milestones in date order (the caller has checked the plan's scope)."""
    return db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.plan_id == plan_id)
        .order_by(Milestone.due_on, Milestone.id)
    ).all()


@dataclass(frozen=True, kw_only=True)
class WorkListFilters:
    office_id: int | None = None
    responsible: Responsible | None = None
    kind: MilestoneKind | None = None
    overdue_only: bool = False


@dataclass
class WorkListPage:
    items: list[Milestone]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def work_list(
    filters: WorkListFilters, *, actor: Actor, page: int = 1, page_size: int = 50
) -> WorkListPage:
    """The due and overdue milestones ``actor`` answers for or oversees: overdue first, then
    by due date; two statements whatever the page size."""
    page = max(page, 1)
    open_now = (
        [MilestoneStatus.OVERDUE]
        if filters.overdue_only
        else [
            MilestoneStatus.OVERDUE,
            MilestoneStatus.DUE,
        ]
    )
    stmt = scoped(sa.select(Milestone).where(Milestone.status.in_(open_now)), Milestone, actor)
    if filters.office_id is not None:
        stmt = stmt.where(Milestone.office_id == filters.office_id)
    if filters.responsible is not None:
        stmt = stmt.where(Milestone.responsible == filters.responsible)
    if filters.kind is not None:
        stmt = stmt.where(Milestone.kind == filters.kind)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    overdue_first = sa.case((Milestone.status == MilestoneStatus.OVERDUE, 0), else_=1)
    items = db.session.scalars(
        stmt.options(joinedload(Milestone.returnee))
        .order_by(overdue_first, Milestone.due_on, Milestone.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return WorkListPage(list(items), int(total), page, page_size)


def offices_with_milestones(*, actor: Actor) -> Sequence[Office]:
    """The offices a user may filter the work list by (those who see more than one office)."""
    if actor.role not in {Role.PROGRAMME_MANAGER, Role.ADMIN}:
        return []
    return db.session.scalars(
        sa.select(Office).where(Office.is_active.is_(True)).order_by(Office.name)
    ).all()
