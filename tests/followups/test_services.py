"""Milestones: scheduled with the approval, moved with the return date, closed by the events."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.extensions import db
from reintegration_hub.followups import scheduling
from reintegration_hub.followups.models import Milestone, MilestoneKind, MilestoneStatus
from tests.cases.helpers import details
from tests.followups.helpers import DEPARTURE, approved, by_key
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def test_approval_schedules_the_default_template_from_the_return_date(w: World) -> None:
    course = w.option(lead_time_days=14, duration_days=90)
    plan = approved(w, course)

    milestones = by_key(plan)
    line = plan.lines[0]
    assert set(milestones) == {
        "arrival", "first_contact", "plan_agreed", f"line_delivered:{line.id}",
        "visit_90", "visit_180", "visit_270", "survey", "window_closes",
    }  # fmt: skip
    assert milestones["arrival"].due_on == DEPARTURE + dt.timedelta(days=14)
    assert milestones["arrival"].remind_on == DEPARTURE + dt.timedelta(days=11)
    assert milestones["arrival"].supervisor_on == DEPARTURE + dt.timedelta(days=21)
    assert milestones[f"line_delivered:{line.id}"].due_on == DEPARTURE + dt.timedelta(days=104)
    assert milestones["window_closes"].due_on == DEPARTURE + dt.timedelta(days=395)
    assert milestones["window_closes"].supervisor_on is None
    assert milestones["plan_agreed"].status == MilestoneStatus.DONE
    assert milestones["arrival"].office_id == w.tbilisi.id


def test_a_new_return_date_moves_the_open_milestones_only(w: World) -> None:
    plan = approved(w, w.option())
    done_before = by_key(plan)["plan_agreed"].due_on

    cases.update_case(
        w.case.id,
        details(origin_office_id=w.tbilisi.id, departed_on=DEPARTURE + dt.timedelta(days=10)),
        actor=w.counsellor,
    )

    milestones = by_key(plan)
    assert milestones["arrival"].due_on == DEPARTURE + dt.timedelta(days=24)
    assert milestones["visit_90"].due_on == DEPARTURE + dt.timedelta(days=100)
    assert milestones["plan_agreed"].due_on == done_before


def test_recording_the_arrival_closes_the_arrival_milestone(w: World) -> None:
    plan = approved(w, w.option())

    cases.update_case(
        w.case.id,
        details(
            origin_office_id=w.tbilisi.id,
            departed_on=DEPARTURE,
            arrived_on=DEPARTURE + dt.timedelta(days=1),
        ),
        actor=w.counsellor,
    )

    assert by_key(plan)["arrival"].status == MilestoneStatus.DONE
    assert by_key(plan)["first_contact"].status == MilestoneStatus.UPCOMING


def test_scheduling_twice_creates_nothing_twice(w: World) -> None:
    plan = approved(w, w.option(), w.option())

    again = scheduling.schedule_plan(plan, actor=w.programme_manager)

    assert again == []
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Milestone))
    assert total == 10


def test_only_the_first_open_visit_closes_for_one_visit(w: World) -> None:
    plan = approved(w, w.option())

    closed = scheduling.complete_milestones(
        w.case.id, MilestoneKind.MONITORING_VISIT, first_only=True, actor=w.case_manager
    )

    assert closed == 1
    assert by_key(plan)["visit_90"].status == MilestoneStatus.DONE
    assert by_key(plan)["visit_180"].status == MilestoneStatus.UPCOMING
