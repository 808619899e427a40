"""Rules for milestones: scheduling on approval, rescheduling, completion.

The programme's template is applied to a plan in the transaction that approves it. Dates count
from the return date (the departure date recorded on the case, else the day of approval); a
step may count from another step instead. Delivery steps are one per plan line, due when the
option's lead time and duration have passed, at the latest at the step's own offset; a line
whose option is paid monthly has one per instalment instead, the first due when the option's
lead time has passed (at the latest at the step's offset), the others a month apart.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Dimension,
    Milestone,
    MilestoneKind,
    MilestoneNotice,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
    MonitoringVisit,
    NoticeKind,
    Responsible,
    ScoringVersion,
    SustainabilitySurvey,
    VisitMode,
)
from reintegration_hub.followups.ownership import office_for
from reintegration_hub.followups.scoring import Scores, check_answers, score
from reintegration_hub.followups.sweep import SweepCounts, sweep_range
from reintegration_hub.followups.windows import check_follow_up_date, closing_milestone
from reintegration_hub.plans.models import Plan, PlanLine
from reintegration_hub.programmes.models import Grant


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
    """Every milestone's step, line and due date, in the template's order. A step that counts
    from another one starts at that step's due date (a delivery step's: its own latest date),
    wherever the other step stands in the list; chains are followed to the return date."""
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

    planned: list[_Planned] = []
    for step in template.steps:
        due = latest(step)
        if step.kind != MilestoneKind.LINE_DELIVERED:
            planned.append(_Planned(step, None, due))
            continue
        start = due - dt.timedelta(days=step.offset_days)
        for line in lines:
            option = line.option
            # a line an amendment added counts from the day it came into effect, and gets its
            # lead time even when the step's own date has passed by then
            begins = max(start, line.effective_on or start) if line.amendment_id else start
            count = option.instalments_for(line.quantity)
            if count == 1:
                ready = dt.timedelta(days=option.lead_time_days + (option.duration_days or 0))
                ready_on = begins + ready
                planned.append(
                    _Planned(step, line, ready_on if due < begins else min(ready_on, due))
                )
                continue
            lead_on = begins + dt.timedelta(days=option.lead_time_days)
            first = lead_on if due < begins else min(lead_on, due)
            planned += [
                _Planned(step, line, first + relativedelta(months=number - 1), number, count)
                for number in range(1, count + 1)
            ]
    return planned


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


#: The work list's order: overdue first, then by due date.
WORK_LIST_ORDER = (
    sa.case((Milestone.status == MilestoneStatus.OVERDUE, 0), else_=1),
    Milestone.due_on,
    Milestone.id,
)


def work_list_where(
    stmt: sa.Select[Any], filters: WorkListFilters, *, actor: Actor
) -> sa.Select[Any]:
    """``stmt`` (selecting from ``milestones``) narrowed to the work list: the due and overdue
    milestones ``actor`` sees, under ``filters``. The page and its export both use it."""
    states = [MilestoneStatus.OVERDUE]
    if not filters.overdue_only:
        states.append(MilestoneStatus.DUE)
    stmt = scoped(stmt.where(Milestone.status.in_(states)), Milestone, actor)
    if filters.office_id is not None:
        stmt = stmt.where(Milestone.office_id == filters.office_id)
    if filters.responsible is not None:
        stmt = stmt.where(Milestone.responsible == filters.responsible)
    if filters.kind is not None:
        stmt = stmt.where(Milestone.kind == filters.kind)
    return stmt


def work_list(
    filters: WorkListFilters, *, actor: Actor, page: int = 1, page_size: int = 50
) -> WorkListPage:
    """The due and overdue milestones ``actor`` answers for or oversees: overdue first, then
    by due date; two statements whatever the page size."""
    page = max(page, 1)
    stmt = work_list_where(sa.select(Milestone), filters, actor=actor)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    items = db.session.scalars(
        stmt.options(joinedload(Milestone.returnee))
        .order_by(*WORK_LIST_ORDER)
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


# --- monitoring visits and sustainability surveys --------------------------------------------

#: Who records visits and surveys: the origin office follows the returnee after arrival.
RECORDER_ROLES = frozenset({Role.CASE_MANAGER, Role.ADMIN})


@dataclass(frozen=True, kw_only=True)
class VisitInput:
    visited_on: dt.date
    mode: VisitMode
    findings: str = ""
    next_steps: str = ""
    plan_revision_needed: bool = False


def _followed_case(case_id: int, actor: Actor) -> Returnee:
    if actor.role not in RECORDER_ROLES:
        raise PermissionDenied(_l("Your role cannot do this."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return case


def record_visit(case_id: int, visit: VisitInput, *, actor: Actor) -> MonitoringVisit:
    """Record a monitoring visit, on or after the arrival and inside the reintegration window;
    it closes the visit milestone whose window holds its date, if one is open
    (``followups.windows``), and names it in ``milestone_id``. A visit that finds the plan
    needs a revision opens a draft amendment and tells the counsellor."""
    case = _followed_case(case_id, actor)
    check_follow_up_date(case, visit.visited_on, "visited_on")
    milestone = closing_milestone(case, MilestoneKind.MONITORING_VISIT, visit.visited_on)
    row = MonitoringVisit(
        returnee_id=case.id,
        visited_on=visit.visited_on,
        mode=visit.mode,
        findings=visit.findings.strip(),
        next_steps=visit.next_steps.strip(),
        plan_revision_needed=visit.plan_revision_needed,
        milestone=milestone,
        recorded_by_id=actor.id,
    )
    db.session.add(row)
    record_audit("visit.record", row, actor=actor, office_id=case.host_office_id)
    if milestone is not None:
        close_milestone(milestone, completed_on=visit.visited_on, actor=actor)
    if row.plan_revision_needed:
        # plans imports this module (scheduling), so the hook is imported where it is called
        from reintegration_hub.plans.amendments import on_revision_needed

        on_revision_needed(row, actor=actor)
    return row


def current_scoring_version() -> ScoringVersion:
    version = db.session.scalars(
        sa.select(ScoringVersion).order_by(ScoringVersion.version.desc()).limit(1)
    ).first()
    if version is None:
        raise Conflict(_l("No scoring version is loaded: an administrator must add one."))
    return version


def _previous_composite(
    case_id: int, before: dt.date, exclude_id: int | None = None
) -> float | None:
    stmt = (
        sa.select(SustainabilitySurvey.composite)
        .where(SustainabilitySurvey.returnee_id == case_id, SustainabilitySurvey.taken_on < before)
        .order_by(SustainabilitySurvey.taken_on.desc(), SustainabilitySurvey.id.desc())
        .limit(1)
    )
    if exclude_id is not None:
        stmt = stmt.where(SustainabilitySurvey.id != exclude_id)
    return db.session.scalar(stmt)


def _apply_scores(survey: SustainabilitySurvey, scores: Scores, version: ScoringVersion) -> None:
    survey.scoring_version_id = version.id
    survey.economic, survey.social, survey.psychosocial = (
        scores.economic,
        scores.social,
        scores.psychosocial,
    )
    survey.composite, survey.band, survey.flags = scores.composite, scores.band, scores.flags


def record_survey(
    case_id: int, taken_on: dt.date, answers: Mapping[str, int], *, actor: Actor
) -> SustainabilitySurvey:
    """Record a sustainability survey, scored under the version in force and flagged for low
    scores, imbalance between dimensions and decline since the last survey. Its date follows
    the rule of visits, and it closes the survey milestone whose window holds it, if one is
    open (``followups.windows``)."""
    case = _followed_case(case_id, actor)
    check_follow_up_date(case, taken_on, "taken_on")
    version = current_scoring_version()
    check_answers(version, answers)
    milestone = closing_milestone(case, MilestoneKind.SUSTAINABILITY_SURVEY, taken_on)
    survey = SustainabilitySurvey(
        returnee_id=case.id,
        taken_on=taken_on,
        answers=dict(answers),
        milestone=milestone,
        recorded_by_id=actor.id,
    )
    _apply_scores(survey, score(version, answers, _previous_composite(case.id, taken_on)), version)
    db.session.add(survey)
    record_audit("survey.record", survey, actor=actor, office_id=case.host_office_id)
    if milestone is not None:
        close_milestone(milestone, completed_on=taken_on, actor=actor)
    return survey


def _scoring_admin(actor: Actor) -> None:
    """Administrators, and processes run by an operator (a CLI command, a flow)."""
    if actor.role is not None and actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Your role cannot do this."))


def _scoring_problems(
    dimension_weights: Mapping[str, float],
    indicators: Mapping[str, tuple[str, float]],
    bands: Sequence[tuple[str, float]],
    thresholds: Mapping[str, float],
) -> dict[str, list[object]]:
    dimensions = {d.value for d in Dimension}
    problems: dict[str, list[object]] = {}
    if set(dimension_weights) != dimensions or any(w < 0 for w in dimension_weights.values()):
        problems["dimension_weights"] = [_l("Give a weight of 0 or more to each dimension.")]
    elif not sum(dimension_weights.values()) > 0:
        problems["dimension_weights"] = [_l("At least one dimension must weigh more than 0.")]
    if not indicators or any(d not in dimensions or w <= 0 for d, w in indicators.values()):
        problems["indicators"] = [_l("Each indicator needs a dimension and a positive weight.")]
    elif any(not STEP_KEY.fullmatch(key) for key in indicators):
        problems["indicators"] = [
            _l("Indicator keys are lower-case letters, digits and _, starting with a letter.")
        ]
    names = [name.strip() for name, _lower in bands]
    lowers = [lower for _name, lower in bands]
    if not bands or min(lowers) != 0:
        problems["bands"] = [_l("The lowest band must start at 0.")]
    elif any(not 0 <= lower <= 1 for lower in lowers) or len(set(lowers)) != len(lowers):
        problems["bands"] = [_l("Each band starts at a different score from 0 to 1.")]
    elif not all(names) or len(set(names)) != len(names):
        problems["bands"] = [_l("Each band needs a name of its own.")]
    for field, value in thresholds.items():
        if not 0 <= value <= 1:
            problems[field] = [_l("Give a score from 0 to 1.")]
    return problems


def load_scoring_version(
    *,
    dimension_weights: Mapping[str, float],
    indicators: Mapping[str, tuple[str, float]],
    bands: Sequence[tuple[str, float]],
    low_score: float = 0.33,
    imbalance_gap: float = 0.3,
    decline_drop: float = 0.1,
    note: str = "",
    actor: Actor,
) -> ScoringVersion:
    """A new scoring version, in force from now on (earlier versions stay for the record).
    Raises InvalidInput naming the part that is wrong; stored surveys keep their scores
    until ``rescore_surveys`` is run with the new version."""
    _scoring_admin(actor)
    thresholds = {
        "low_score": low_score,
        "imbalance_gap": imbalance_gap,
        "decline_drop": decline_drop,
    }
    problems = _scoring_problems(dimension_weights, indicators, bands, thresholds)
    if problems:
        raise InvalidInput(_l("The scoring version is not valid."), field_errors=problems)
    latest = db.session.scalar(sa.select(sa.func.max(ScoringVersion.version))) or 0
    version = ScoringVersion(
        version=latest + 1,
        dimension_weights=dict(dimension_weights),
        indicators={key: [d, w] for key, (d, w) in indicators.items()},
        bands=[[name.strip(), lower] for name, lower in sorted(bands, key=lambda b: b[1])],
        low_score=low_score,
        imbalance_gap=imbalance_gap,
        decline_drop=decline_drop,
        note=note.strip()[:300],
    )
    db.session.add(version)
    record_audit("scoring.load", version, actor=actor)
    db.session.flush()
    return version


def rescore_surveys(version_id: int, *, actor: Actor, batch_size: int = 1000) -> int:
    """Score every stored survey again under ``version_id``, which must be the version in
    force (the answers stay as given), in the order they were recorded, so each decline flag
    compares with a survey already scored under the new version. Surveys whose answers do not
    cover the version's indicators are left as they were."""
    _scoring_admin(actor)
    version = db.session.get(ScoringVersion, version_id)
    if version is None:
        raise NotFound(_l("Not found."))
    if version.id != current_scoring_version().id:
        raise Conflict(_l("Only the version in force scores the stored surveys again."))
    rescored, last_id = 0, 0
    while True:
        batch = db.session.scalars(
            sa.select(SustainabilitySurvey)
            .where(SustainabilitySurvey.id > last_id)
            .order_by(SustainabilitySurvey.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for survey in batch:
            last_id = survey.id
            if not set(version.indicators) <= set(survey.answers):
                continue
            previous = _previous_composite(survey.returnee_id, survey.taken_on, survey.id)
            _apply_scores(survey, score(version, survey.answers, previous), version)
            rescored += 1
        db.session.flush()
    record_audit("scoring.rescore", version, actor=actor, changes={"surveys": [None, rescored]})
    return rescored


@dataclass(frozen=True)
class ScoringVersionRow:
    version: ScoringVersion
    surveys: int  # stored surveys scored under it
    current: bool


def scoring_versions(*, actor: Actor) -> list[ScoringVersionRow]:
    """Every scoring version, the one in force first, with how many surveys it scores now.
    One statement."""
    _scoring_admin(actor)
    # one pass over the surveys, grouped, rather than a count per version
    counts = (
        sa.select(
            SustainabilitySurvey.scoring_version_id.label("version_id"),
            sa.func.count().label("surveys"),
        )
        .group_by(SustainabilitySurvey.scoring_version_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(ScoringVersion, counts.c.surveys)
        .outerjoin(counts, counts.c.version_id == ScoringVersion.id)
        .order_by(ScoringVersion.version.desc())
    ).all()
    return [
        ScoringVersionRow(version, int(count or 0), current=index == 0)
        for index, (version, count) in enumerate(rows)
    ]


def case_visits(case_id: int) -> Sequence[MonitoringVisit]:
    """The case's visits, latest first, with the milestone each closed (the caller has checked
    the case's scope)."""
    return db.session.scalars(
        sa.select(MonitoringVisit)
        .where(MonitoringVisit.returnee_id == case_id)
        .options(joinedload(MonitoringVisit.milestone))
        .order_by(MonitoringVisit.visited_on.desc(), MonitoringVisit.id.desc())
    ).all()


def case_surveys(case_id: int) -> Sequence[SustainabilitySurvey]:
    """The case's surveys with their scores and the milestone each closed, latest first (scope
    checked by the caller)."""
    return db.session.scalars(
        sa.select(SustainabilitySurvey)
        .where(SustainabilitySurvey.returnee_id == case_id)
        .options(joinedload(SustainabilitySurvey.milestone))
        .order_by(SustainabilitySurvey.taken_on.desc(), SustainabilitySurvey.id.desc())
    ).all()


# --- milestone templates (administrators) ----------------------------------------------------

#: A step's stable name: lower-case letters, digits and underscores (it ends milestone keys).
STEP_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
STEP_FIELDS = (
    "key",
    "position",
    "kind",
    "name",
    "offset_days",
    "after_step",
    "responsible",
    "reminder_days",
    "supervisor_after_days",
    "home_office_after_days",
)


@dataclass(frozen=True, kw_only=True)
class StepInput:
    """A template step as an administrator gives it (``key`` only counts when adding)."""

    name: str
    kind: MilestoneKind
    offset_days: int
    responsible: Responsible
    reminder_days: int
    supervisor_after_days: int | None
    home_office_after_days: int | None
    after_step: str | None = None
    key: str = ""


@dataclass(frozen=True)
class TemplateRow:
    template: MilestoneTemplate
    grant: Grant | None
    steps: int


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _template_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Your role cannot do this."))


def milestone_templates(*, actor: Actor) -> tuple[list[TemplateRow], list[Grant]]:
    """The templates (the default one first, then by grant) with their number of steps, and
    the grants that have none of their own yet (they follow the default). Two statements."""
    _template_admin(actor)
    steps = (
        sa.select(sa.func.count(MilestoneStep.id))
        .where(MilestoneStep.template_id == MilestoneTemplate.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(MilestoneTemplate, Grant, steps)
        .outerjoin(Grant, Grant.id == MilestoneTemplate.grant_id)
        .order_by(MilestoneTemplate.is_default.desc(), Grant.number, MilestoneTemplate.id)
    ).all()
    without = db.session.scalars(
        sa.select(Grant)
        .where(~sa.exists().where(MilestoneTemplate.grant_id == Grant.id))
        .order_by(Grant.number)
    ).all()
    return [TemplateRow(t, g, int(n or 0)) for t, g, n in rows], list(without)


def get_template(template_id: int, *, actor: Actor) -> MilestoneTemplate:
    _template_admin(actor)
    template = db.session.scalars(
        sa.select(MilestoneTemplate)
        .where(MilestoneTemplate.id == template_id)
        .options(selectinload(MilestoneTemplate.steps))
    ).one_or_none()
    if template is None:
        raise NotFound(_l("Not found."))
    return template


def _default_template() -> MilestoneTemplate:
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default.is_(True))
    ).first()
    if template is None:
        raise Conflict(_l("No milestone template is set up: an administrator must add one."))
    return template


def create_grant_template(grant_id: int, *, actor: Actor) -> MilestoneTemplate:
    """A grant's own template, a copy of the default one (plans of the grant approved from
    now on follow it). Conflict when the grant has one already."""
    _template_admin(actor)
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Not found."))
    if db.session.scalar(
        sa.select(MilestoneTemplate.id).where(MilestoneTemplate.grant_id == grant.id)
    ):
        raise Conflict(_l("This grant has its own milestone template already."))
    default = _default_template()
    template = MilestoneTemplate(
        name=f"{grant.number}: {grant.title}"[:200],
        grant_id=grant.id,
        is_default=False,
        grace_days=default.grace_days,
        steps=[
            MilestoneStep(**{name: getattr(step, name) for name in STEP_FIELDS})
            for step in default.steps
        ],
    )
    record_audit(
        "milestone_template.create",
        template,
        actor=actor,
        changes={
            "grant_id": [None, grant.id],
            "copied_from": [None, default.id],
            "steps": [None, len(template.steps)],
        },
    )
    return template


def update_template(template_id: int, *, name: str, grace_days: int, actor: Actor) -> None:
    """Rename a template or change its grace period (days the case stays open after +365)."""
    template = get_template(template_id, actor=actor)
    name = name.strip()
    problems: dict[str, list[object]] = {}
    if not name:
        problems["name"] = [_l("Give the template a name.")]
    elif db.session.scalar(
        sa.select(MilestoneTemplate.id).where(
            MilestoneTemplate.name == name, MilestoneTemplate.id != template.id
        )
    ):
        problems["name"] = [_l("Another template has this name.")]
    if grace_days < 0:
        problems["grace_days"] = [_l("Give 0 days or more.")]
    if problems:
        raise InvalidInput(_l("The template is not valid."), field_errors=problems)
    template.name, template.grace_days = name, grace_days
    changes = pending_changes(template)
    if changes:
        record_audit("milestone_template.update", template, actor=actor, changes=changes)


def _step_problems(
    template: MilestoneTemplate, data: StepInput, key: str, step_id: int | None
) -> dict[str, list[object]]:
    """What is wrong with ``data`` as the step ``key`` of ``template`` (``step_id``: the
    step being changed, None for a new one)."""
    others = {step.key: step for step in template.steps if step.id != step_id}
    problems: dict[str, list[object]] = {}
    if step_id is None:
        if not STEP_KEY.fullmatch(key):
            problems["key"] = [
                _l("Use up to 40 lower-case letters, digits and _, starting with a letter.")
            ]
        elif key in others:
            problems["key"] = [_l("Another step of this template has this key.")]
    if not data.name.strip():
        problems["name"] = [_l("Give the step a name.")]
    for field in ("offset_days", "reminder_days", "supervisor_after_days"):
        value = getattr(data, field)
        if value is not None and value < 0:
            problems[field] = [_l("Give 0 days or more.")]
    supervisor, home = data.supervisor_after_days, data.home_office_after_days
    if home is not None and home < 0:
        problems["home_office_after_days"] = [_l("Give 0 days or more.")]
    elif home is not None and supervisor is not None and home <= supervisor:
        problems["home_office_after_days"] = [
            _l("The home office is told after the office supervisor: give more days.")
        ]
    if data.after_step:
        if data.after_step == key:
            problems["after_step"] = [_l("A step cannot count from itself.")]
        elif data.after_step not in others:
            problems["after_step"] = [_l("There is no such step in this template.")]
        else:
            # the template has no loop now, so a new one would have to come back to this step
            current, seen = others[data.after_step], {key}
            while current.after_step and current.key not in seen:
                seen.add(current.key)
                if current.after_step == key:
                    problems["after_step"] = [
                        _l(
                            "%(step)s counts from this step already: that would be a loop.",
                            step=current.name,
                        )
                    ]
                    break
                if current.after_step not in others:
                    break
                current = others[current.after_step]
    if data.kind == MilestoneKind.WINDOW_CLOSES and any(
        step.kind == MilestoneKind.WINDOW_CLOSES for step in others.values()
    ):
        problems["kind"] = [_l("A template has only one step where the window closes.")]
    if step_id is not None and data.kind != MilestoneKind.WINDOW_CLOSES:
        changed = template_step(template, step_id)
        if changed.kind == MilestoneKind.WINDOW_CLOSES:
            problems["kind"] = [_l("The step where the window closes keeps its type.")]
    return problems


def template_step(template: MilestoneTemplate, step_id: int) -> MilestoneStep:
    """The step ``step_id`` of ``template``; NotFound when it belongs to another template."""
    for step in template.steps:
        if step.id == step_id:
            return step
    raise NotFound(_l("Not found."))


def _set_step(step: MilestoneStep, data: StepInput) -> None:
    step.name, step.kind, step.responsible = data.name.strip(), data.kind, data.responsible
    step.offset_days, step.after_step = data.offset_days, data.after_step or None
    step.reminder_days = data.reminder_days
    step.supervisor_after_days = data.supervisor_after_days
    step.home_office_after_days = data.home_office_after_days


def add_step(template_id: int, data: StepInput, *, actor: Actor) -> MilestoneStep:
    """A new step at the end of the template (plans approved from now on get it)."""
    template = get_template(template_id, actor=actor)
    key = data.key.strip()
    problems = _step_problems(template, data, key, None)
    if problems:
        raise InvalidInput(_l("The step is not valid."), field_errors=problems)
    last = max((other.position for other in template.steps), default=-1)
    step = MilestoneStep(key=key, position=last + 1)
    _set_step(step, data)
    template.steps.append(step)
    changes = pending_changes(step) | {"template_id": [None, template.id]}
    record_audit("milestone_step.add", step, actor=actor, changes=changes)
    return step


def update_step(template_id: int, step_id: int, data: StepInput, *, actor: Actor) -> bool:
    """Change a step (its key stays: milestones scheduled from it carry it). Milestones
    already scheduled keep their dates. ``False`` when nothing changed."""
    template = get_template(template_id, actor=actor)
    step = template_step(template, step_id)
    problems = _step_problems(template, data, step.key, step.id)
    if problems:
        raise InvalidInput(_l("The step is not valid."), field_errors=problems)
    _set_step(step, data)
    changes = pending_changes(step)
    if not changes:
        return False
    record_audit("milestone_step.update", step, actor=actor, changes=changes)
    return True


def remove_step(template_id: int, step_id: int, *, actor: Actor) -> None:
    """Take a step out of the template; milestones already scheduled from it stay. Refused
    while another step counts from it, and for the step where the window closes."""
    template = get_template(template_id, actor=actor)
    step = template_step(template, step_id)
    if step.kind == MilestoneKind.WINDOW_CLOSES:
        raise Conflict(_l("The step where the window closes cannot be removed."))
    followers = [other.name for other in template.steps if other.after_step == step.key]
    if followers:
        raise Conflict(
            _l("Other steps count from this one: %(steps)s.", steps=", ".join(followers))
        )
    record_audit(
        "milestone_step.remove",
        step,
        actor=actor,
        changes={name: [_plain(getattr(step, name)), None] for name in STEP_FIELDS},
    )
    template.steps.remove(step)
    db.session.flush()


# --- the plan's timeline and "re-check now" --------------------------------------------------


@dataclass(frozen=True)
class NoticeEntry:
    """A reminder or escalation with the state of the e-mails it queued."""

    id: int
    milestone_id: int
    milestone_name: str
    kind: NoticeKind
    level: int
    on_date: dt.date
    messages: int  # e-mails queued for it (one per recipient; 0: nobody to tell)
    sent: int
    failed: int
    last_sent_at: dt.datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    on: dt.date
    kind: str  # "milestone", "notice", "visit" or "survey"
    item: Milestone | NoticeEntry | MonitoringVisit | SustainabilitySurvey


def _notice_entries(plan_id: int) -> list[NoticeEntry]:
    """The plan's notices with their outbox messages counted, in one statement."""
    sent = sa.func.sum(sa.case((OutboxMessage.status == OutboxStatus.SENT, 1), else_=0))
    failed = sa.func.sum(sa.case((OutboxMessage.status == OutboxStatus.FAILED, 1), else_=0))
    rows = db.session.execute(
        sa.select(
            MilestoneNotice.id,
            MilestoneNotice.milestone_id,
            Milestone.name,
            MilestoneNotice.kind,
            MilestoneNotice.level,
            MilestoneNotice.on_date,
            sa.func.count(OutboxMessage.id),
            sent,
            failed,
            sa.func.max(OutboxMessage.sent_at),
        )
        .join(Milestone, Milestone.id == MilestoneNotice.milestone_id)
        .outerjoin(OutboxMessage, OutboxMessage.notice_id == MilestoneNotice.id)
        # the plan's milestones first (SQLite would otherwise walk every notice in id order)
        .where(
            Milestone.plan_id == plan_id,
            MilestoneNotice.milestone_id.in_(
                sa.select(Milestone.id).where(Milestone.plan_id == plan_id).scalar_subquery()
            ),
        )
        .group_by(
            MilestoneNotice.id,
            MilestoneNotice.milestone_id,
            Milestone.name,
            MilestoneNotice.kind,
            MilestoneNotice.level,
            MilestoneNotice.on_date,
        )
    ).all()
    return [
        NoticeEntry(
            id=row[0],
            milestone_id=row[1],
            milestone_name=row[2],
            kind=NoticeKind(row[3]),
            level=row[4],
            on_date=row[5],
            messages=int(row[6] or 0),
            sent=int(row[7] or 0),
            failed=int(row[8] or 0),
            last_sent_at=row[9],
        )
        for row in rows
    ]


#: Within a day: what was done (visits, surveys), then what was sent, then what falls due.
_TIMELINE_ORDER = {"visit": 0, "survey": 1, "notice": 2, "milestone": 3}


def plan_timeline(plan_id: int, case_id: int) -> list[TimelineEntry]:
    """The plan's follow-up in date order: milestones (by due date, with their state),
    reminders and escalations (with their e-mails' state), visits and surveys (with scores
    and flags). Four statements whatever the number of items (the caller has checked the
    plan's scope)."""
    entries = [TimelineEntry(m.due_on, "milestone", m) for m in plan_milestones(plan_id)]
    entries += [TimelineEntry(n.on_date, "notice", n) for n in _notice_entries(plan_id)]
    entries += [TimelineEntry(v.visited_on, "visit", v) for v in case_visits(case_id)]
    entries += [TimelineEntry(s.taken_on, "survey", s) for s in case_surveys(case_id)]
    return sorted(entries, key=lambda e: (e.on, _TIMELINE_ORDER[e.kind], e.item.id))


#: Who may re-check a plan: whoever reads its page.
RECHECK_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER, Role.PROGRAMME_MANAGER, Role.ADMIN})


