"""The one file that declares every deployment and its schedule."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.ports import free_port
from workflows import deployments, flows, milestones, outcomes


def test_every_flow_is_deployed_on_its_schedule_from_an_importable_entrypoint() -> None:
    declared = {d.name: d for d in deployments.deployments()}
    expected = {
        "deliver-notifications": flows.deliver_notifications,
        "expire-referrals": flows.expire_referrals,
        "flag-stale-listings": flows.flag_stale_listings,
        "anonymise-closed-cases": flows.anonymise_closed_cases,
        "track-milestones": milestones.track_milestones,
        "track-plan": milestones.track_plan,
        "sweep-ranges": milestones.sweep_ranges,
        "snapshot-outcomes": outcomes.snapshot_outcomes,
    }
    assert set(declared) == set(expected)
    for name, flow in expected.items():
        entrypoint = declared[name].entrypoint
        assert entrypoint is not None
        module, _, attribute = entrypoint.rpartition(".")
        assert getattr(importlib.import_module(module), attribute) is flow
        # a sweep's child runs go to every free worker at once
        assert declared[name].concurrency_limit == (None if name == "sweep-ranges" else 1)
    (every_minute,) = declared["deliver-notifications"].schedules
    assert isinstance(every_minute.schedule, IntervalSchedule)
    assert every_minute.schedule.interval == dt.timedelta(minutes=1)
    (hourly,) = declared["expire-referrals"].schedules
    assert isinstance(hourly.schedule, CronSchedule)
    assert hourly.schedule.cron == "5 * * * *"
    (nightly,) = declared["flag-stale-listings"].schedules
    assert isinstance(nightly.schedule, CronSchedule)
    assert nightly.schedule.cron == "30 2 * * *"
    (daily,) = declared["anonymise-closed-cases"].schedules
    assert isinstance(daily.schedule, CronSchedule)
    assert daily.schedule.cron == "45 3 * * *"
    (sweep,) = declared["track-milestones"].schedules
    assert isinstance(sweep.schedule, CronSchedule)
    assert sweep.schedule.cron == "15 * * * *"
    assert declared["track-plan"].schedules == []  # on demand
    assert declared["sweep-ranges"].schedules == []  # started by track-milestones
    (snapshot,) = declared["snapshot-outcomes"].schedules
    assert isinstance(snapshot.schedule, CronSchedule)
    assert snapshot.schedule.cron == "50 * * * *"


def test_waiting_for_a_server_that_never_answers_gives_up() -> None:
    with (
        temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}),
        pytest.raises(TimeoutError),
    ):
        deployments.wait_for_api(1.5)
