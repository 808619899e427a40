"""A plan's follow-up as one timeline (milestones, reminders and escalations with their
e-mails' state, visits and surveys), "re-check now" (the sweep for one plan, at once), and the
case a plan or milestone belongs to (the pages' redirects)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneNotice,
    MonitoringVisit,
    NoticeKind,
    SustainabilitySurvey,
)
from reintegration_hub.followups.sweep import SweepCounts, sweep_range
from reintegration_hub.followups.visits import case_surveys, case_visits
from reintegration_hub.plans.models import Plan


def plan_milestones(plan_id: int) -> Sequence[Milestone]:
    """The plan's milestones in date order (the caller has checked the plan's scope)."""
    return db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.plan_id == plan_id)
        .order_by(Milestone.due_on, Milestone.id)
    ).all()


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
    """The plan's notices with their outbox messages counted (each message names its notice),
    in one statement."""
    sent = sa.func.sum(sa.case((OutboxMessage.status == OutboxStatus.SENT, 1), else_=0))
    failed = sa.func.sum(sa.case((OutboxMessage.status == OutboxStatus.FAILED, 1), else_=0))
    notice = (
        MilestoneNotice.id,
        MilestoneNotice.milestone_id,
        Milestone.name,
        MilestoneNotice.kind,
        MilestoneNotice.level,
        MilestoneNotice.on_date,
    )
    rows = db.session.execute(
        sa.select(
            *notice,
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
        .group_by(*notice)
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
