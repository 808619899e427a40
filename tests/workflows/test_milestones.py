"""``track_milestones`` and ``track_plan`` orchestrated for real: ranges as tasks, the same
final state as the service, nothing twice on a second run, an artifact of the counts."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from flask import Flask
from prefect import State

from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    MilestoneNotice,
    MilestoneStatus,
    NoticeKind,
    SweptRange,
)
from reintegration_hub.followups.sweep import SweepCounts
from reintegration_hub.plans.models import Plan
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import single_mother, world
from tests.workflows.helpers import artifact_rows
from workflows import milestones

pytestmark = [pytest.mark.orchestrated, pytest.mark.usefixtures("prefect_server")]


def two_plans() -> tuple[Plan, Plan]:
    w = world()
    w.case.departed_on = DEPARTURE
    first = approved(w, w.option(lead_time_days=60))
    w.case = single_mother(w.counsellor, w.tbilisi, first_name="Eka", departed_on=DEPARTURE)
    w.case.case_manager_id = w.case_manager.id
    second = approved(w, w.option(lead_time_days=60))
    db.session.commit()
    return first, second


def test_track_milestones_sweeps_every_range_once(app: Flask, worker_app: Flask) -> None:
    two_plans()

    # Prefect types an async flow's call with return_state as an Awaitable: it is a coroutine
    state: State[SweepCounts] = asyncio.run(
        milestones.track_milestones(as_of=day(35), batch_size=1, return_state=True)  # type: ignore[arg-type]
    )

    assert state.is_completed()
    counts = state.result()
    assert counts.overdue == 4  # arrival and first contact of both plans
    assert counts.escalations > 0
    assert counts.messages > 0
    (row,) = artifact_rows("track-milestones", state.state_details.flow_run_id)
    assert row["batches"] == 2
    assert row["reminders"] == counts.reminders
    again = asyncio.run(milestones.track_milestones(as_of=day(35), batch_size=1))
    assert again == SweepCounts()
    db.session.commit()
    keys = db.session.scalars(
        sa.select(OutboxMessage.key).where(OutboxMessage.key.like("milestone:%"))
    ).all()
    assert len(keys) == len(set(keys)) == counts.messages


def test_track_plan_checks_one_plan(app: Flask, worker_app: Flask) -> None:
    first, second = two_plans()

    counts = asyncio.run(milestones.track_plan(plan_id=first.id, as_of=day(15)))

    # arrival is due on day 14 (reminder from day 11): on day 15 it is overdue and reminded;
    # first contact (day 30) is not due yet, and the second plan is not looked at
    assert counts.overdue == 1
    db.session.commit()  # read what the worker committed
    db.session.expire_all()
    arrival = by_key(first)["arrival"]
    assert arrival.status == MilestoneStatus.OVERDUE
    assert [m.status for m in by_key(second).values() if m.status == MilestoneStatus.OVERDUE] == []
    notices = db.session.execute(sa.select(MilestoneNotice.milestone_id, MilestoneNotice.kind))
    assert [tuple(row) for row in notices] == [(arrival.id, NoticeKind.REMINDER)]


def test_sweep_ranges_skips_the_ranges_its_sweep_has_done(app: Flask, worker_app: Flask) -> None:
    first, second = two_plans()
    ranges = [(first.id, first.id), (second.id, second.id)]

    done = asyncio.run(milestones.sweep_ranges(sweep_id="sweep-1", as_of=day(35), ranges=ranges))
    # the same ranges handed to another child of the same run (its first one was taken for
    # dead): nothing is swept twice
    again = asyncio.run(milestones.sweep_ranges(sweep_id="sweep-1", as_of=day(35), ranges=ranges))

    assert done.overdue == 4
    assert again == SweepCounts()
    db.session.commit()
    records = db.session.scalars(sa.select(SweptRange).order_by(SweptRange.first_plan_id)).all()
    assert [(r.sweep_id, r.first_plan_id) for r in records] == [
        ("sweep-1", first.id),
        ("sweep-1", second.id),
    ]
    assert sum((SweepCounts(**r.counts) for r in records), SweepCounts()) == done


def test_ranges_are_sized_from_the_number_of_plans() -> None:
    assert milestones.batch_size_for(1) == 1
    assert milestones.batch_size_for(milestones.SPLIT_FROM - 1) == milestones.SPLIT_FROM - 1
    # more: as few ranges as fit, an even number of equal ones (two run at a time)
    assert milestones.batch_size_for(milestones.SPLIT_FROM) == milestones.SPLIT_FROM // 2
    assert milestones.batch_size_for(100_000) == 50_000
    assert milestones.batch_size_for(100_001) == 50_001
    assert milestones.batch_size_for(200_000) == 100_000
    assert milestones.batch_size_for(240_000) == 60_000
    assert milestones.batch_size_for(1_000_000) == 100_000
