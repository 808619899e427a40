"""Visits and surveys: they close their milestones; scores, bands and flags; re-scoring."""

from __future__ import annotations

import datetime as dt

import pytest

from reintegration_hub.core.errors import InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.followups import visits
from reintegration_hub.followups.models import MilestoneStatus, VisitMode
from tests.clock import travel
from tests.factories import user_with_role
from tests.followups.helpers import answers, approved, by_key, day
from tests.plans.helpers import World, world

#: The day these tests run on (the clock is set to it): a year after the return.
TODAY = day(365)


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, TODAY)
    w = world()
    w.case.departed_on, w.case.arrived_on = day(0), day(2)
    return w


def test_a_visit_answers_the_visit_milestone_whose_window_holds_it(w: World) -> None:
    plan = approved(w, w.option())

    visit = visits.record_visit(
        w.case.id,
        visits.VisitInput(visited_on=day(95), mode=VisitMode.PHONE, findings="Course started"),
        actor=w.case_manager,
    )

    assert by_key(plan)["visit_90"].status == MilestoneStatus.DONE
    assert by_key(plan)["visit_90"].completed_on == day(95)
    assert visit.milestone_id == by_key(plan)["visit_90"].id
    assert by_key(plan)["visit_180"].status == MilestoneStatus.UPCOMING
    with pytest.raises(PermissionDenied):
        visits.record_visit(
            w.case.id,
            visits.VisitInput(visited_on=day(95), mode=VisitMode.PHONE),
            actor=w.counsellor,
        )


def test_equal_weights_score_each_dimension_and_the_composite(w: World) -> None:
    plan = approved(w, w.option())

    survey = visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)

    assert (survey.economic, survey.social, survey.psychosocial) == (1.0, 0.5, 0.0)
    assert survey.composite == 0.5
    assert survey.band == "medium"
    assert set(survey.flags) == {"low_psychosocial", "imbalance"}
    assert by_key(plan)["survey"].status == MilestoneStatus.DONE


def test_a_drop_since_the_last_survey_is_flagged(w: World) -> None:
    visits.record_survey(
        w.case.id, TODAY - dt.timedelta(days=180), answers(3, 3, 3), actor=w.case_manager
    )

    later = visits.record_survey(w.case.id, TODAY, answers(2, 2, 2), actor=w.case_manager)

    assert later.band == "medium"
    assert later.flags == ["decline"]


def test_bad_answers_are_refused_per_indicator(w: World) -> None:
    bad = answers(2, 2, 2) | {"debt": 7, "made_up": 1}

    with pytest.raises(InvalidInput) as refused:
        visits.record_survey(w.case.id, TODAY, bad, actor=w.case_manager)

    assert {"debt", "made_up"} <= set(refused.value.field_errors)


def test_a_new_version_rescores_the_stored_answers(w: World) -> None:
    survey = visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)
    current = visits.current_scoring_version()
    version = visits.load_scoring_version(
        dimension_weights={"economic": 2, "social": 1, "psychosocial": 1},
        indicators={key: (d, 1) for key, (d, _w) in current.indicators.items()},
        bands=[("low", 0), ("high", 0.6)],
        actor=user_with_role(Role.ADMIN),
    )

    rescored = visits.rescore_surveys(version.id, actor=user_with_role(Role.ADMIN))

    assert rescored == 1
    assert survey.composite == 0.625  # (2 x 1 + 0.5 + 0) / 4
    assert survey.band == "high"
    assert survey.answers == answers(4, 2, 0)
