"""``track_milestones``, ``sweep_ranges`` and ``track_plan``: the follow-up sweep run by Prefect.

Set-based, never a flow run or a task per plan: the plans are cut into id ranges, a task per
range runs ``followups.sweep.sweep_range`` in its own transaction, two at a time (a range is a
few statements PostgreSQL runs on a core each). Ranges are large (``batch_size_for``): a task
costs Prefect ~25 ms, and a range's statements read only its milestones in the states they
change (the partial indexes of ``Milestone``), so from 20,000 plans there are two ranges,
one for each core, and 1,000,000 plans are ten. The sweep is idempotent, so a run killed half
way is simply run again: the ranges it finished change nothing the second time and queue no
message twice.

**On a work pool** (``track-milestones`` run by a ``prefect worker``, with ``sweep-ranges``
deployed on a pool too), a run of more ranges than one child would take (up to 200,000 plans
are two ranges, swept in the run itself) hands them, ``RANGES_PER_RUN`` at a time, to child runs
of ``sweep-ranges`` (``run_deployment(..., timeout=0)``), which whichever worker is free picks
up, and watches them (``_spread``). Each range is claimed in its own transaction
(``sweep_claimed_range``: a ``swept_ranges`` row per run and range), so no range is swept twice
in one run, and the parent sums the counts from those rows. A child that ends Crashed, Failed
or Cancelled, or that finishes no range for ``stall_seconds`` while Pending or Running (its
worker was killed: Prefect then never hears of it again, and the run stays Running), is marked
Crashed and its ranges not yet done go to a new child run, at most ``MAX_SUBMISSIONS`` times a
group. Served (``python -m workflows.deployments``, ``make run``), the ranges run in this
process.

The flows are async: a sync flow run ends by joining its heartbeat thread, which sleeps in 1 s
steps (0-1 s per run, most of a sweep's orchestration cost); an async run does not wait for
it, and keeps its heartbeats. The sweep's SQL is blocking, so each range runs in a worker
thread with its own app context and transaction. Call them from sync code with
``asyncio.run(track_milestones(...))``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from prefect import get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import StateType
from prefect.deployments import arun_deployment
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.states import Cancelled, Crashed

from reintegration_hub.core.db import now_utc
from reintegration_hub.followups.sweep import (
    SweepCounts,
    forget_swept_ranges,
    plan_id_ranges,
    sweep_claimed_range,
    swept_ranges,
)
from workflows.app import unit_of_work
from workflows.records import deployment_id, recorded_flow

#: plan ids a range at most: a range's e-mails are built 5,000 notices at a time whatever it
#: catches up on, but its changed rows are held at once
MAX_BATCH = 100_000
PARALLEL_BATCHES = 2
#: from this many plan ids, ``PARALLEL_BATCHES`` ranges at least: below it, a range's daily
#: work (~45 ms per 10,000 plans) is too little to be worth a second task (~25 ms)
SPLIT_FROM = 20_000
#: the deployment that sweeps a group of ranges for a run on a work pool
SWEEP_RANGES = "sweep-ranges/sweep-ranges"
RANGES_PER_RUN = PARALLEL_BATCHES
#: a child run that finishes no range for this long is taken for dead (longer than a range
#: takes: ~1-2 s a daily range of 50,000 plans, up to a minute for a catch-up)
STALL_SECONDS = 300.0
POLL_SECONDS = 2.0
MAX_SUBMISSIONS = 3
#: records of finished ranges are kept this long
KEEP_RANGES = dt.timedelta(days=7)

Range = tuple[int, int]


def batch_size_for(plan_ids: int) -> int:
    """The range size for ``plan_ids`` ids: one range below ``SPLIT_FROM``, else as few ranges
    of at most ``MAX_BATCH`` as fit, a multiple of ``PARALLEL_BATCHES`` of them, of equal
    size."""
    if plan_ids < SPLIT_FROM:
        return max(plan_ids, 1)
    ranges = max(-(-plan_ids // MAX_BATCH), PARALLEL_BATCHES)
    ranges += -ranges % PARALLEL_BATCHES
    return -(-plan_ids // ranges)


def _ranges(batch_size: int | None) -> list[Range]:
    with unit_of_work():
        return plan_id_ranges(batch_size or batch_size_for)


def _sweep(
    as_of: dt.date, first_plan_id: int, last_plan_id: int, sweep_id: str, run_id: str
) -> SweepCounts:
    with unit_of_work():
        counts = sweep_claimed_range(
            sweep_id, as_of, first_plan_id, last_plan_id, flow_run_id=run_id
        )
        return counts or SweepCounts()


def _done(sweep_id: str) -> dict[int, SweepCounts]:
    """The ranges of ``sweep_id`` finished so far, by first plan id, with their counts."""
    with unit_of_work():
        return {r.first_plan_id: SweepCounts(**r.counts) for r in swept_ranges(sweep_id)}


def _forget_old() -> int:
    with unit_of_work():
        return forget_swept_ranges(now_utc() - KEEP_RANGES)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[10, 60])
async def sweep_batch(
    as_of: dt.date, first_plan_id: int, last_plan_id: int, sweep_id: str = ""
) -> SweepCounts:
    """One id range, one transaction; once per ``sweep_id`` (a range a run swept before
    returns zero counts)."""
    run_id = str(flow_run.id or "")
    return await asyncio.to_thread(
        _sweep, as_of, first_plan_id, last_plan_id, sweep_id or str(uuid.uuid4()), run_id
    )


async def _sweep_all(day: dt.date, ranges: list[Range], sweep_id: str) -> SweepCounts:
    """Every range in this process, ``PARALLEL_BATCHES`` at a time."""
    gate = asyncio.Semaphore(PARALLEL_BATCHES)

    async def one(first: int, last: int) -> SweepCounts:
        async with gate:
            return await sweep_batch(day, first, last, sweep_id)

    total = SweepCounts()
    for counts in await asyncio.gather(*(one(first, last) for first, last in ranges)):
        total = total + counts
    return total


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


async def _on_work_pool() -> bool:
    """This run was started by a worker of a work pool, and ``sweep-ranges`` is deployed on
    one: spread the ranges. Served deployments (``make run``) have no work pool."""
    this_id = deployment_id()
    if this_id is None:
        return False
    async with get_client() as client:
        this = await client.read_deployment(this_id)
        if not this.work_pool_name:
            return False
        try:
            child = await client.read_deployment_by_name(SWEEP_RANGES)
        except ObjectNotFound:
            return False
        return bool(child.work_pool_name)


@recorded_flow(name="track-milestones")
async def track_milestones(
    as_of: dt.date | None = None,
    batch_size: int | None = None,
    stall_seconds: float = STALL_SECONDS,
) -> SweepCounts:
    """Mark milestones due and overdue, write reminders and escalations, close ended windows,
    for every plan as of ``as_of`` (default: today), in ranges of ``batch_size`` plan ids
    (default: ``batch_size_for`` the plans); on a work pool, through child runs of
    ``sweep-ranges`` (see the module's docstring)."""
    day = as_of or now_utc().date()
    sweep_id = str(flow_run.id or uuid.uuid4())
    # not a task: one short read, which the flow's own record already waits on
    ranges = await asyncio.to_thread(_ranges, batch_size)
    # ranges that one child run would sweep are swept here: a child run is a new process on
    # some worker (seconds of start-up) for the same work
    if len(ranges) > RANGES_PER_RUN and await _on_work_pool():
        total = await _spread(day, ranges, sweep_id, stall_seconds)
    else:
        total = await _sweep_all(day, ranges, sweep_id)
    await asyncio.to_thread(_forget_old)
    await _report("track-milestones", day, total, len(ranges))
    return total


@recorded_flow(name="sweep-ranges")
async def sweep_ranges(sweep_id: str, as_of: dt.date, ranges: list[Range]) -> SweepCounts:
    """Sweep ``ranges`` for the run ``sweep_id`` of track-milestones (run on a work pool: a
    child run); a range that run has swept already is skipped."""
    return await _sweep_all(as_of, ranges, sweep_id)


@dataclass
class _Child:
    """A child run sweeping a group of ranges, and when it last finished one."""

    ranges: list[Range]
    run_id: uuid.UUID
    submissions: int
    progress_at: dt.datetime = field(default_factory=now_utc)
    done: int = 0


async def _submit(
    day: dt.date, ranges: list[Range], sweep_id: str, group: int, submissions: int
) -> _Child:
    run = await arun_deployment(
        SWEEP_RANGES,
        parameters={"sweep_id": sweep_id, "as_of": day.isoformat(), "ranges": ranges},
        timeout=0,
        idempotency_key=f"{sweep_id}:{group}:{submissions}",
        flow_run_name=f"sweep-ranges-{ranges[0][0]}-{ranges[-1][1]}-{submissions}",
    )
    return _Child(ranges, run.id, submissions)


async def _spread(
    day: dt.date, ranges: list[Range], sweep_id: str, stall_seconds: float
) -> SweepCounts:
    """Hand the ranges to child runs on the work pool, watch them, give the ranges of a child
    that failed or stalled to a new one; the counts of every range, once all are done."""
    logger = get_run_logger()
    groups = [ranges[at : at + RANGES_PER_RUN] for at in range(0, len(ranges), RANGES_PER_RUN)]
    children = {
        group: await _submit(day, chunk, sweep_id, group, 1) for group, chunk in enumerate(groups)
    }
    logger.info("%d ranges handed to %d sweep-ranges runs", len(ranges), len(children))
    async with get_client() as client:
        while True:
            done = await asyncio.to_thread(_done, sweep_id)
            if all(first in done for first, _ in ranges):
                await _cancel_unstarted(client, children.values())
                return sum(done.values(), SweepCounts())
            for group, child in list(children.items()):
                left = [r for r in child.ranges if r[0] not in done]
                if not left:
                    del children[group]
                    await _cancel_unstarted(client, [child])  # a re-submission not needed
                    continue
                if len(child.ranges) - len(left) > child.done:
                    child.done, child.progress_at = len(child.ranges) - len(left), now_utc()
                state = (await client.read_flow_run(child.run_id)).state
                if state is None or state.type == StateType.SCHEDULED:  # no free worker yet
                    continue
                ended = state.type in (StateType.CRASHED, StateType.FAILED, StateType.CANCELLED)
                # counted from its last finished range, or from when it became Pending (a
                # worker took it) or Running: a child waiting for a worker is not stalled
                quiet = now_utc() - max(child.progress_at, state.timestamp)
                stalled = not ended and quiet > dt.timedelta(seconds=stall_seconds)
                if not ended and not stalled and state.type != StateType.COMPLETED:
                    continue
                if child.submissions >= MAX_SUBMISSIONS:
                    raise RuntimeError(f"ranges {left} failed {child.submissions} times")
                if stalled:
                    await client.set_flow_run_state(
                        child.run_id,
                        Crashed(message=f"No range finished for {stall_seconds:.0f} s"),
                        force=True,
                    )
                logger.warning(
                    "sweep-ranges run %s %s with %d of its ranges left: submitted again",
                    child.run_id,
                    "stalled" if stalled else f"ended {state.type.value}",
                    len(left),
                )
                children[group] = await _submit(day, left, sweep_id, group, child.submissions + 1)
            await asyncio.sleep(POLL_SECONDS)


async def _cancel_unstarted(client: PrefectClient, children: Iterable[_Child]) -> None:
    """Cancel the child runs no worker has taken yet: their ranges are done."""
    for child in children:
        state = (await client.read_flow_run(child.run_id)).state
        if state is not None and state.type == StateType.SCHEDULED:
            await client.set_flow_run_state(
                child.run_id, Cancelled(message="Its ranges were swept by another run")
            )


@recorded_flow(name="track-plan")
async def track_plan(plan_id: int, as_of: dt.date | None = None) -> SweepCounts:
    """The same checks for one plan."""
    day = as_of or now_utc().date()
    counts = await sweep_batch(day, plan_id, plan_id)
    await _report("track-plan", day, counts, 1)
    return counts
