"""``track_milestones`` and ``track_plan``: the follow-up sweep run by Prefect.

Set-based, never a flow run or a task per plan: the plans are cut into id ranges, a task per
range runs ``followups.sweep.sweep_range`` in its own transaction, four at a time. The sweep is
idempotent, so a run killed half way is simply run again: the ranges it finished change
nothing the second time and queue no message twice.
"""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from reintegration_hub.core.db import now_utc
from reintegration_hub.followups.sweep import SweepCounts, plan_id_ranges, sweep_range
from workflows.app import unit_of_work
from workflows.records import recorded_flow

BATCH_SIZE = 5000
PARALLEL_BATCHES = 4


@task(cache_policy=NO_CACHE)
def plan_ranges(batch_size: int) -> list[tuple[int, int]]:
    with unit_of_work():
        return plan_id_ranges(batch_size)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
def sweep_batch(as_of: dt.date, first_plan_id: int, last_plan_id: int) -> SweepCounts:
    """One id range, one transaction."""
    with unit_of_work():
        return sweep_range(as_of, first_plan_id, last_plan_id)


def _report(name: str, as_of: dt.date, counts: SweepCounts, batches: int) -> None:
    get_run_logger().info(
        "as of %s, %d batches: %s",
        as_of.isoformat(),
        batches,
        ", ".join(f"{key} {value}" for key, value in counts.as_dict().items()),
    )
    create_table_artifact(
        key=name,
        table=[{"as_of": as_of.isoformat(), "batches": batches, **counts.as_dict()}],
        description=f"What {name} changed",
    )


@recorded_flow(
    name="track-milestones",
    task_runner=ThreadPoolTaskRunner(max_workers=PARALLEL_BATCHES),  # type: ignore[arg-type]
)
def track_milestones(as_of: dt.date | None = None, batch_size: int = BATCH_SIZE) -> SweepCounts:
    """Mark milestones due and overdue, write reminders and escalations, close ended windows,
    for every plan as of ``as_of`` (default: today)."""
    day = as_of or now_utc().date()
    ranges = plan_ranges(batch_size)
    futures = [sweep_batch.submit(day, first, last) for first, last in ranges]
    total = SweepCounts()
    for future in futures:
        total = total + future.result()
    _report("track-milestones", day, total, len(ranges))
    return total


@recorded_flow(name="track-plan")
def track_plan(plan_id: int, as_of: dt.date | None = None) -> SweepCounts:
    """The same checks for one plan."""
    day = as_of or now_utc().date()
    counts = sweep_batch(day, plan_id, plan_id)
    _report("track-plan", day, counts, 1)
    return counts
