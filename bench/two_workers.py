"""Two Prefect workers sharing the engine's runs, against a PostgreSQL-backed Prefect server.

    .venv/bin/python -m bench.two_workers --admin-url postgresql://postgres@127.0.0.1:5432/postgres

Everything on 127.0.0.1, bounded in time (``--timeout``), cleaned up at the end:

1. creates two throw-away PostgreSQL databases through ``--admin-url`` (the application's,
   migrated to head, and the Prefect server's), and drops them at the end;
2. starts an SMTP sink (aiosmtpd) in this process that keeps every message it receives;
3. starts ``prefect server start`` on the Prefect database, creates a process work pool, and
   registers every deployment on it with ``python -m workflows.deployments --work-pool``
   (their schedules are then switched off, so only the runs started here happen);
4. starts two workers, ``python -m workflows.worker --pool ... --limit 2`` as ``make serve``
   runs them (``worker-1``, ``worker-2``);
5. for ``--rounds`` rounds: queues ``--messages`` e-mails in the outbox, starts one run each
   of ``deliver-notifications``, ``expire-referrals``, ``flag-stale-listings`` and
   ``anonymise-closed-cases`` (``run_deployment(..., timeout=0)``), and waits for them;
6. prints which worker ran each flow run (its ``prefect.worker.name`` label), the application's
   own record of the run (``flow_runs``: state and counts), and checks that every queued
   message arrived exactly once (distinct Message-IDs, every outbox row sent) and that both
   workers ran flow runs;
7. the sweep (``--sweep-plans``, 0 to skip): generates that many plans (``bench.track_milestones``)
   and starts track-milestones on the pool with eight ranges; it hands them, two at a time, to
   child runs of ``sweep-ranges`` that both workers pick up. As soon as a child runs on the
   worker that does not run the parent, that worker's process group (the worker and its
   flow-run process) is killed with SIGKILL. The parent must notice the child that will never
   finish (``--stall-seconds`` without a finished range), mark it Crashed and hand its ranges
   to the surviving worker, and complete. Prints which child run and worker swept each range,
   and checks every range was swept exactly once (the ``swept_ranges`` records) and that a
   sweep after it has nothing left to change (``bench.sweep_floor``, rolled back).

Exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEPLOYMENTS = (
    "deliver-notifications/deliver-notifications",
    "expire-referrals/expire-referrals",
    "flag-stale-listings/flag-stale-listings",
    "anonymise-closed-cases/anonymise-closed-cases",
)
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def throwaway_databases(admin_url: str, *names: str) -> Iterator[None]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in names:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


class Processes:
    """Child processes started in their own process group, each stopped at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        child = subprocess.Popen(  # noqa: S603 - our own executables
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.children.append((name, child))
        return child

    def stop_all(self) -> None:
        for _name, child in reversed(self.children):
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, child in reversed(self.children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def wait_for_health(api_url: str, server: subprocess.Popen[bytes], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.poll() is not None:
            raise SystemExit("the Prefect server stopped; see its log")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"the Prefect server did not answer in {timeout:.0f} s")


def queue_messages(app: Any, count: int, round_no: int) -> None:
    """``count`` due e-mails, each to its own address (no digest), straight into the outbox."""
    from reintegration_hub.core.db import now_utc
    from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
    from reintegration_hub.extensions import db

    now = now_utc()
    with app.app_context():
        db.session.add_all(
            OutboxMessage(
                key=f"bench:{round_no}:{n}",
                kind="bench",
                to_address=f"partner{round_no}-{n}@example.org",
                subject=f"Bench message {round_no}-{n}",
                body_text="Two workers bench.",
                status=OutboxStatus.QUEUED,
                attempts=0,
                last_error="",
                created_at=now,
                next_attempt_at=now,
            )
            for n in range(count)
        )
        db.session.commit()


SWEEP_AS_OF = dt.date(2026, 6, 1)
#: ranges of the sweep scenario, two to a child run of sweep-ranges
SWEEP_RANGES = 8


def sweep_scenario(
    app: Any,
    workers: dict[str, subprocess.Popen[bytes]],
    plans: int,
    stall_seconds: float,
    deadline: float,
) -> list[str]:
    """track-milestones on the pool, its ranges spread over both workers, one of them killed
    (SIGKILL of its process group: the worker and its flow-run process) while a child run of
    it sweeps; the run must still complete, every range swept exactly once. The failures."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
    )
    from prefect.deployments import run_deployment

    from bench.sweep_floor import sweep_floor
    from bench.track_milestones import generate
    from reintegration_hub.core.db import now_utc
    from reintegration_hub.extensions import db
    from reintegration_hub.followups.sweep import plan_id_ranges, swept_ranges

    failures: list[str] = []
    with app.app_context():
        generate(plans, SWEEP_AS_OF)
        batch = -(-plans // SWEEP_RANGES)
        expected = plan_id_ranges(batch)
        db.session.commit()
    print(
        f"\nsweep: {plans} plans, {len(expected)} ranges of {batch}, stall bound"
        f" {stall_seconds:.0f} s"
    )
    began = now_utc()
    parent = run_deployment(
        "track-milestones/track-milestones",
        parameters={
            "as_of": SWEEP_AS_OF.isoformat(),
            "batch_size": batch,
            "stall_seconds": stall_seconds,
        },
        timeout=0,
    )
    killed: tuple[str, Any] | None = None
    children: dict[Any, Any] = {}
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(parent.id)
            for child in client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    start_time=FlowRunFilterStartTime(after_=began - dt.timedelta(seconds=5))
                ),
                deployment_filter=DeploymentFilter(
                    name=DeploymentFilterName(any_=["sweep-ranges"])
                ),
            ):
                if child.parameters.get("sweep_id") == str(parent.id):
                    children[child.id] = child
            if run.state_type.value in FINAL:
                break
            if time.monotonic() > deadline:
                failures.append("the sweep did not finish in time")
                break
            parent_worker = run.labels.get("prefect.worker.name")
            if killed is None and parent_worker:
                for child in children.values():
                    worker = child.labels.get("prefect.worker.name")
                    if child.state_type.value == "RUNNING" and worker not in (None, parent_worker):
                        os.killpg(workers[worker].pid, signal.SIGKILL)
                        killed = (worker, child.id)
                        print(f"  killed {worker} (SIGKILL, process group) while {child.name} ran")
                        break
            time.sleep(0.2)
        run = client.read_flow_run(parent.id)
        children = {c: client.read_flow_run(c) for c in children}
    with app.app_context():
        done = [
            (r.first_plan_id, r.last_plan_id, r.flow_run_id) for r in swept_ranges(str(parent.id))
        ]
        after = sweep_floor(SWEEP_AS_OF, now_utc())  # what the sweep left undone: nothing
        db.session.rollback()
    print(f"  track-milestones {run.state_type.value} on {run.labels.get('prefect.worker.name')}")
    for child in sorted(children.values(), key=lambda c: c.expected_start_time or began):
        ranges = ", ".join(f"{a}-{b}" for a, b in child.parameters.get("ranges", []))
        print(
            f"  {child.name:<30} {child.labels.get('prefect.worker.name', '?'):<9}"
            f" {child.state_type.value:<10} ranges {ranges}"
        )
    by_run = {str(c): children[c].labels.get("prefect.worker.name", "?") for c in children}
    print("  range          swept by run                           worker")
    for first, last, run_id in done:
        print(f"  {first:>6}-{last:<6}  {run_id:<36}  {by_run.get(run_id, '?')}")
    swept = [(first, last) for first, last, _ in done]
    workers_used = {by_run.get(run_id) for _, _, run_id in done}
    if run.state_type.value != "COMPLETED":
        failures.append(f"track-milestones ended {run.state_type.value}")
    if sorted(swept) != expected or len(set(swept)) != len(swept):
        failures.append(f"ranges swept {swept}, expected each of {expected} once")
    if killed is None:
        failures.append("no worker was killed while a child run of the sweep ran")
    elif killed[1] in children and children[killed[1]].state_type.value != "CRASHED":
        failures.append(f"the killed child ended {children[killed[1]].state_type.value}")
    if len(workers_used) < 2 and killed is None:
        failures.append("the ranges did not spread over both workers")
    if any(after.values()):
        failures.append(f"the sweep left work undone: {after}")
    print(
        f"  ranges per worker: "
        f"{dict(Counter(by_run.get(run_id, '?') for _, _, run_id in done))}; a sweep after it"
        f" changes nothing: {not any(after.values())}"
    )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.two_workers", description=__doc__)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "HUB_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL role allowed to create and drop databases",
    )
    parser.add_argument("--messages", type=int, default=100, help="e-mails queued per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    parser.add_argument("--port", type=int, default=0, help="the Prefect server's (0: any free)")
    parser.add_argument(
        "--sweep-plans", type=int, default=4000, help="plans of the sweep scenario (0: none)"
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=60,
        help="the sweep's bound on a child run without a finished range",
    )
    args = parser.parse_args(argv)
    began = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    app_db, prefect_db = f"hub_two_workers_{suffix}", f"hub_two_workers_prefect_{suffix}"
    app_url = with_database(args.admin_url, app_db)
    prefect_url = with_database(args.admin_url, prefect_db).replace(
        "postgresql://", "postgresql+asyncpg://", 1
    )
    home = Path(tempfile.mkdtemp(prefix="hub-two-workers-"))
    port = args.port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    pool = f"hub-bench-{suffix}"

    from tests.notifications.smtp import smtp_server

    base_env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
    }
    os.environ.update({k: base_env[k] for k in ("PREFECT_HOME", "PREFECT_API_URL")})
    processes = Processes(home)
    failures: list[str] = []
    with (
        throwaway_databases(args.admin_url, app_db, prefect_db),
        smtp_server() as sink,
    ):
        try:
            from bench.harness import upgraded
            from reintegration_hub import create_app

            app = upgraded(create_app({"DATABASE_URL": app_url}))
            worker_env = {
                **base_env,
                "HUB_DATABASE_URL": app_url,
                "HUB_SMTP_HOST": "127.0.0.1",
                "HUB_SMTP_PORT": str(sink.port),
                "HUB_OUTBOX_BATCH_SIZE": "50",
                "PREFECT_WORKER_QUERY_SECONDS": "2",
                "PREFECT_WORKER_PREFETCH_SECONDS": "5",
                # the deployments' command is `python -m prefect.engine`: this install's
                "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
            }
            server = processes.start(
                "server",
                [
                    str(BIN / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                {**base_env, "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_url},
            )
            took = wait_for_health(api_url, server, 120)
            print(f"Prefect server on PostgreSQL answered after {took:.1f} s")
            subprocess.run(  # noqa: S603
                [str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process"],
                env=base_env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            subprocess.run(  # noqa: S603
                [str(BIN / "python"), "-m", "workflows.deployments", "--work-pool", pool],
                env=worker_env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            from prefect.client.orchestration import get_client
            from prefect.deployments import run_deployment

            with get_client(sync_client=True) as client:
                deployments = client.read_deployments()
                for deployment in deployments:
                    for schedule in client.read_deployment_schedules(deployment.id):
                        client.update_deployment_schedule(deployment.id, schedule.id, active=False)
                print(f"{len(deployments)} deployments on work pool {pool}, schedules off")
            workers: dict[str, subprocess.Popen[bytes]] = {}
            for name in ("worker-1", "worker-2"):
                workers[name] = processes.start(
                    name,
                    [
                        str(BIN / "python"),
                        "-m",
                        "workflows.worker",
                        "--pool",
                        pool,
                        "--name",
                        name,
                        "--limit",
                        "2",
                    ],
                    worker_env,
                )

            run_ids: list[uuid.UUID] = []
            deployment_of: dict[uuid.UUID, str] = {}
            for round_no in range(args.rounds):
                queue_messages(app, args.messages, round_no)
                started = []
                for name in DEPLOYMENTS:
                    flow_run = run_deployment(name, timeout=0)
                    started.append(flow_run.id)
                    deployment_of[flow_run.id] = name.partition("/")[0]
                run_ids += started
                with get_client(sync_client=True) as client:
                    while True:
                        states = [client.read_flow_run(i).state_type.value for i in started]
                        if all(s in FINAL for s in states):
                            break
                        if time.monotonic() - began > args.timeout:
                            failures.append(f"round {round_no + 1} did not finish in time")
                            break
                        time.sleep(1)
                print(
                    f"round {round_no + 1}: {len(started)} runs finished "
                    f"({time.monotonic() - began:.0f} s since start)"
                )
                if failures:
                    break

            with get_client(sync_client=True) as client:
                runs = [client.read_flow_run(i) for i in run_ids]
            with app.app_context():
                from sqlalchemy import select

                from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
                from reintegration_hub.extensions import db
                from reintegration_hub.operations.models import FlowRunRecord

                records = {
                    r.prefect_flow_run_id: r for r in db.session.scalars(select(FlowRunRecord))
                }
                statuses = Counter(db.session.scalars(select(OutboxMessage.status)))
            print()
            print(f"{'flow run':<22} {'deployment':<24} {'worker':<9} {'state':<10} app record")
            by_worker: Counter[str] = Counter()
            for run in runs:
                worker = run.labels.get("prefect.worker.name", "?")
                by_worker[worker] += 1
                record = records.get(str(run.id))
                recorded = (
                    f"{record.state.value} {dict(record.counts)}" if record else "(no record)"
                )
                print(
                    f"{run.name:<22} {deployment_of[run.id]:<24} "
                    f"{worker:<9} {run.state_type.value:<10} {recorded}"
                )
                if run.state_type.value != "COMPLETED":
                    failures.append(f"{run.name} ended {run.state_type.value}")
                if record is None:
                    failures.append(f"{run.name} left no flow_runs record")
            queued = args.messages * args.rounds
            ids = sink.message_ids()
            print()
            print(f"flow runs per worker: {dict(sorted(by_worker.items()))}")
            print(
                f"e-mails: {queued} queued, {len(ids)} received, {len(set(ids))} distinct "
                f"Message-IDs; outbox {dict((s.value, n) for s, n in statuses.items())}"
            )
            if len(ids) != queued or len(set(ids)) != queued:
                failures.append("an e-mail was lost or sent twice")
            if statuses.get(OutboxStatus.SENT, 0) != queued:
                failures.append("not every outbox row is sent")
            if len([w for w in by_worker if w != "?"]) < 2:
                failures.append("the runs did not spread over both workers")
            if args.sweep_plans and not failures:
                failures += sweep_scenario(
                    app, workers, args.sweep_plans, args.stall_seconds, began + args.timeout
                )
        except BaseException:
            failures.append("the bench stopped on an error (traceback above)")
            print(f"logs of the server and workers kept in {home}")
            raise
        finally:
            processes.stop_all()
            with contextlib.suppress(Exception):
                from reintegration_hub.extensions import db

                with app.app_context():
                    db.engine.dispose()
    if failures:
        print(f"logs of the server and workers kept in {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    print(f"total {time.monotonic() - began:.0f} s; databases dropped, processes stopped")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
