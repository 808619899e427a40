"""The follow-up sweep at 100,000 plans and ~600,000 milestones: the flow against its floor
(issues 5 and 18, bench).

    .venv/bin/python -m bench.track_milestones --database-url postgresql://.../bench_sweep
    .venv/bin/python -m bench.track_milestones --database-url ... --plans 1000000 --rounds 1

PostgreSQL only. The database is brought to the migrations' head, the tables this bench fills
are truncated, and ``--plans`` returnees (a case manager each), their approved plans, 0-2 plan
lines a plan (referred to partners of the country of return), and five milestones a plan plus
a delivery milestone a line (~6 a plan) are generated with set-based inserts. Returns are
spread over the 400 days before the as-of date; a past milestone is done three times in four,
the others are left ``upcoming``. Two origin offices of three have a supervisor. By default the
data are then swept (untimed, by the floor below) as of the day before, so the timed sweep is a
daily run: what became due, overdue or escalated, and the windows that closed, that day
(``--last-swept-days-ago N``: N days of work; 0: never swept, the first sweep catches up on
everything). ``--reuse`` skips all that when the database holds this bench's snapshot of the
same data (plans, as-of date, days) from an earlier run.

Then, in one process, for ``--rounds`` rounds, interleaved, each from the same state restored
(the milestones' state copied aside once, notices and e-mails written since deleted, VACUUM
ANALYZE, CHECKPOINT): ``track_milestones`` as a real orchestrated Prefect flow run (against
``prefect_test_harness``; its start-up is not timed, one warm-up flow run is); the **floor**,
``bench.sweep_floor``: hand-written set-based SQL over all plans, one transaction; and with
``--bare`` the flow's own ``sweep_range`` calls without Prefect (four threads). All must leave
the same state (checksums of milestone states, notices, outbox and inbox keys). Then a
no-change re-run of the flow and the floor, and the flow once more in a fresh process, as a
worker starts a flow run: its time, with and without its imports, and its peak resident memory.
Medians are compared with the issues' targets (flow within 1.3x of the floor; under 10 s at
100,000 plans, 20 s at 1,000,000).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bench.cases_list import HOSTS, ORIGINS, _office, _user
from bench.harness import arguments, insert_rows, migrated
from bench.sweep_floor import sweep_floor
from partners.models import Partner, Referral, ReferralStatus, SupportOption
from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.inbox import InboxNotice
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneNotice,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
)
from reintegration_hub.followups.scheduling import milestone_dates
from reintegration_hub.followups.sweep import SweepCounts, plan_id_ranges, sweep_range
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus
from workflows.app import get_app, unit_of_work

# a shorter template than the default one: these steps and a delivery step per plan line make
# the issue's ~6 milestones a plan
STEPS = ("arrival", "first_contact", "visit_90", "visit_180", "window_closes")
LINE_COUNTS = {0: 25, 1: 50, 2: 25}
CURRENCIES = {
    "GE": ("GEL", Decimal("0.34")),
    "AM": ("AMD", Decimal("0.0024")),
    "UZ": ("UZS", Decimal("0.000073")),
}
RETURNS_OVER_DAYS = 400
DONE_SHARE = 0.75  # of past milestones: the rest are left open for the sweep
PLANS_PER_CHUNK = 5_000
MANAGERS_PER_OFFICE = 20
COUNSELLORS_PER_OFFICE = 5
PARTNERS_PER_COUNTRY = 5
OPTIONS_PER_PARTNER = 2
SNAPSHOT = "bench_sweep_snapshot"
MARKS = "bench_sweep_marks"
# targets of issues 5 and 18
FLOW_SECONDS = 10.0
FLOW_SECONDS_MILLION = 20.0  # at 1,000,000 plans
FLOW_OVER_FLOOR = 1.3
MEMORY_MB = 300.0


@dataclass
class Marks:
    """Where the notices, e-mails and in-app notices written after the snapshot start."""

    notices: int
    messages: int
    inbox: int


def _copy(model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY, for the rows that give every column (an executemany took 3x as long)."""
    if not rows:
        return
    columns = list(rows[0])
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _people() -> dict[str, Any]:
    """Offices and staff; ``{"counsellors": {host id: [ids]}, "managers": {origin id: [ids]}}``."""
    hosts = [_office(f"Bench {city}", OfficeKind.HOST, cc, city) for cc, city in HOSTS]
    origins = [_office(f"Bench {city}", OfficeKind.ORIGIN, cc, city) for cc, city in ORIGINS]
    counsellors = {
        o.id: [
            _user(f"bench.c{o.id}.{n}@bench.example", Role.COUNSELLOR, o).id
            for n in range(COUNSELLORS_PER_OFFICE)
        ]
        for o in hosts
    }
    managers = {
        o.id: [
            _user(f"bench.m{o.id}.{n}@bench.example", Role.CASE_MANAGER, o).id
            for n in range(MANAGERS_PER_OFFICE)
        ]
        for o in origins
    }
    for office in origins[:2]:  # the third origin office has no supervisor: no level-1 e-mail
        office.supervisor_id = managers[office.id][0]
    for n in range(2):  # the home office, told of level-2 escalations
        _user(f"bench.pm{n}@bench.example", Role.PROGRAMME_MANAGER, hosts[0])
    db.session.flush()
    return {"hosts": hosts, "origins": origins, "counsellors": counsellors, "managers": managers}


