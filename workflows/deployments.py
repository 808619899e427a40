"""Every deployment of the follow-up engine and its schedule, in one place.

    python -m workflows.deployments                   serve them all from this process
    python -m workflows.deployments --work-pool hub   register them on the process work pool
                                                      ``hub`` (made if missing), for
                                                      ``prefect worker start --pool hub``
    python -m workflows.deployments --work-pool hub --start-worker
                                                      register, then become such a worker
                                                      (``make serve``'s worker processes)

All talk to the Prefect server at ``PREFECT_API_URL``; ``--wait SECONDS`` first waits for it to
answer (``make run`` and ``make serve`` start the server and this process together). Schedules
are in UTC. Registering again is harmless (the deployments are updated); workers starting
together register one after the other (``registering``).

Serving stops at once and cleanly on SIGTERM (honcho on Ctrl-C, systemd, ``docker stop``) or
SIGINT: the schedules are paused if the server still answers (it then drops their pending runs;
the next start resumes them), the processes of flow runs in progress are ended, and the process
exits with status 0 within ``STOP_SECONDS``, also when the server stops at the same moment. A
stop while the deployments are still being registered ends that at once, with status 0 too.
A run that such a stop left Pending or Running on the server is marked Crashed at the next start
(``_crash_orphans``), freeing its deployment for the runs that follow.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import datetime as dt
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from prefect import Flow, deploy
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import (
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
    StateType,
)
from prefect.deployments.runner import RunnerDeployment
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_logger
from prefect.runner import Runner
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_CLIENT_MAX_RETRIES,
    PREFECT_UI_URL,
    temporary_settings,
)
from prefect.states import Crashed
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from reintegration_hub.extensions import db
from workflows import flows, milestones, outcomes
from workflows.app import unit_of_work

#: A second run of a sweep starting while one is still running is cancelled, not queued. For
#: delivery this also keeps SQLite, which has no row locks, to one deliverer at a time.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)

#: Longest a stop takes, pausing the schedules included; below the 5 s honcho waits before it
#: kills what is still running.
STOP_SECONDS = 3.5
#: Of which pausing the schedules (about 0.6 s), when the server still answers: under make run
#: it is stopping at the same moment
PAUSE_SECONDS = 1.5
#: How long a start-up that failed waits for a stop: under make run, the server's end (its
#: requests refused) may come a moment before the stop reaches this process
STARTING_STOP_SECONDS = 1.0

logger = get_logger("hub.deployments")


def deployments() -> list[RunnerDeployment]:
    """THE list of scheduled flows: add each new flow of the engine here (track_milestones,
    anonymise_closed_cases, snapshot_outcomes ...), nowhere else."""
    return [
        scheduled(
            flows.deliver_notifications,
            "deliver-notifications",
            "Send the queued e-mails (outbox).",
            interval=dt.timedelta(minutes=1),
        ),
        scheduled(
            flows.expire_referrals,
            "expire-referrals",
            "Expire referrals the partner did not answer in time (hourly).",
            cron="5 * * * *",
        ),
        scheduled(
            flows.flag_stale_listings,
            "flag-stale-listings",
            "Flag marketplace options not re-verified in time (daily).",
            cron="30 2 * * *",
        ),
        scheduled(
            flows.anonymise_closed_cases,
            "anonymise-closed-cases",
            "Anonymise closed cases past the retention period, keeping aggregates (daily).",
            cron="45 3 * * *",
        ),
        scheduled(
            milestones.track_milestones,
            "track-milestones",
            "Mark milestones due and overdue, remind, escalate, close ended windows (hourly).",
            cron="15 * * * *",
        ),
        scheduled(
            outcomes.snapshot_outcomes,
            "snapshot-outcomes",
            "Pre-aggregate the dashboard's case counts, spending and outcomes (hourly).",
            cron="50 * * * *",
        ),
        scheduled(
            milestones.sweep_ranges,
            "sweep-ranges",
            "A group of the sweep's ranges, for a run of track-milestones on a work pool.",
            concurrency_limit=None,  # many at once, on whichever workers are free
        ),
        scheduled(
            milestones.track_plan,
            "track-plan",
            "The same checks for one plan, on demand (no schedule).",
        ),
    ]


def scheduled(
    flow: Flow[..., Any],
    name: str,
    description: str,
    *,
    cron: str | None = None,
    interval: dt.timedelta | None = None,
    concurrency_limit: ConcurrencyLimitConfig | None = ONE_AT_A_TIME,
) -> RunnerDeployment:
    """A deployment of ``flow`` on a cron or interval schedule, by default one run at a time.

    Its entry point is a module path (``workflows.flows.deliver_notifications``), so a worker
    started from an install of this project runs it without any code storage.
    """
    deployment = flow.to_deployment(
        name=name,
        description=description,
        cron=cron,
        interval=interval,
        concurrency_limit=concurrency_limit,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return cast(RunnerDeployment, deployment)  # called from sync code: not a coroutine


def api_url() -> str:
    """The Prefect server's API; never the temporary in-process server Prefect would otherwise
    start (slow to start, and it loses run records at exit)."""
    url = PREFECT_API_URL.value()
    if not url:
        raise SystemExit(
            "Set PREFECT_API_URL to the Prefect server, e.g. http://127.0.0.1:4200/api"
        )
    return str(url).rstrip("/")


def wait_for_api(timeout: float) -> None:
    """Block until the Prefect server answers its health check, or raise ``TimeoutError``."""
    url = f"{api_url()}/health"
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"PREFECT_API_URL must be an http(s) address, not {url!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http(s) only
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Prefect server at {url} did not answer in {timeout:.0f} s")
        time.sleep(1)


class StoppableRunner(Runner):
    """Prefect's runner, stopped by SIGTERM or SIGINT from inside its event loop.

    Prefect's own SIGTERM handler calls the synchronous ``stop()`` while the loop runs, which
    only creates the ``astop()`` coroutine ("coroutine 'Runner.astop' was never awaited") and
    then raises ``SystemExit`` wherever the loop happens to be; the shutdown that follows pauses
    the schedules and waits for runs against a server that may be gone, past honcho's patience.
    Here a signal only asks ``_serve`` to stop, and it does the rest, within ``STOP_SECONDS``.
    """

    def __init__(self) -> None:
        # the schedules are paused by _serve, within a time limit
        super().__init__(pause_on_shutdown=False)
        self.stop_requested = False
        self._loop_stop: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """The handler of both signals, before the event loop runs and in it (``start()``
        installs it again for SIGTERM)."""
        self.stop_requested = True
        if self._loop_stop is not None:
            loop, event = self._loop_stop
            loop.call_soon_threadsafe(event.set)

    def stop_event(self) -> asyncio.Event:
        """Set once a stop is asked for, including one asked before the loop ran."""
        event = asyncio.Event()
        self._loop_stop = (asyncio.get_running_loop(), event)
        if self.stop_requested:
            event.set()
        return event


def serve_until_stopped(deployments: Sequence[RunnerDeployment]) -> None:
    """``prefect.serve(*deployments)``, but SIGTERM or SIGINT stops it promptly and cleanly
    (see the module's docstring); an error of the runner itself still propagates."""
    runner = StoppableRunner()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, runner.handle_sigterm)
    asyncio.run(_serve(runner, deployments))


