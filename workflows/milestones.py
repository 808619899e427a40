"""``track_milestones`` and ``track_plan``: the follow-up sweep run by Prefect.

Set-based, never a flow run or a task per plan: the plans are cut into id ranges, a task per
range runs ``followups.sweep.sweep_range`` in its own transaction, two at a time (a range is a
few statements PostgreSQL runs on a core each). Ranges are as large as memory allows
(``batch_size_for``): a task costs Prefect ~25 ms and each statement reads the range's index
entries once, so a daily run of 50,000 plans is one task, and 1,000,000 plans twenty. The
sweep is idempotent, so a run killed half way is simply run again: the ranges it finished
change nothing the second time and queue no message twice.

Both flows are async: a sync flow run ends by joining its heartbeat thread, which sleeps in
1 s steps (0-1 s per run, most of a sweep's orchestration cost); an async run does not wait for
it, and keeps its heartbeats (they detect crashed runs). The sweep's SQL is blocking, so each
range runs in a worker thread with its own app context and transaction. Call them from sync
code with ``asyncio.run(track_milestones(...))``.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from reintegration_hub.core.db import now_utc
from reintegration_hub.followups.sweep import SweepCounts, plan_id_ranges, sweep_range
from workflows.app import unit_of_work
from workflows.records import recorded_flow

#: plan ids a range at most: a catch-up range holds its notices and e-mails in memory (~3 a
#: plan when nothing was swept before)
MAX_BATCH = 50_000
PARALLEL_BATCHES = 2


def batch_size_for(plan_ids: int) -> int:
    """The range size for ``plan_ids`` ids: one range when they fit in ``MAX_BATCH``, else as
    few ranges as fit, a multiple of ``PARALLEL_BATCHES`` of them, of equal size."""
    if plan_ids <= MAX_BATCH:
        return max(plan_ids, 1)
    ranges = -(-plan_ids // MAX_BATCH)
    ranges += -ranges % PARALLEL_BATCHES
    return -(-plan_ids // ranges)


def _ranges(batch_size: int | None) -> list[tuple[int, int]]:
    with unit_of_work():
        return plan_id_ranges(batch_size or batch_size_for)


def _sweep(as_of: dt.date, first_plan_id: int, last_plan_id: int) -> SweepCounts:
    with unit_of_work():
        return sweep_range(as_of, first_plan_id, last_plan_id)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
async def sweep_batch(as_of: dt.date, first_plan_id: int, last_plan_id: int) -> SweepCounts:
    """One id range, one transaction."""
    return await asyncio.to_thread(_sweep, as_of, first_plan_id, last_plan_id)


async def _report(name: str, as_of: dt.date, counts: SweepCounts, batches: int) -> None:
    get_run_logger().info(
        "as of %s, %d batches: %s",
        as_of.isoformat(),
        batches,
        ", ".join(f"{key} {value}" for key, value in counts.as_dict().items()),
    )
    await acreate_table_artifact(
        key=name,
        table=[{"as_of": as_of.isoformat(), "batches": batches, **counts.as_dict()}],
        description=f"What {name} changed",
    )


@recorded_flow(name="track-milestones")
async def track_milestones(
    as_of: dt.date | None = None, batch_size: int | None = None
) -> SweepCounts:
    """Mark milestones due and overdue, write reminders and escalations, close ended windows,
    for every plan as of ``as_of`` (default: today), in ranges of ``batch_size`` plan ids
    (default: ``batch_size_for`` the plans)."""
    day = as_of or now_utc().date()
    # not a task: one short read, which the flow's own record already waits on
    ranges = await asyncio.to_thread(_ranges, batch_size)
    gate = asyncio.Semaphore(PARALLEL_BATCHES)

    async def one(first: int, last: int) -> SweepCounts:
        async with gate:
            return await sweep_batch(day, first, last)

    total = SweepCounts()
    for counts in await asyncio.gather(*(one(first, last) for first, last in ranges)):
        total = total + counts
    await _report("track-milestones", day, total, len(ranges))
    return total


@recorded_flow(name="track-plan")
async def track_plan(plan_id: int, as_of: dt.date | None = None) -> SweepCounts:
    """The same checks for one plan."""
    day = as_of or now_utc().date()
    counts = await sweep_batch(day, plan_id, plan_id)
    await _report("track-plan", day, counts, 1)
    return counts