def _marketplace(origins: list[Office]) -> dict[str, list[tuple[int, int, int]]]:
    """Partners with options in each country of return: ``{country: [(option, partner,
    cost_minor)]}``."""
    rows = [
        {
            "office_id": office.id,
            "name": f"Bench partner {office.country_code}{n}",
            "country_code": office.country_code,
            "focal_point_email": f"partner.{office.country_code.lower()}{n}@partner.example",
            "vetting_status": "approved",
        }
        for office in origins
        for n in range(PARTNERS_PER_COUNTRY)
    ]
    insert_rows(Partner, rows)
    partners = db.session.execute(sa.select(Partner.id, Partner.country_code)).all()
    insert_rows(
        SupportOption,
        [
            {
                "partner_id": partner_id,
                "country_code": country,
                "category": "business_start_up",
                "status": "published",
                "cost_minor": 100_000,
                "currency": CURRENCIES[country][0],
                "eur_rate": CURRENCIES[country][1],
            }
            for partner_id, country in partners
            for _ in range(OPTIONS_PER_PARTNER)
        ],
    )
    options: dict[str, list[tuple[int, int, int]]] = {c: [] for c in CURRENCIES}
    for option_id, partner_id, country, cost in db.session.execute(
        sa.select(
            SupportOption.id,
            SupportOption.partner_id,
            SupportOption.country_code,
            SupportOption.cost_minor,
        )
    ):
        options[country].append((option_id, partner_id, cost))
    return options


def _milestone(
    step: MilestoneStep,
    *,
    as_of: dt.date,
    returned_on: dt.date,
    rng: random.Random,
    line_id: int | None = None,
    grace_days: int = 0,
) -> dict[str, Any]:
    due = returned_on + dt.timedelta(days=step.offset_days)
    if step.kind == MilestoneKind.WINDOW_CLOSES:
        due += dt.timedelta(days=grace_days)
    done = due < as_of and step.kind != MilestoneKind.WINDOW_CLOSES and rng.random() < DONE_SHARE
    return {
        "plan_line_id": line_id,
        "step_key": step.key if line_id is None else f"{step.key}:{line_id}",
        "kind": step.kind.value,
        "name": step.name,
        "responsible": step.responsible.value,
        **milestone_dates(step, due),
        "status": (MilestoneStatus.DONE if done else MilestoneStatus.UPCOMING).value,
        "escalation_level": 0,
        "completed_at": dt.datetime.combine(due, dt.time(12), dt.UTC) if done else None,
        "completed_on": due if done else None,
        "completed_by_id": None,
        "note": "",
        "created_at": dt.datetime.combine(returned_on, dt.time(12), dt.UTC),
    }


