"""A visit or survey falls after the arrival and inside the window, and closes the milestone
whose window it falls in, never a later one."""

from __future__ import annotations

import datetime as dt

import pytest

from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.followups import models, visits
from reintegration_hub.followups.models import MilestoneStatus, VisitMode
from tests.clock import travel
from tests.followups.helpers import DEPARTURE, answers, approved, by_key, day
from tests.plans.helpers import World, world

ARRIVAL = day(2)


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(390))  # the year is over, its window (+395) not yet closed
    w = world()
    w.case.departed_on, w.case.arrived_on = DEPARTURE, ARRIVAL
    return w


def visit(w: World, on: dt.date) -> models.MonitoringVisit:
    return visits.record_visit(
        w.case.id,
        visits.VisitInput(visited_on=on, mode=VisitMode.IN_PERSON),
        actor=w.case_manager,
    )


def states(plan: object, *keys: str) -> list[str]:
    milestones = by_key(plan)  # type: ignore[arg-type]
    return [milestones[key].status.value for key in keys]


def test_a_visit_and_a_survey_before_the_arrival_are_refused_and_close_nothing(w: World) -> None:
    plan = approved(w, w.option())

    with pytest.raises(InvalidInput) as early_visit:
        visit(w, day(1))
    with pytest.raises(InvalidInput) as early_survey:
        visits.record_survey(w.case.id, day(1), answers(3, 3, 3), actor=w.case_manager)

    assert "visited_on" in early_visit.value.field_errors
    assert "taken_on" in early_survey.value.field_errors
    assert states(plan, "visit_90", "survey") == ["upcoming", "upcoming"]
    assert visits.case_visits(w.case.id) == []


def test_nothing_is_recorded_before_the_arrival_is(w: World) -> None:
    approved(w, w.option())
    w.case.arrived_on = None

    with pytest.raises(InvalidInput) as refused:
        visit(w, day(100))

    assert "arrival" in str(refused.value)


def test_nothing_is_recorded_after_the_window_closed(w: World, time_machine: object) -> None:
    approved(w, w.option())
    travel(time_machine, day(400))

    with pytest.raises(InvalidInput) as refused:
        visit(w, day(396))

    assert "window closed" in str(refused.value)


def test_an_early_contact_and_an_early_survey_close_no_milestone(w: World) -> None:
    plan = approved(w, w.option())

    extra = visit(w, day(30))  # before the 3-month visit's window opens (day 46)
    baseline = visits.record_survey(w.case.id, day(30), answers(2, 2, 2), actor=w.case_manager)

    assert extra.milestone_id is None
    assert baseline.milestone_id is None
    assert states(plan, "visit_90", "survey") == ["upcoming", "upcoming"]


def test_each_visit_closes_the_milestone_whose_window_holds_it(w: World) -> None:
    plan = approved(w, w.option())

    late_first = visit(w, day(150))  # the 3-month visit, late: still before the 6-month one
    second = visit(w, day(200))
    third = visit(w, day(260))  # the 9-month visit, a little early

    milestones = by_key(plan)
    assert late_first.milestone_id == milestones["visit_90"].id
    assert second.milestone_id == milestones["visit_180"].id
    assert third.milestone_id == milestones["visit_270"].id
    assert milestones["visit_90"].completed_on == day(150)
    assert states(plan, "visit_90", "visit_180", "visit_270") == ["done"] * 3


def test_a_visit_after_the_next_one_is_due_closes_that_one_not_the_missed_one(w: World) -> None:
    plan = approved(w, w.option())

    recorded = visit(w, day(185))  # the 3-month window ended when the 6-month visit fell due

    assert recorded.milestone_id == by_key(plan)["visit_180"].id
    assert states(plan, "visit_90", "visit_180") == ["upcoming", "done"]


def test_the_survey_of_the_year_is_closed_by_a_survey_in_its_window(w: World) -> None:
    plan = approved(w, w.option())

    survey = visits.record_survey(w.case.id, day(350), answers(3, 3, 3), actor=w.case_manager)

    assert survey.milestone_id == by_key(plan)["survey"].id
    assert by_key(plan)["survey"].status == MilestoneStatus.DONE