async def _serve(runner: StoppableRunner, deployments: Sequence[RunnerDeployment]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # also wakes the loop at once, whichever thread the signal lands on
        loop.add_signal_handler(signum, runner.handle_sigterm)
    stop = asyncio.create_task(runner.stop_event().wait())
    starting = asyncio.create_task(_start(runner, deployments))
    await asyncio.wait({starting, stop}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done() or starting.exception() is not None:
        # A stop while registering ends it (a request to a server that is itself stopping
        # may hang or be retried for seconds); a request that failed because the server
        # stopped first is no error when the stop follows it at once.
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await asyncio.wait({stop}, timeout=STARTING_STOP_SECONDS)
        if not stop.done():
            starting.result()  # an error of its own: raised here
        logger.info("Stopped before serving")
        return
    ids = starting.result()
    runner_context = contextvars.copy_context()
    serving = asyncio.create_task(runner.start(), context=runner_context)
    await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():  # ended by itself: an error, raised here
        stop.cancel()
        serving.result()
        return
    logger.info("Stopping: pausing the schedules, ending the flow runs in progress")
    # From now on a request the server does not answer fails at once, here and in the runner's
    # own shutdown, instead of being retried for seconds: under make run the server is
    # stopping at the same moment.
    in_runner = _no_retries()
    runner_context.run(in_runner.__enter__)
    try:
        with _no_retries():
            await asyncio.wait_for(_stop(serving, ids), timeout=STOP_SECONDS)
    except TimeoutError:
        logger.warning("The runner did not stop within %.1f s: left behind", STOP_SECONDS)
    finally:
        runner_context.run(in_runner.__exit__, None, None, None)
    logger.info("Stopped")


async def _start(runner: StoppableRunner, deployments: Sequence[RunnerDeployment]) -> list[UUID]:
    """Register the deployments with the runner, and crash the runs an earlier stop left."""
    ids = [await runner.aadd_deployment(deployment) for deployment in deployments]
    await _crash_orphans(ids)
    logger.info(
        "Serving %d deployments; flow runs and schedules in the Prefect UI at %s",
        len(ids),
        PREFECT_UI_URL.value() or api_url().removesuffix("/api"),
    )
    return ids


def _no_retries() -> contextlib.AbstractContextManager[object]:
    return temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0})