def recheck_plan(plan_id: int, *, actor: Actor, as_of: dt.date | None = None) -> SweepCounts:
    """The follow-up checks for one plan, now: the same ``sweep_range`` the ``track_plan``
    flow (and ``track_milestones`` for every plan) runs, for this plan's id only, so the
    page answers at once without starting a flow. NotFound out of scope; Conflict before the
    plan is approved (it has no milestones)."""
    if actor.role not in RECHECK_ROLES:
        raise PermissionDenied(_l("Your role cannot do this."))
    plan: Plan = get_scoped(Plan, plan_id, actor)
    if plan.approved_at is None:
        raise Conflict(_l("The plan is not approved: it has no follow-up yet."))
    counts = sweep_range(as_of or now_utc().date(), plan.id, plan.id)
    record_audit(
        "plan.recheck",
        plan,
        actor=actor,
        changes={name: [None, value] for name, value in counts.as_dict().items() if value},
    )
    return counts


def plan_case_id(plan_id: int) -> int:
    """The case a plan belongs to (for a redirect; the caller has checked the scope)."""
    case_id: int = db.session.scalars(sa.select(Plan.returnee_id).where(Plan.id == plan_id)).one()
    return case_id


def milestone_case_id(milestone_id: int) -> int:
    """The case a milestone belongs to (for a redirect; the caller has checked the scope)."""
    case_id: int = db.session.scalars(
        sa.select(Milestone.returnee_id).where(Milestone.id == milestone_id)
    ).one()
    return case_id
