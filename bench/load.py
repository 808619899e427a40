"""Load on the production topology: Locust users against ``make serve``'s processes, with the
follow-up sweep running through the work pool meanwhile (issue 18).

    .venv/bin/pip install -e '.[bench]'                       # Locust
    .venv/bin/python -m bench.dashboard --database-url URL --keep    # 100,000 cases, once
    .venv/bin/python -m bench.load --database-url URL [--users 50 200] [--seconds 60]

The database must hold what ``bench.dashboard --keep`` leaves (100,000 cases, 300,000 plan
lines, the marketplace, surveys, an outcome snapshot). Then, on 127.0.0.1:

1. the bench's accounts get a password (argon2 at its production cost), and a fixture file
   names them with the cases of theirs that have a plan (``bench/load_users.py`` reads it);
   the database is vacuumed (the steady state autovacuum keeps: earlier runs' sweeps leave
   old row versions behind);
2. a throw-away PostgreSQL database for the Prefect server, and Procfile.production started
   as ``make serve`` starts it (gunicorn: ``--web-concurrency`` workers of ``--worker-class``
   with ``--threads``; the Prefect server; one worker of a process work pool), production
   settings, Redis for the sign-in limits, behind a (simulated) TLS proxy; every schedule
   but the outbox's (``deliver-notifications``, each minute) paused, so that the hourly and
   daily flows do not fall in the window by the time of day;
3. for each ``--users`` count: Locust headless, the users started (and signed in) over 10 s;
   then ``--settle`` seconds (30) in which the sign-ins' backlog drains (50 argon2 hashes at
   the production cost keep both cores busy for seconds; a working day has no such storm),
   then the measured ``--seconds`` (each user 1-3 s between clicks), while
   ``track-milestones`` (the hourly sweep of every plan) is started through the work pool
   every ``--sweep-every`` seconds (one falls in the measured window), and with
   ``--snapshot`` the hourly outcome snapshot 10 s into it; every request is recorded
   (``bench/load_users.py``), and a table per page kind covers the requests started in the
   measured window: requests, requests/s, p50, p95, p99, max, errors (the sign-ins and the
   settling apart), the share of a core each kind of process used in the window (from
   ``/proc``; every second in ``cpu_USERS.csv`` beside the requests' ``users_USERS.csv``),
   and the flow runs' states and times;
4. everything stopped (SIGTERM, as systemd stops a service), the Prefect database dropped.

The target (issue 18): at 50 users 0 errors and p95 < 300 ms for every page kind. Locust,
gunicorn, the Prefect server and worker and PostgreSQL share this machine's cores: the
figures are those of one box doing everything.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import bench_app, upgraded
from bench.two_workers import free_port, throwaway_databases, with_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-load-password-1"  # noqa: S105 - the bench's own throw-away accounts
SWEEP = "track-milestones/track-milestones"
SNAPSHOT = "snapshot-outcomes/snapshot-outcomes"
#: the one schedule left running: the outbox's, every minute as in production. The others
#: (hourly and daily) are paused, so that what runs beside the users does not depend on the
#: time of day the bench starts: the sweep is started by the bench, the snapshot with
#: ``--snapshot``
KEPT_SCHEDULE = "deliver-notifications"
TARGET_P95_MS = 300
#: users are started over this many seconds (each signs in first: argon2 at its production
#: cost), before the settling and the measured ``--seconds``
RAMP_SECONDS = 10
#: the page kinds of bench/load_users.py, each of which must meet the target
KINDS = {
    "marketplace search",
    "API marketplace search",
    "case list",
    "plan page",
    "dashboard",
    "API cases",
    "API plans",
}


def prepare(database_url: str, fixture: Path) -> None:
    """Passwords for the bench's accounts, the fixture file of ``bench/load_users.py``, and the
    database vacuumed."""
    from reintegration_hub.auth.models import User
    from reintegration_hub.auth.services import hash_password
    from reintegration_hub.cases.models import Returnee
    from reintegration_hub.core.roles import Role
    from reintegration_hub.extensions import db
    from reintegration_hub.plans.models import Plan

    app = upgraded(bench_app(database_url))  # as make serve migrates before it starts
    with app.app_context():
        if (db.session.scalar(sa.select(sa.func.count()).select_from(Plan)) or 0) < 1000:
            raise SystemExit("No plans: run bench.dashboard --database-url URL --keep first")
        accounts: dict[str, list[dict[str, Any]]] = {
            "counsellor": [],
            "case_manager": [],
            "programme_manager": [],
        }
        hashed = hash_password(PASSWORD)
        staff = db.session.scalars(
            sa.select(User).where(
                User.email.like("bench.%@bench.example"),
                User.role.in_([Role.COUNSELLOR, Role.CASE_MANAGER, Role.PROGRAMME_MANAGER]),
            )
        ).all()
        for user in staff:
            user.password_hash = hashed
            user.is_active = True
            cases = list(
                db.session.scalars(
                    sa.select(Returnee.id)
                    .join(Plan, Plan.returnee_id == Returnee.id)
                    .where(Returnee.visible_to(user))
                    .order_by(Returnee.id)
                    .limit(500)
                )
            )
            accounts[user.role.value].append({"email": user.email, "cases": cases})
        countries = sorted(db.session.scalars(sa.select(Returnee.return_country_code).distinct()))
        db.session.commit()
        # the steady state autovacuum keeps a live database in: the sweeps of earlier runs
        # left their rows' old versions, and index-only counts would visit the table for them
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    if not all(accounts.values()):
        raise SystemExit(f"Missing bench accounts: {[k for k, v in accounts.items() if not v]}")
    fixture.write_text(
        json.dumps({"password": PASSWORD, "accounts": accounts, "countries": countries})
    )


def api(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the bench's own server
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def wait_for(what: str, check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError, KeyError):
            if check():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {seconds:.0f} s")
        time.sleep(1)


def pause_schedules(prefect_api: str) -> list[str]:
    """Pause every deployment's schedule but ``KEPT_SCHEDULE``'s; the names paused."""
    paused = []
    for deployment in api(f"{prefect_api}/deployments/filter", {}):
        if deployment["name"] != KEPT_SCHEDULE and deployment["schedules"]:
            api(f"{prefect_api}/deployments/{deployment['id']}/pause_deployment", {})
            paused.append(deployment["name"])
    return sorted(paused)


class Sweeps(threading.Thread):
    """Starts a sweep through the work pool every ``every`` seconds until stopped, and the
    outcome snapshot once ``snapshot_after`` seconds after the start (None: never); the runs."""

    def __init__(self, prefect_api: str, every: float, snapshot_after: float | None) -> None:
        super().__init__(daemon=True)
        self.api, self.every, self.snapshot_after = prefect_api, every, snapshot_after
        self.stopping = threading.Event()
        self.runs: list[tuple[str, str]] = []  # (deployment, flow run id)
        self.deployment = api(f"{prefect_api}/deployments/name/{SWEEP}")["id"]

    def start_run(self, deployment_id: str, name: str) -> None:
        run = api(f"{self.api}/deployments/{deployment_id}/create_flow_run", {})
        self.runs.append((name, run["id"]))

    def run(self) -> None:
        snapshot = None
        if self.snapshot_after is not None:
            snapshot = api(f"{self.api}/deployments/name/{SNAPSHOT}")["id"]
            snapshot_at = time.monotonic() + self.snapshot_after
        next_sweep = time.monotonic()
        while not self.stopping.is_set():
            if self.every and time.monotonic() >= next_sweep:
                self.start_run(self.deployment, SWEEP.split("/")[0])
                next_sweep += self.every
            if snapshot and time.monotonic() >= snapshot_at:
                self.start_run(snapshot, SNAPSHOT.split("/")[0])
                snapshot = None
            self.stopping.wait(1)

    def report(self) -> str:
        lines = []
        for name, run_id in self.runs:
            run = api(f"{self.api}/flow_runs/{run_id}")
            took = run.get("total_run_time") or 0
            lines.append(f"{name} {run['name']}: {run['state_type']}, {took:.1f} s")
        return "; ".join(lines)


#: What each process is, by its command line: (part of it, the name it is counted under);
#: the first match counts. A flow run's process (``prefect.engine``, started by the worker) is
#: counted with the flow runs while it lives, and through the worker's reaped children after.
PROCESSES = [
    ("prefect.engine", "flow runs"),
    ("workflows.deployments", "Prefect worker"),
    ("workflows.worker", "Prefect worker"),  # what workflows.deployments --start-worker becomes
    ("gunicorn", "gunicorn"),
    ("server start", "Prefect server"),
    ("prefect.server", "Prefect server"),
    ("bench.load", "the bench"),  # before PostgreSQL: its command names the database URL
    ("postgres", "PostgreSQL"),
    ("locust", "Locust"),
    ("redis-server", "Redis"),
]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[str, float]:
    """CPU seconds by ``PROCESSES`` name, of every process alive and of the children each has
    reaped (so a process that ended meanwhile still counts, under its parent's name, except
    the worker's children: the flow runs)."""
    totals: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = stat.read_text().rsplit(")", 1)[1].split()
            own, children = (int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
            name = next((n for part, n in PROCESSES if part in command), None)
            if name is None:
                continue
            totals[name] = totals.get(name, 0.0) + own / TICKS
            reaped = "flow runs" if name == "Prefect worker" else name
            totals[reaped] = totals.get(reaped, 0.0) + children / TICKS
    return totals


class CpuSampler(threading.Thread):
    """``cpu_seconds`` once a second until stopped, with the time of each sample."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.samples: list[tuple[float, dict[str, float]]] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append((time.time(), cpu_seconds()))
            self.stopping.wait(1)

    def write(self, path: Path) -> None:
        """The samples as CSV: time, then each process kind's CPU seconds so far."""
        names = sorted({name for _, totals in self.samples for name in totals})
        with path.open("w") as out:
            out.write(",".join(["time", *names]) + "\n")
            for at, totals in self.samples:
                figures = [f"{totals.get(name, 0.0):.2f}" for name in names]
                out.write(",".join([f"{at:.3f}", *figures]) + "\n")

    def between(self, start: float, end: float) -> dict[str, float]:
        """Share of one core each process kind used from ``start`` to ``end`` (the samples
        nearest them)."""
        first = min(self.samples, key=lambda s: abs(s[0] - start))
        last = min(self.samples, key=lambda s: abs(s[0] - end))
        seconds = last[0] - first[0]
        if seconds <= 0:
            return {}
        return {
            name: (last[1].get(name, 0.0) - first[1].get(name, 0.0)) / seconds
            for name in sorted(set(first[1]) | set(last[1]))
        }


@dataclass
class Window:
    """The requests of one Locust run by page kind (milliseconds, failed) in a time window."""

    seconds: float
    kinds: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    start: float = 0.0

    def add(self, name: str, ms: float, failed: bool) -> None:
        self.kinds.setdefault(name, []).append((ms, failed))


def load(
    host: str, users: int, settle: int, seconds: int, out: Path, fixture: Path
) -> tuple[Window, Window]:
    """Locust, headless; the requests started while the sign-ins' backlog settled, and those
    of the measured ``seconds`` after it."""
    record = out / f"users_{users}.csv"
    subprocess.run(  # noqa: S603 - our own install's Locust
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "bench" / "load_users.py"),
            "--headless",
            "--only-summary",
            "--users",
            str(users),
            "--spawn-rate",
            str(max(1, users // RAMP_SECONDS)),
            "--run-time",
            f"{RAMP_SECONDS + settle + seconds}s",
            "--host",
            host,
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, "LOAD_FIXTURE": str(fixture), "LOAD_RECORD": str(record)},
        cwd=ROOT,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    with record.open() as lines:
        rows = [line.rstrip("\n").split(",") for line in lines]
    spawned = min(float(at) for at, name, *_ in rows if name == "spawned")
    measured_from = spawned + settle
    settling, measured = Window(settle, start=spawned), Window(seconds, start=measured_from)
    for at, name, ms, failed in rows:
        start = float(at)
        if name == "spawned" or start < spawned:
            continue
        window = settling if start < measured_from else measured
        if start < measured_from + seconds:
            window.add(name, float(ms), failed == "1")
    return settling, measured


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` of 1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def table(window: Window, title: str) -> bool:
    """Print the window's figures per page kind; whether every page kind met the target."""
    print(f"\n{title}:")
    print(
        f"{'page kind':<24}{'requests':>9}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}"
        f"{'max':>8}{'errors':>8}"
    )
    met = set(window.kinds) >= KINDS
    every: list[tuple[float, bool]] = []
    for name in sorted(window.kinds, key=lambda n: (n == "sign-in", n)):
        done = window.kinds[name]
        if name != "sign-in":
            every += done
        ms = [m for m, _ in done]
        failures = sum(failed for _, failed in done)
        p95 = percentile(ms, 0.95)
        if name in KINDS and (p95 >= TARGET_P95_MS or failures):
            met = False
        print(
            f"{name:<24}{len(done):>9}{len(done) / window.seconds:>8.1f}"
            f"{percentile(ms, 0.5):>7.0f}{p95:>7.0f}{percentile(ms, 0.99):>7.0f}"
            f"{max(ms):>8.0f}{failures:>8}"
        )
    if every:
        ms = [m for m, _ in every]
        print(
            f"{'pages and APIs':<24}{len(every):>9}{len(every) / window.seconds:>8.1f}"
            f"{percentile(ms, 0.5):>7.0f}{percentile(ms, 0.95):>7.0f}"
            f"{percentile(ms, 0.99):>7.0f}{max(ms):>8.0f}{sum(f for _, f in every):>8}"
        )
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", required=True, help="what bench.dashboard --keep filled")
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--settle", type=int, default=30, help="seconds after the sign-ins before measuring"
    )
    parser.add_argument(
        "--sweep-every", type=float, default=60, help="seconds between sweeps (0: none)"
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="also start the hourly outcome snapshot 10 s into the measured window",
    )
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--web-concurrency", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hub-load-"))
    fixture = work / "fixture.json"
    prepare(args.database_url, fixture)
    admin_url = with_database(args.database_url, "postgres")
    prefect_db = f"hub_load_prefect_{uuid.uuid4().hex[:8]}"
    web_port, prefect_port = free_port(), free_port()
    web, prefect_api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{prefect_port}/api"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))},
        "HUB_ENV": "production",
        "HUB_SECRET_KEY": uuid.uuid4().hex * 2,
        "HUB_DATABASE_URL": args.database_url,
        "HUB_RATELIMIT_STORAGE_URI": os.environ.get(
            "HUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"
        ),
        "HUB_DOCUMENT_KEYS": "b" * 43 + "=",
        "HUB_PUBLIC_BASE_URL": "https://hub.example.org",
        "HUB_TRUSTED_PROXIES": "1",
        "HUB_SMTP_HOST": "127.0.0.1",
        "HUB_SMTP_PORT": str(free_port()),  # nothing listens: e-mails wait in the outbox
        "HUB_WORK_POOL": f"hub-load-{uuid.uuid4().hex[:6]}",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": with_database(
            args.database_url, prefect_db
        ).replace("postgresql://", "postgresql+asyncpg://", 1),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_PORT": str(prefect_port),
        "PREFECT_HOME": str(work / "prefect"),
        "WEB_BIND": f"127.0.0.1:{web_port}",
        "WEB_CONCURRENCY": str(args.web_concurrency),
        "WEB_THREADS": str(args.threads),
        "WEB_WORKER_CLASS": args.worker_class,
        "PYTHONUNBUFFERED": "1",
    }
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load "
        f"{os.getloadavg()[0]:.1f}; gunicorn {args.web_concurrency} x {args.worker_class}"
        + (f" ({args.threads} threads)" if args.worker_class == "gthread" else ""),
        flush=True,
    )
    met = True
    with throwaway_databases(admin_url, prefect_db):
        check = subprocess.run(  # noqa: S603
            [str(BIN / "python"), "-m", "reintegration_hub.serving"],
            env=environment,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if check.returncode:
            raise SystemExit(check.stderr)
        subprocess.run(["make", "-s", "bytecode"], cwd=ROOT, check=True)  # noqa: S607 - as make serve
        log = (work / "serve.log").open("w")
        serve = subprocess.Popen(  # noqa: S603 - our own install's honcho
            [str(BIN / "honcho"), "-f", "Procfile.production", "start", "-c", "worker=1"],
            env=environment,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for("the web processes", lambda: api(f"{web}/readyz")["status"] == "ok", 180)
            wait_for("the deployments", lambda: api(f"{prefect_api}/deployments/name/{SWEEP}"), 180)
            paused = pause_schedules(prefect_api)
            print(f"topology up; logs in {work}; schedules paused: {', '.join(paused)}")
            for n, users in enumerate(args.users):
                snapshot_after = RAMP_SECONDS + args.settle + 10 if args.snapshot else None
                sweeps = Sweeps(prefect_api, args.sweep_every, snapshot_after)
                cpu = CpuSampler()
                sweeps.start()
                cpu.start()
                settling, measured = load(web, users, args.settle, args.seconds, work, fixture)
                sweeps.stopping.set()
                cpu.stopping.set()
                sweeps.join()
                table(settling, f"{users} users: the {args.settle} s after the sign-ins")
                held = table(measured, f"{users} users, {args.seconds} s measured")
                cpu.write(work / f"cpu_{users}.csv")
                shares = cpu.between(measured.start, measured.start + measured.seconds)
                print(
                    "CPU in the measured window, share of one core: "
                    + ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
                )
                if n == 0:  # the target's user count; the others show where it degrades
                    met = held
                time.sleep(5)  # the last sweep's end
                print(f"flow runs started meanwhile: {sweeps.report()}", flush=True)
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
            log.close()
    print(
        f"\ntarget at {args.users[0]} users (0 errors, p95 < {TARGET_P95_MS} ms every page "
        f"kind): {'PASS' if met else 'FAIL'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