def generate(plans: int, as_of: dt.date, seed: int = 5) -> None:
    """Empty this bench's tables and fill them; ids are given, so every plan's rows are known
    without reading them back."""
    rng = random.Random(seed)
    tables = [
        InboxNotice,
        OutboxMessage,
        MilestoneNotice,
        Milestone,
        Referral,
        PlanLine,
        Plan,
        Returnee,
        SupportOption,
        Partner,
    ]
    db.session.execute(
        sa.text(f"TRUNCATE {', '.join(t.__tablename__ for t in tables)} RESTART IDENTITY CASCADE")
    )
    people = _people()
    options = _marketplace(people["origins"])
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default)
    ).one()
    template_steps = {step.key: step for step in template.steps}
    steps = [template_steps[key] for key in STEPS]
    line_step = template_steps["line_delivered"]
    line_id = 0
    for chunk_start in range(1, plans + 1, PLANS_PER_CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {
            model: [] for model in (Returnee, Plan, Referral, PlanLine, Milestone)
        }
        for i in range(chunk_start, min(chunk_start + PLANS_PER_CHUNK, plans + 1)):
            host = people["hosts"][i % len(people["hosts"])]
            origin = rng.choice(people["origins"])
            manager_id = rng.choice(people["managers"][origin.id])
            returned_on = as_of - dt.timedelta(days=rng.randrange(RETURNS_OVER_DAYS))
            approved_at = dt.datetime.combine(returned_on, dt.time(9), dt.UTC)
            rows[Returnee].append(
                {
                    "id": i,
                    "case_number": f"{host.country_code}-B-{i:06d}",
                    "first_name": f"First{i}",
                    "last_name": "Bench",
                    "date_of_birth": dt.date(1990, 1, 1),
                    "sex": "female",
                    "nationality": origin.country_code,
                    "return_country_code": origin.country_code,
                    "host_office_id": host.id,
                    "counsellor_id": rng.choice(people["counsellors"][host.id]),
                    "origin_office_id": origin.id,
                    "case_manager_id": manager_id,
                    "legal_status": "irregular_stay",
                    "status": "monitoring",
                    "shares_with_origin": True,
                    "departed_on": returned_on,
                    "arrived_on": returned_on,
                }
            )
            rows[Plan].append(
                {
                    "id": i,
                    "returnee_id": i,
                    "status": PlanStatus.APPROVED.value,
                    "submitted_at": approved_at,
                    "approved_at": approved_at,
                }
            )
            where = {"plan_id": i, "returnee_id": i, "office_id": origin.id}
            for step in steps:
                rows[Milestone].append(
                    where
                    | _milestone(
                        step,
                        as_of=as_of,
                        returned_on=returned_on,
                        rng=rng,
                        grace_days=template.grace_days,
                    )
                )
            lines = rng.choices(list(LINE_COUNTS), weights=list(LINE_COUNTS.values()))[0]
            for option_id, partner_id, cost in rng.sample(options[origin.country_code], lines):
                line_id += 1
                currency, rate = CURRENCIES[origin.country_code]
                rows[Referral].append(
                    {
                        "id": line_id,
                        "public_id": uuid.uuid4(),
                        "reference": f"plan-line:{line_id}",
                        "option_id": option_id,
                        "partner_id": partner_id,
                        "office_id": origin.id,
                        "status": ReferralStatus.ACCEPTED.value,
                        "sent_at": approved_at,
                        "expires_at": approved_at + dt.timedelta(days=7),
                        "case_number": f"{host.country_code}-B-{i:06d}",
                        "first_name": f"First{i}",
                    }
                )
                rows[PlanLine].append(
                    {
                        "id": line_id,
                        "plan_id": i,
                        "option_id": option_id,
                        "unit_cost_minor": cost,
                        "currency": currency,
                        "eur_rate": rate,
                        "rate_on": returned_on,
                        "total_eur_minor": int(cost * rate),
                        "referral_id": line_id,
                    }
                )
                rows[Milestone].append(
                    where
                    | _milestone(
                        line_step, as_of=as_of, returned_on=returned_on, rng=rng, line_id=line_id
                    )
                )
        for model, model_rows in rows.items():  # in the order of the foreign keys
            (_copy if model is Milestone else insert_rows)(model, model_rows)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for model in (Returnee, Plan, PlanLine, Referral):  # ids were given
            table = model.__tablename__
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        conn.execute(sa.text("VACUUM ANALYZE"))


def snapshot(data: str) -> Marks:
    """Copy the milestones' state aside; notices and e-mails are only ever added. ``data``
    names what was generated (``--reuse`` finds it again)."""
    db.session.execute(sa.text(f"DROP TABLE IF EXISTS {SNAPSHOT}"))
    db.session.execute(sa.text(f"DROP TABLE IF EXISTS {MARKS}"))
    db.session.execute(
        sa.text(
            f"CREATE UNLOGGED TABLE {SNAPSHOT} AS "
            "SELECT id, status, escalation_level, completed_at FROM milestones"
        )
    )
    db.session.execute(sa.text(f"ALTER TABLE {SNAPSHOT} ADD PRIMARY KEY (id)"))
    marks = Marks(
        notices=db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(MilestoneNotice.id), 0))),
        messages=db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxMessage.id), 0))),
        inbox=db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(InboxNotice.id), 0))),
    )
    db.session.execute(
        sa.text(
            f"CREATE TABLE {MARKS} AS SELECT CAST(:data AS text) AS data, :notices AS notices,"
            " :messages AS messages, :inbox AS inbox"
        ),
        {"data": data, **marks.__dict__},
    )
    db.session.commit()
    return marks


