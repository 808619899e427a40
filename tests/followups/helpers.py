"""Follow-up test helpers: an approved plan and its milestones, days after the return, answers."""

from __future__ import annotations

import datetime as dt

from partners.models import SupportOption
from reintegration_hub.followups import timeline, visits
from reintegration_hub.followups.models import Milestone
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan
from tests.plans.helpers import World, submitted_plan

#: The return date of the follow-up tests' case.
DEPARTURE = dt.date(2026, 12, 1)


def day(offset: int) -> dt.date:
    """``offset`` days after the return."""
    return DEPARTURE + dt.timedelta(days=offset)


def approved(w: World, *options: SupportOption) -> Plan:
    """A plan of ``w``'s case with ``options``, submitted, found feasible and approved."""
    plan = submitted_plan(w, *options)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    return plan


def by_key(plan: Plan) -> dict[str, Milestone]:
    return {m.step_key: m for m in timeline.plan_milestones(plan.id)}


def answers(economic: int, social: int, psychosocial: int) -> dict[str, int]:
    """Survey answers giving each indicator its dimension's value (current scoring version)."""
    version = visits.current_scoring_version()
    value = {"economic": economic, "social": social, "psychosocial": psychosocial}
    return {key: value[dimension] for key, (dimension, _weight) in version.indicators.items()}