async def _stop(serving: asyncio.Task[None], ids: Sequence[UUID]) -> None:
    await _pause(ids)  # first, while the server may still answer
    # then Prefect's own Ctrl-C path: the runner's task is cancelled, its loops stop, the
    # processes of flow runs still in progress are terminated (they end Crashed), its client
    # is closed; no request to the server is needed (Runner.astop asks it about every run)
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


async def _crash_orphans(ids: Sequence[UUID]) -> None:
    """Mark Crashed the runs of these deployments that an earlier stop left Pending or Running.

    Only this process runs them (serving), and it has not started yet: such a run has no
    process. It happens when the server stopped at the same moment (Ctrl-C on make run) and
    never heard how the run ended; it would hold its deployment's one concurrency slot for good,
    and every later run of that deployment would be cancelled. Crashed frees the slot.
    """
    async with get_client() as client:
        orphans = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=list(ids)),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(
                        any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]
                    )
                ),
            )
        )
        for run in orphans:
            await client.set_flow_run_state(
                run.id, Crashed(message="Its runner stopped before the run ended."), force=True
            )
    if orphans:
        logger.info(
            "Marked Crashed %d flow runs an earlier stop left unfinished: %s",
            len(orphans),
            ", ".join(run.name for run in orphans),
        )


async def _pause(ids: Sequence[UUID]) -> None:
    """Pause the schedules, so that the server drops their pending runs rather than leave them
    late; a server that does not answer in time only costs a warning."""
    try:
        async with asyncio.timeout(PAUSE_SECONDS), get_client() as client:
            for deployment_id in ids:  # one by one: at once, an SQLite server takes 10x longer
                await client.pause_deployment(deployment_id)
    except Exception as error:  # any failure here only loses the pause
        # expected under make run, whose Ctrl-C stops the server at the same moment
        logger.info(
            "The schedules were not paused (%s): the runs due meanwhile start, or are "
            "cancelled as duplicates, at the next start",
            type(error).__name__,
        )


#: seconds between the heartbeats of a flow run started by a worker (Procfile.production sets
#: PREFECT_FLOWS_HEARTBEAT_FREQUENCY to it; Prefect's default is 180)
HEARTBEAT_SECONDS = 60
#: seconds a flow run may stay Pending (submitted to a worker, its process not yet running)
PENDING_SECONDS = 300

#: How a process worker starts each flow run: the engine itself, in one new process. Without a
#: command, Prefect 3.8's process worker starts a workspace supervisor first, a second Python
#: process (1.3 s of CPU a run for its imports alone) to copy code storage these deployments
#: do not have (their entry points are module paths of this installed project). ``python`` is
#: the worker's own: ``start_worker`` puts its directory first on the PATH.
ENGINE_COMMAND = "python -m prefect.engine"


def register(work_pool: str, *, pending_seconds: float = PENDING_SECONDS) -> None:
    """Every deployment on the process work pool ``work_pool``, made if it does not exist, and
    the automations that end the runs a dead worker leaves behind (``crash_automations``)."""
    on_pool = deployments()
    for deployment in on_pool:
        deployment.job_variables = {**deployment.job_variables, "command": ENGINE_COMMAND}
    with registering():
        asyncio.run(_ensure_work_pool(work_pool))
        asyncio.run(_ensure_automations(crash_automations(pending_seconds)))
        deploy(
            *on_pool,
            work_pool_name=work_pool,
            print_next_steps_message=False,
            ignore_warnings=True,
        )
    logger.info("Registered %d deployments on work pool %s", len(deployments()), work_pool)