def saved_marks(data: str) -> Marks | None:
    """The marks of a snapshot of ``data`` left by an earlier run, if there is one."""
    exists = db.session.scalar(sa.text(f"SELECT to_regclass('{MARKS}') IS NOT NULL"))
    row = (
        db.session.execute(
            sa.text(f"SELECT notices, messages, inbox FROM {MARKS} WHERE data = :data"),
            {"data": data},
        ).first()
        if exists
        else None
    )
    db.session.commit()
    return Marks(*row) if row else None


def restore(marks: Marks) -> None:
    """Back to the snapshot, vacuumed, analysed and checkpointed."""
    db.session.execute(
        sa.text(
            f"UPDATE milestones AS m SET status = s.status, escalation_level = s.escalation_level,"
            f" completed_at = s.completed_at FROM {SNAPSHOT} AS s WHERE m.id = s.id AND "
            "(m.status, m.escalation_level, m.completed_at) IS DISTINCT FROM "
            "(s.status, s.escalation_level, s.completed_at)"
        )
    )
    db.session.execute(sa.delete(MilestoneNotice).where(MilestoneNotice.id > marks.notices))
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id > marks.messages))
    db.session.execute(sa.delete(InboxNotice).where(InboxNotice.id > marks.inbox))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            sa.text("VACUUM ANALYZE milestones, milestone_notices, outbox_messages, inbox_notices")
        )
        conn.execute(sa.text("CHECKPOINT"))


def checksum() -> tuple[str, int, int]:
    """What a sweep decides: each milestone's state, which notices, e-mails and in-app notices
    exist (not when they were written); the number of notices and of e-mails."""
    row = db.session.execute(
        sa.text(
            "SELECT md5((SELECT string_agg(id || ':' || status || ':' || escalation_level, ','"
            "            ORDER BY id) FROM milestones)"
            "        || (SELECT string_agg(milestone_id || ':' || kind || ':' || level, ','"
            "            ORDER BY milestone_id, kind, level) FROM milestone_notices)"
            "        || (SELECT string_agg(key, ',' ORDER BY key) FROM outbox_messages)"
            "        || coalesce((SELECT string_agg(key, ',' ORDER BY key)"
            "                     FROM inbox_notices), '')),"
            " (SELECT count(*) FROM milestone_notices), (SELECT count(*) FROM outbox_messages)"
        )
    ).one()
    db.session.commit()
    return row[0] or "", row[1], row[2]


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``VmHWM``: its peak) in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak_rss(every: float = 0.02) -> Iterator[list[float]]:
    """``[resident MB before, peak resident MB during]`` of this process, sampled."""
    result = [rss_mb(), rss_mb()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            result[1] = max(result[1], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result[1] = max(result[1], rss_mb())


@dataclass
class Run:
    seconds: float
    rss_before: float
    rss_peak: float
    counts: dict[str, int]


def timed_run(fn: Callable[[], dict[str, int]]) -> Run:
    with peak_rss() as rss:
        start = time.perf_counter()
        counts = fn()
        seconds = time.perf_counter() - start
    return Run(seconds, rss[0], rss[1], counts)


def bare(as_of: dt.date, batch_size: int | None, workers: int) -> dict[str, int]:
    """``sweep_range`` without Prefect: the flow's ranges, then a thread, a connection and a
    transaction per range, ``workers`` at a time."""
    with unit_of_work():
        if batch_size is None:
            from workflows.milestones import batch_size_for

            batch_size = batch_size_for(plan_count())
        ranges = plan_id_ranges(batch_size)

    def one(first_last: tuple[int, int]) -> SweepCounts:
        with unit_of_work():
            return sweep_range(as_of, *first_last)

    total = SweepCounts()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for counts in pool.map(one, ranges):
            total = total + counts
    return total.as_dict()


def floor(as_of: dt.date) -> dict[str, int]:
    """``bench.sweep_floor`` in one transaction."""
    with unit_of_work():
        return sweep_floor(as_of, now_utc())


def plan_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Plan)) or 0)


