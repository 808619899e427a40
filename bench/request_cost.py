"""Per-request cost: four requests in-process (Flask's test client) and through gunicorn under load.

    .venv/bin/python -m bench.request_cost --admin-url postgresql://USER@HOST/postgres
    .venv/bin/python -m bench.request_cost --database-url postgresql://USER@HOST/DB [--no-generate]
    .venv/bin/python -m bench.request_cost --database-url ... --no-generate --profile plans_api

With ``--admin-url`` a throw-away PostgreSQL database is created (and dropped at the end, unless
``--keep``); with ``--database-url`` that database is used (``--no-generate``: as a previous
run left it). Generated with set-based inserts: 100,000 cases over three host offices (as
``bench.cases_list`` makes them, a counsellor each: about 33,000 cases), 1,000 partners with
10,000 options (as ``bench.marketplace_search``) and a plan per case.

Timed, each request kind as one counsellor signed in with a cookie session:

- ``search_api``: ``GET /api/v1/marketplace/search`` (text, country, category, cost ceiling,
  a profile), ``search_page``: ``GET /marketplace/search`` with the same parameters,
  ``cases_api``: ``GET /api/v1/cases`` (a random page of 25 among the first 20),
  ``plans_api``: ``GET /api/v1/plans`` (the same, for the counsellor's ~33,000 plans).
- **in-process**: Flask's test client, one request at a time in a fresh app context:
  milliseconds per request (p50, p95), the process's own CPU time per request (p50: what the
  request costs a worker, the database's share and any wait for a core left out, so it moves
  little with the machine's load) and statements per request;
- **gunicorn**: ``--workers`` sync workers (2) started on a free port of 127.0.0.1 with the
  production settings, ``--clients`` (50) concurrent clients (asyncio + httpx) sending
  ``--http-requests`` requests of each kind: requests per second, p50/p95 of the latency the
  clients see, errors, the worker time a request costs (workers / requests per second: CPU
  and waits), the workers' own CPU time per request (from ``/proc``) and the clients' (this
  process's) CPU time per request.

``--profile KIND`` runs cProfile over ``--requests`` in-process requests of one kind and prints
the functions that took the most time (cumulative and own). Quote ``uptime`` with the figures.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench import marketplace_search
from bench.cases_list import generate as generate_cases
from bench.harness import arguments, insert_rows, migrated, stopwatch, summary
from bench.plan_page import counted, signed_in
from bench.two_workers import free_port, throwaway_databases, with_database
from reintegration_hub import create_app
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan, PlanStatus

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = ("search_api", "search_page", "cases_api", "plans_api")


def generate_plans() -> None:
    """A plan per case (no lines), in the statuses' usual mix."""
    db.session.execute(sa.delete(Plan))
    rng = random.Random(9)
    statuses = list(PlanStatus)
    now = now_utc()
    rows = [
        {
            "returnee_id": case_id,
            "status": rng.choice(statuses).value,
            "version": 1,
            "cap_eur_minor": 300_000,
            "total_eur_minor": 0,
            "over_cap_justification": "",
            "review_comment": "",
            "created_at": now,
            "updated_at": now,
        }
        for case_id in db.session.scalars(sa.select(Returnee.id).order_by(Returnee.id))
    ]
    insert_rows(Plan, rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE plans"))


def generate(cases: int) -> None:
    with stopwatch() as took:
        generate_cases(cases)
        marketplace_search.generate(1_000, 10)
        generate_plans()
    print(f"generated {cases} cases, 10,000 options, {cases} plans in {took():.0f} s")


def readers() -> dict[str, int]:
    """The counsellor who searches, and the one whose office has the most cases."""
    searcher = db.session.scalar(sa.select(User.id).where(User.email == "bench.c@bench.example"))
    busiest = db.session.execute(
        sa.select(Returnee.counsellor_id, sa.func.count())
        .group_by(Returnee.counsellor_id)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).one()
    assert searcher is not None
    return {"searcher": searcher, "counsellor": busiest[0]}


def search_args(rng: random.Random) -> dict[str, Any]:
    category = rng.choice(list(marketplace_search.CRAFTS))
    return {
        "q": rng.choice(marketplace_search.CRAFTS[category] + ["support"]),
        "country": rng.choice(marketplace_search.COUNTRIES)[0],
        "category": category.value,
        "max_cost_eur": rng.choice([500, 1500, 2500]),
        "age": rng.randrange(18, 60),
        "sex": rng.choice(["female", "male"]),
        "family_size": rng.randrange(1, 6),
    }


def urls(kind: str, count: int, seed: int = 12) -> list[str]:
    """``count`` request paths of ``kind``."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        if kind == "search_api":
            made.append("/api/v1/marketplace/search?" + urlencode(search_args(rng)))
        elif kind == "search_page":
            made.append("/marketplace/search?" + urlencode(search_args(rng)))
        elif kind == "cases_api":
            made.append(f"/api/v1/cases?page={rng.randint(1, 20)}&page_size=25")
        else:
            made.append(f"/api/v1/plans?page={rng.randint(1, 20)}&page_size=25")
    return made


def user_of(kind: str, users: dict[str, int]) -> int:
    return users["searcher"] if kind.startswith("search") else users["counsellor"]


def get(app: Flask, client: FlaskClient, url: str) -> bytes:
    """One request as production serves it: a fresh app context (own ``g`` and session)."""
    with app.app_context():
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.data[:300])
    return response.data


def in_process(app: Flask, clients: dict[str, FlaskClient], kind: str, runs: int) -> dict[str, Any]:
    paths = urls(kind, runs + 20)
    client = clients[kind]
    for url in paths[:20]:  # warm up: statement caches, templates, first-use imports
        get(app, client, url)
    with counted() as statements:
        get(app, client, paths[0])
    samples, cpu = [], []
    for url in paths[20:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        get(app, client, url)
        cpu.append((time.process_time() - start_cpu) * 1000)
        samples.append((time.perf_counter() - start) * 1000)
    return {**summary(samples), "cpu": statistics.median(cpu), "statements": len(statements)}


def profile(app: Flask, clients: dict[str, FlaskClient], kind: str, runs: int) -> None:
    paths = urls(kind, runs + 20)
    for url in paths[:20]:
        get(app, clients[kind], url)
    profiler = cProfile.Profile()
    profiler.enable()
    for url in paths[20:]:
        get(app, clients[kind], url)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return f"session={cookie.value}"


def start_gunicorn(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **production_config(url)}
    args = [str(BIN / "gunicorn"), "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}"]
    return subprocess.Popen(  # noqa: S603 - our own executable
        [*args, "--backlog", "256", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped:\n" + log.read_text()[-3000:])
        try:
            httpx.get(base + "/api/v1/openapi.json", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in 60 s")


async def load(base: str, paths: list[str], cookie: str, clients: int) -> dict[str, Any]:
    """``paths`` requested by ``clients`` concurrent clients, each with its own connection."""
    queue = list(reversed(paths))
    latencies: list[float] = []
    errors: list[str] = []

    async def one_client() -> None:
        headers = {"Cookie": cookie}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            while queue:
                url = queue.pop()
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {url}")
                except httpx.HTTPError as error:
                    errors.append(f"{type(error).__name__} {url}")
                latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    took = time.perf_counter() - start
    return {**summary(latencies), "rps": len(paths) / took, "errors": errors}


def through_gunicorn(
    url: str, cookies: dict[str, str], args: Any, stack: ExitStack
) -> dict[str, dict[str, Any]]:
    port = free_port()
    log = Path(tempfile.mkdtemp()) / "gunicorn.log"
    server = start_gunicorn(url, port, args.workers, log)

    def stop() -> None:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    stack.callback(stop)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base, server, log)
    figures = {}
    for kind in args.kinds:
        warm = urls(kind, 4 * args.workers, seed=13)
        asyncio.run(load(base, warm, cookies[kind], args.workers))
        workers = children(server.pid)
        before = sum(cpu_seconds(pid) for pid in workers), time.process_time()
        figures[kind] = asyncio.run(
            load(base, urls(kind, args.http_requests), cookies[kind], args.clients)
        )
        after = sum(cpu_seconds(pid) for pid in workers), time.process_time()
        figures[kind]["worker_cpu"] = (after[0] - before[0]) * 1000 / args.http_requests
        figures[kind]["client_cpu"] = (after[1] - before[1]) * 1000 / args.http_requests
        for error in figures[kind]["errors"][:5]:
            print(f"  {kind} error: {error}")
    return figures


def table(
    local: dict[str, dict[str, Any]], remote: dict[str, dict[str, Any]], workers: int
) -> None:
    print(
        f"{'request':<12} {'in-process p50':>14} {'p95':>7} {'cpu p50':>7} {'stmts':>5} | "
        f"{'gunicorn req/s':>14} {'p50':>7} {'p95':>7} {'errors':>6} {'worker ms/req':>13}"
        f" {'worker cpu':>10} {'client cpu':>10}"
    )
    for kind in local:
        a, b = local[kind], remote.get(kind)
        line = (
            f"{kind:<12} {a['p50']:>11.1f} ms {a['p95']:>7.1f} {a['cpu']:>7.1f}"
            f" {a['statements']:>5} |"
        )
        if b is not None:
            line += (
                f" {b['rps']:>14.1f} {b['p50']:>7.0f} {b['p95']:>7.0f} {len(b['errors']):>6}"
                f" {workers * 1000 / b['rps']:>13.1f}"
                f" {b['worker_cpu']:>10.1f} {b['client_cpu']:>10.1f}"
            )
        print(line)


def production_config(url: str) -> dict[str, str]:
    """What gunicorn's workers run with: the production settings (both paths alike)."""
    return {
        "HUB_ENV": "production",
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": "bench-request-cost-" + "x" * 32,
        "HUB_PUBLIC_BASE_URL": "https://hub.example.org",
    }


def run(url: str, args: Any) -> None:
    settings = production_config(url)
    config = {name.removeprefix("HUB_"): value for name, value in settings.items()}
    with migrated(create_app(config)) as app:
        if not args.no_generate:
            generate(args.cases)
        users = readers()
        clients = {kind: signed_in(app, user_of(kind, users)) for kind in KINDS}
        for kind, client in clients.items():  # the first request updates the session cookie
            get(app, client, urls(kind, 1)[0])
        cookies = {kind: session_cookie(client) for kind, client in clients.items()}
        if args.profile:
            profile(app, clients, args.profile, args.requests)
            return
        local = {kind: in_process(app, clients, kind, args.requests) for kind in args.kinds}
        db.session.rollback()
        remote: dict[str, dict[str, Any]] = {}
        if args.http_requests:
            with ExitStack() as stack:
                remote = through_gunicorn(url, cookies, args, stack)
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min)")
        table(local, remote, args.workers)


def main() -> None:
    parser = arguments(__doc__, database_help="an existing database (else see --admin-url)")
    parser.add_argument("--admin-url", help="create (and drop) a throw-away database through it")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away database")
    parser.add_argument("--no-generate", action="store_true", help="use the data already there")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="in-process, per kind")
    parser.add_argument("--http-requests", type=int, default=1_000, help="gunicorn, per kind")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--profile", choices=KINDS)
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args)
        return
    if not args.admin_url:
        parser.error("give --database-url or --admin-url")
    name = f"hub_bench_cost_{uuid.uuid4().hex[:8]}"
    url = with_database(args.admin_url, name)
    print(f"database {name}")
    if args.keep:
        throwaway_create(args.admin_url, name)
        run(url, args)
        return
    with throwaway_databases(args.admin_url, name):
        run(url, args)


def throwaway_create(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