@contextlib.contextmanager
def registering() -> Iterator[None]:
    """One registration at a time across the workers of one application database: two at
    once can each replace a deployment's schedules and leave it scheduled twice."""
    with unit_of_work():
        if db.engine.dialect.name == "postgresql":  # held until the block's transaction ends
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(REGISTERING_LOCK)))
        yield


#: the advisory lock of ``registering`` (any constant no other lock of the application uses)
REGISTERING_LOCK = 0x6875_6270_6F6F6C  # "hubpool"


def crash_automations(pending_seconds: float) -> list[AutomationCore]:
    """Mark Crashed a flow run whose worker died under it, so that it frees its deployment's
    one-at-a-time slot (``ONE_AT_A_TIME``) and the next scheduled run starts.

    A worker stopped or killed with its flow run leaves the run Running (its process gone, it
    sends no more heartbeats) or Pending (killed while submitting it); nothing else would
    ever end it, and every later run of that deployment would be cancelled as a duplicate.
    Prefect's own remedy for "zombie" runs, an automation on the heartbeat events: no
    heartbeat (nor end) within three heartbeats, or no start within ``pending_seconds``.
    """
    ended = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled")}
    ended |= {"prefect.flow-run.Crashed", "prefect.flow-run.Cancelling"}
    flow_runs = ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]})
    crash = ChangeFlowRunState(
        name="Crashed",
        state=StateType.CRASHED,
        message="Its worker stopped answering.",
        force=True,
    )
    return [
        AutomationCore(
            name="hub: crash flow runs without heartbeats",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", *ended},
                match=flow_runs,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=dt.timedelta(seconds=3 * HEARTBEAT_SECONDS),
            ),
            actions=[crash],
        ),
        AutomationCore(
            name="hub: crash flow runs never started",
            trigger=EventTrigger(
                after={"prefect.flow-run.Pending"},
                expect={"prefect.flow-run.Running", "prefect.flow-run.Scheduled", *ended},
                match=flow_runs,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=dt.timedelta(seconds=pending_seconds),
            ),
            actions=[crash],
        ),
    ]


async def _ensure_automations(automations: Sequence[AutomationCore]) -> None:
    """Each automation as given, replacing one of the same name (one per name)."""
    async with get_client() as client:
        for automation in automations:
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            await client.create_automation(automation)


async def _ensure_work_pool(name: str) -> None:
    async with get_client() as client:
        try:
            await client.read_work_pool(name)
            return
        except ObjectNotFound:
            pass
        with contextlib.suppress(ObjectAlreadyExists):  # made meanwhile by another worker
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=ProcessWorker.type,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            logger.info("Made the process work pool %s", name)


def start_worker(work_pool: str, limit: int) -> None:
    """Become a worker of ``work_pool`` (``workflows.worker``: ``prefect worker start``, its
    stop bounded); this process is replaced, so that a SIGTERM reaches the worker itself (it
    stops polling and its flow runs end), and what registering loaded is let go."""
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    command = [sys.executable, "-m", "workflows.worker", "--pool", work_pool]
    os.execv(sys.executable, [*command, "--type", ProcessWorker.type, "--limit", str(limit)])  # noqa: S606 - our own interpreter


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m workflows.deployments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--work-pool", help="register on this work pool instead of serving")
    parser.add_argument(
        "--start-worker",
        action="store_true",
        help="after registering on --work-pool, become a worker of it",
    )
    parser.add_argument(
        "--limit", type=int, default=4, help="flow runs such a worker runs at once (4)"
    )
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS")
    parser.add_argument(
        "--pending-seconds",
        type=float,
        default=PENDING_SECONDS,
        help=f"a flow run Pending longer is marked Crashed ({PENDING_SECONDS})",
    )
    args = parser.parse_args(argv)
    if args.start_worker and not args.work_pool:
        parser.error("--start-worker needs --work-pool")
    if args.pending_seconds < 10:  # Prefect's least for a trigger on a missing event
        parser.error("--pending-seconds must be 10 or more")
    api_url()
    if args.wait:
        wait_for_api(args.wait)
    if not args.work_pool:
        serve_until_stopped(deployments())
        return
    register(args.work_pool, pending_seconds=args.pending_seconds)
    if args.start_worker:
        start_worker(args.work_pool, args.limit)


if __name__ == "__main__":
    main()