def show(name: str, run: Run) -> None:
    changed = ", ".join(f"{k} {v}" for k, v in run.counts.items())
    print(
        f"  {name}: {run.seconds:.2f} s, RSS {run.rss_before:.0f} -> {run.rss_peak:.0f} MB"
        f" ({changed})",
        flush=True,
    )


def _flow_kwargs(as_of: dt.date, batch_size: int | None) -> dict[str, Any]:
    return {"as_of": as_of} | ({"batch_size": batch_size} if batch_size else {})


def worker_run(as_of: dt.date, batch_size: int | None) -> None:
    """One flow run in this fresh process, as a worker starts it (``--worker-run``): prints the
    seconds with and without the imports, and the process's peak resident memory."""
    start = time.perf_counter()
    from workflows.milestones import track_milestones

    imported = time.perf_counter()
    counts = asyncio.run(track_milestones(**_flow_kwargs(as_of, batch_size)))
    end = time.perf_counter()
    # not ru_maxrss: Linux carries it over from the parent the child was forked from
    print(json.dumps([end - imported, end - start, rss_mb("VmHWM"), counts.as_dict()]))


def in_worker_process(as_of: dt.date, batch_size: int | None, api_url: str) -> tuple[Run, float]:
    """``worker_run`` in a child process against the server at ``api_url``; the run, and the
    seconds including the child's start and imports."""
    command = [sys.executable, "-m", "bench.track_milestones", "--worker-run"]
    command += ["--as-of", str(as_of)]
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    output = subprocess.run(  # noqa: S603 - our own interpreter and module
        command,
        env=os.environ | {"PREFECT_API_URL": api_url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds, with_imports, peak, counts = json.loads(output.strip().splitlines()[-1])
    return Run(seconds, 0.0, peak, counts), with_imports


def main() -> None:
    parser = arguments(__doc__, database_help="a throw-away PostgreSQL database")
    parser.add_argument("--plans", type=int, default=100_000)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the flow's own choice"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 6, 1))
    parser.add_argument(
        "--last-swept-days-ago",
        type=int,
        default=1,
        help="sweep (untimed) as of this many days before the as-of date first, so the timed "
        "sweep does that many days of work; 0: never swept, the first sweep catches up on all",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of an earlier run of the same options"
    )
    parser.add_argument("--bare", action="store_true", help="also time sweep_range without Prefect")
    parser.add_argument(
        "--no-fresh-process", action="store_true", help="skip the run in a fresh process"
    )
    parser.add_argument("--worker-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_run:
        worker_run(args.as_of, args.batch_size)
        return
    if not args.database_url:
        parser.error("--database-url is required")
    # prefect reads its settings once, at import: set them first (the child inherits them)
    prefect_home = tempfile.mkdtemp(prefix="bench-prefect-home-")
    os.environ["PREFECT_HOME"] = prefect_home
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.update(HUB_ENV="testing", HUB_DATABASE_URL=args.database_url)
    os.environ["HUB_SECRET_KEY"] = "bench"  # noqa: S105 (no sign-in)
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from workflows.milestones import PARALLEL_BATCHES, track_milestones, track_plan

    if not args.database_url.startswith("postgresql"):
        parser.error("the issue's target is PostgreSQL: give a postgresql:// URL")
    data = f"{args.plans} plans, as of {args.as_of}, last swept {args.last_swept_days_ago}"
    with migrated(get_app()) as app:
        marks = saved_marks(data) if args.reuse else None
        if marks is None:
            start = time.perf_counter()
            generate(args.plans, args.as_of)
            print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
            if args.last_swept_days_ago:
                day = args.as_of - dt.timedelta(days=args.last_swept_days_ago)
                floor(day)
                print(f"swept as of {day} in {time.perf_counter() - start:.1f} s", flush=True)
            marks = snapshot(data)
        else:
            print(f"reusing the data ({data})")
            restore(marks)
        made = {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Plan, PlanLine, Milestone, MilestoneNotice, OutboxMessage)
        }
        db.session.commit()
        print(", ".join(f"{n} {table}" for table, n in made.items()), flush=True)

    def flow() -> dict[str, int]:
        kwargs = _flow_kwargs(args.as_of, args.batch_size)
        return asyncio.run(track_milestones(**kwargs)).as_dict()

    def the_floor() -> dict[str, int]:
        return floor(args.as_of)

    def direct() -> dict[str, int]:
        return bare(args.as_of, args.batch_size, PARALLEL_BATCHES)

    runs: dict[str, list[Run]] = {"flow": [], "floor": [], "bare": []}
    kinds: list[tuple[str, Callable[[], dict[str, int]]]] = [("flow", flow), ("floor", the_floor)]
    if args.bare:
        kinds.append(("bare", direct))
    start = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        print(f"Prefect test server started in {time.perf_counter() - start:.1f} s (not timed)")
        asyncio.run(track_plan(plan_id=0, as_of=args.as_of))  # warm-up: client, app, pool
        print(
            f"as of {args.as_of} ("
            + (
                f"last swept {args.last_swept_days_ago} days before"
                if args.last_swept_days_ago
                else "never swept before"
            )
            + f"), batch size {args.batch_size or 'chosen by the flow'}"
            + f", load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        end_state = None
        for number in range(1, args.rounds + 1):
            print(f"round {number}, load {os.getloadavg()[0]:.2f}", flush=True)
            for name, fn in kinds:
                with app.app_context():
                    restore(marks)
                runs[name].append(timed_run(fn))
                show(name, runs[name][-1])
                with app.app_context():
                    state = checksum()
                assert end_state is None or state == end_state, (name, state, end_state)
                end_state = state
            print(f"  same end state: {state[1]} notices, {state[2]} e-mails in all")
        rerun = timed_run(flow)
        show("flow, no-change re-run", rerun)
        show("floor, no-change re-run", timed_run(the_floor))
        with app.app_context():
            assert checksum() == end_state
        worker = None
        if not args.no_fresh_process:
            with app.app_context():
                restore(marks)
            worker, with_imports = in_worker_process(
                args.as_of, args.batch_size, PREFECT_API_URL.value()
            )
            show(f"flow in a fresh process ({with_imports:.2f} s with its imports)", worker)
            with app.app_context():
                assert checksum() == end_state
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(prefect_home, ignore_errors=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}")

    flow_s = statistics.median(r.seconds for r in runs["flow"])
    floor_s = statistics.median(r.seconds for r in runs["floor"])
    limit = FLOW_SECONDS if args.plans <= 100_000 else FLOW_SECONDS_MILLION
    print(
        "medians: "
        + ", ".join(
            f"{name} {statistics.median(r.seconds for r in found):.2f} s "
            f"[{', '.join(f'{r.seconds:.2f}' for r in found)}]"
            for name, found in runs.items()
            if found
        )
    )
    checks = [
        (f"flow end to end, median {flow_s:.2f} s < {limit:.0f} s", flow_s < limit),
        (
            f"flow / floor {flow_s:.2f} / {floor_s:.2f} s = {flow_s / floor_s:.2f}"
            f" <= {FLOW_OVER_FLOOR}",
            flow_s / floor_s <= FLOW_OVER_FLOOR,
        ),
        (f"no-change re-run {rerun.seconds:.2f} s < first run", rerun.seconds < flow_s),
    ]
    if worker is not None:
        growth = max(r.rss_peak - r.rss_before for r in [*runs["flow"], rerun])
        checks.append(
            (
                f"flow process memory: peak RSS {worker.rss_peak:.0f} MB < {MEMORY_MB:.0f} MB"
                f" (this process: grew {growth:.0f} MB in a run)",
                worker.rss_peak < MEMORY_MB,
            )
        )
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    if not all(ok for _, ok in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
