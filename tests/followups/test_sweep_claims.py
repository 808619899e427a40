"""A sweep run's ranges are claimed once each (``sweep_claimed_range``): the record that lets
several workers share a run's ranges without sweeping one twice."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.core.db import now_utc
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MilestoneNotice, SweptRange
from reintegration_hub.followups.sweep import (
    forget_swept_ranges,
    sweep_claimed_range,
    swept_ranges,
)
from reintegration_hub.plans.models import Plan
from tests.followups.helpers import DEPARTURE, approved, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def notices() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(MilestoneNotice)) or 0


def test_a_range_claimed_by_a_run_is_swept_once_and_its_counts_kept(w: World) -> None:
    plan: Plan = approved(w, w.option(lead_time_days=60))

    first = sweep_claimed_range("run-1", day(15), plan.id, plan.id, flow_run_id="child-1")
    written = notices()
    again = sweep_claimed_range("run-1", day(15), plan.id, plan.id, flow_run_id="child-2")

    assert first is not None
    assert first.overdue == 1
    assert again is None  # done in this run: not swept a second time
    assert notices() == written
    (record,) = swept_ranges("run-1")
    assert (record.first_plan_id, record.last_plan_id, record.flow_run_id) == (
        plan.id,
        plan.id,
        "child-1",
    )
    assert record.counts == first.as_dict()
    assert record.as_of == day(15)


def test_another_run_sweeps_the_range_again(w: World) -> None:
    plan: Plan = approved(w, w.option(lead_time_days=60))
    sweep_claimed_range("run-1", day(11), plan.id, plan.id)

    # the hourly sweep looks at every plan again: a later run is not a duplicate
    later = sweep_claimed_range("run-2", day(15), plan.id, plan.id)

    assert later is not None
    assert later.overdue == 1
    assert [r.sweep_id for r in db.session.scalars(sa.select(SweptRange))] == ["run-1", "run-2"]


def test_old_records_are_forgotten(w: World) -> None:
    plan: Plan = approved(w, w.option(lead_time_days=60))
    sweep_claimed_range("run-1", day(11), plan.id, plan.id)

    assert forget_swept_ranges(now_utc() - dt.timedelta(days=1)) == 0
    assert forget_swept_ranges(now_utc() + dt.timedelta(seconds=1)) == 1
    assert swept_ranges("run-1") == []
