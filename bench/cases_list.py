"""Case list at 100,000 cases: filtered, paginated, through the service (issue 4, bench).

    .venv/bin/python -m bench.cases_list --database-url postgresql://.../hub_bench_cases

The database is brought to the migrations' head, its case tables emptied, and 100,000 cases
generated with set-based inserts. Then >= 200 list requests (random reader, filters and page)
and 200 case page reads are timed; p50/p95 are printed. Use a throw-away database.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench.harness import CHUNK, arguments, bench_app, migrated, report, stopwatch, timed
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import search, services
from reintegration_hub.cases.models import CaseNumberCounter, CaseStatus, Consent, Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db

HOSTS = [("LV", "Riga"), ("LT", "Vilnius"), ("CZ", "Prague")]
ORIGINS = [("GE", "Tbilisi"), ("AM", "Yerevan"), ("UZ", "Tashkent")]


def _office(name: str, kind: OfficeKind, country: str, city: str) -> Office:
    office = db.session.scalar(sa.select(Office).where(Office.name == name))
    if office is None:
        office = Office(name=name, kind=kind, country_code=country, city=city, languages=["en"])
        db.session.add(office)
        db.session.flush()
    return office


def _user(email: str, role: Role, office: Office) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            full_name=email,
            office_id=office.id,
            role=role,
            password_hash="!",  # noqa: S106 (no sign-in)
        )
        db.session.add(user)
        db.session.flush()
    return user


#: A case's name and contact columns, drawn for the ``i``-th case; keys starting with ``_`` are
#: kept with the sampled cases only (what a bench searches for), not inserted.
Person = Callable[[int, random.Random], dict[str, Any]]


def numbered_person(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "first_name": f"First{i}",
        "last_name": f"Last{rng.randrange(50_000)}",
        "contact_after_return": "",
    }


def generate(
    total: int, seed: int = 4, person: Person = numbered_person, sample: float = 0.0
) -> tuple[dict[str, list[User]], list[dict[str, Any]]]:
    """``total`` cases over three host and three origin offices with set-based inserts, their
    search keys as the case services write them; the staff, and about ``sample`` of the cases'
    rows (with ``person``'s own ``_`` keys) for a bench to look for."""
    rng = random.Random(seed)
    for table in (Consent, Returnee, CaseNumberCounter):
        db.session.execute(sa.delete(table))
    hosts = [_office(f"Bench {c}", OfficeKind.HOST, cc, c) for cc, c in HOSTS]
    origins = [_office(f"Bench {c}", OfficeKind.ORIGIN, cc, c) for cc, c in ORIGINS]
    counsellors = [_user(f"bench.c{o.id}@bench.example", Role.COUNSELLOR, o) for o in hosts]
    managers = [_user(f"bench.m{o.id}@bench.example", Role.CASE_MANAGER, o) for o in origins]
    admin = _user("bench.admin@bench.example", Role.ADMIN, hosts[0])
    statuses = list(CaseStatus)
    year = now_utc().year
    numbers = {o.id: 0 for o in hosts}
    started = now_utc() - dt.timedelta(days=720)
    rows: list[dict[str, Any]] = []
    sampled: list[dict[str, Any]] = []
    for i in range(total):
        host = hosts[i % len(hosts)]
        origin = rng.choice(origins)
        numbers[host.id] += 1
        drawn = person(i, rng)
        named = {k: v for k, v in drawn.items() if not k.startswith("_")}
        row = {
            "case_number": f"{host.country_code}-{year}-{numbers[host.id]:05d}",
            "case_number_tail": numbers[host.id],
            **named,
            **search.search_keys(
                first_name=named["first_name"],
                last_name=named["last_name"],
                contact_after_return=named["contact_after_return"],
            ),
            "date_of_birth": dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(20_000)),
            "sex": rng.choice(["female", "male"]),
            "nationality": origin.country_code,
            "return_country_code": origin.country_code,
            "return_region": "",
            "return_city": origin.city,
            "languages": ["en"],
            "host_office_id": host.id,
            "counsellor_id": counsellors[hosts.index(host)].id,
            "origin_office_id": origin.id if rng.random() < 0.7 else None,
            "legal_status": "irregular_stay",
            "status": rng.choice(statuses).value,
            "shares_with_origin": rng.random() < 0.6,
            "created_at": started + dt.timedelta(minutes=i * 10),
            "updated_at": started + dt.timedelta(minutes=i * 10),
        }
        rows.append(row)
        if sample and rng.random() < sample:
            sampled.append({**row, **drawn})
        if len(rows) == CHUNK:
            db.session.execute(sa.insert(Returnee.__table__), rows)
            rows.clear()
    if rows:
        db.session.execute(sa.insert(Returnee.__table__), rows)
    for host in hosts:
        db.session.add(
            CaseNumberCounter(
                country_code=host.country_code, year=year, last_value=numbers[host.id]
            )
        )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE returnees"))
    return {"counsellors": counsellors, "managers": managers, "admins": [admin]}, sampled


def main() -> None:
    parser = arguments(__doc__, database_required=True)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with migrated(bench_app(args.database_url)):
        with stopwatch() as took:
            people, _sampled = generate(args.cases)
        print(f"generated {args.cases} cases in {took():.1f} s")
        readers = [u for group in people.values() for u in group]
        rng = random.Random(7)
        countries = [c for c, _ in ORIGINS]

        def one_list() -> None:
            reader = db.session.get(User, rng.choice(readers).id)
            filters: dict[str, Any] = {}
            if rng.random() < 0.6:
                filters["status"] = rng.choice(list(CaseStatus))
            if rng.random() < 0.4:
                filters["return_country_code"] = rng.choice(countries)
            page = services.list_cases(
                actor=reader, page=rng.randint(1, 20), page_size=25, **filters
            )
            for case in page.items:  # what the list page renders
                _ = (case.case_number, case.host_office.name, case.origin_office)

        timed(one_list, 20)  # warm up
        report("case list (filtered, page of 25, with count)", timed(one_list, args.requests))
        ids = list(db.session.scalars(sa.select(Returnee.id).order_by(sa.func.random()).limit(200)))
        admin = people["admins"][0]

        def one_page() -> None:
            case = services.view_case(ids.pop(), actor=db.session.get(User, admin.id))
            _ = (case.dependants, case.vulnerabilities, case.consents)

        report("case page (scoped read + audit row, rolled back)", timed(one_page, 200))


if __name__ == "__main__":
    main()
