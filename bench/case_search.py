"""Case search at 100,000 cases: names in four scripts, misspelt, dates, numbers, phones (issue 16).

    .venv/bin/python -m bench.case_search --database-url postgresql://.../hub_bench_search

The database is brought to the migrations' head, its case tables emptied, and 100,000 cases
generated with set-based inserts: surnames of a pool of 3,000 written in Latin, Georgian,
Cyrillic or Armenian letters, with their search keys as the case services write them (and a
phone number in the contact after return). Then searches (a random reader of the three host
offices or an administrator; a misspelt or cut surname, a first and last name, a date of birth,
part of a case number, part of a phone number) are timed through the service, page of 25 and
count, and the same searches as bare SQL (the same conditions, ids and numbers only, no ORM);
p50/p95 of both and their ratio are printed. Use a throw-away database.
"""

# ruff: noqa: RUF001 (the letters of other scripts are the point)
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench import cases_list
from bench.harness import arguments, bench_app, migrated, report, stopwatch, summary, timed
from reintegration_hub.auth.models import User
from reintegration_hub.cases import search, services
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.authz import scoped
from reintegration_hub.extensions import db

STEMS = ["kapana", "berid", "lomid", "japar", "gelash", "tsiskar", "machav", "kvarats", "abash"]
STEMS += ["chkhei", "gogol", "kharat", "surman", "tavad", "natsvl", "zhorzh", "bakhtad", "melik"]
STEMS += ["petros", "hakob", "sargs", "grigor", "avetis", "mkrtch", "karap", "vardan", "arut"]
MIDDLES = ["", "a", "i", "o", "u", "e", "av", "ish", "ur", "an", "el", "ob"]
ENDINGS = ["dze", "shvili", "ia", "ava", "eli", "yan", "ov", "enko", "uri", "ani", "in", "ski"]
FIRST_NAMES = ["nino", "giorgi", "tamar", "davit", "mariam", "aram", "lusine", "levan", "ani"]
FIRST_NAMES += ["irakli", "eka", "sopo", "gor", "anna", "tigran", "natia", "zurab", "elene"]

#: Latin to each script, longest spelling first (enough for the stems above).
SCRIPTS: dict[str, dict[str, str]] = {
    "ka": {
        "shv": "შვ",
        "sh": "შ",
        "ch": "ჩ",
        "kh": "ხ",
        "zh": "ჟ",
        "ts": "ც",
        "dz": "ძ",
        "a": "ა",
        "b": "ბ",
        "g": "გ",
        "d": "დ",
        "e": "ე",
        "v": "ვ",
        "z": "ზ",
        "t": "თ",
        "i": "ი",
        "k": "კ",
        "l": "ლ",
        "m": "მ",
        "n": "ნ",
        "o": "ო",
        "p": "პ",
        "r": "რ",
        "s": "ს",
        "u": "უ",
        "f": "ფ",
        "q": "ქ",
        "j": "ჯ",
        "h": "ჰ",
        "y": "ი",
    },
    "ru": {
        "shch": "щ",
        "sh": "ш",
        "ch": "ч",
        "kh": "х",
        "zh": "ж",
        "ts": "ц",
        "ya": "я",
        "a": "а",
        "b": "б",
        "v": "в",
        "g": "г",
        "d": "д",
        "e": "е",
        "z": "з",
        "i": "и",
        "k": "к",
        "l": "л",
        "m": "м",
        "n": "н",
        "o": "о",
        "p": "п",
        "r": "р",
        "s": "с",
        "t": "т",
        "u": "у",
        "f": "ф",
        "j": "дж",
        "h": "х",
        "y": "й",
        "q": "к",
    },
    "hy": {
        "sh": "շ",
        "ch": "չ",
        "kh": "խ",
        "zh": "ժ",
        "ts": "ց",
        "dz": "ձ",
        "u": "ու",
        "a": "ա",
        "b": "բ",
        "g": "գ",
        "d": "դ",
        "e": "ե",
        "z": "զ",
        "t": "տ",
        "i": "ի",
        "l": "լ",
        "k": "կ",
        "h": "հ",
        "m": "մ",
        "y": "յ",
        "n": "ն",
        "o": "ո",
        "p": "պ",
        "j": "ջ",
        "r": "ր",
        "s": "ս",
        "v": "վ",
        "f": "ֆ",
        "q": "ք",
    },
}


def written(latin: str, script: str) -> str:
    """``latin`` in ``script`` (``"la"``: capitalised Latin)."""
    if script == "la":
        return latin.capitalize()
    table = SCRIPTS[script]
    out, i = [], 0
    while i < len(latin):
        for size in (4, 3, 2, 1):
            if latin[i : i + size] in table:
                out.append(table[latin[i : i + size]])
                i += size
                break
        else:
            i += 1
    return "".join(out)


def misspelt(latin: str, rng: random.Random) -> str:
    """How someone might type the name: a sound-alike swapped or a vowel dropped."""
    for a, b in (("z", "s"), ("k", "c"), ("v", "w"), ("kh", "h"), ("sh", "sch"), ("ts", "tz")):
        if a in latin and rng.random() < 0.7:
            return latin.replace(a, b, 1)
    vowels = [i for i, c in enumerate(latin) if c in "aeiou" and 0 < i < len(latin) - 1]
    if vowels:
        i = rng.choice(vowels)
        return latin[:i] + latin[i + 1 :]
    return latin


def generate(total: int, seed: int = 16) -> tuple[dict[str, list[User]], list[dict[str, Any]]]:
    """The cases of ``bench.cases_list`` named from a pool of 3,000 surnames, each written in
    one of four scripts, with a phone number; about one in a hundred kept to search for."""
    names = random.Random(seed)
    surnames = sorted(
        {names.choice(STEMS) + names.choice(MIDDLES) + names.choice(ENDINGS) for _ in range(6_000)}
    )[:3_000]

    def person(_i: int, rng: random.Random) -> dict[str, Any]:
        script = rng.choice(["la", "ka", "ru", "hy"])
        first, last = rng.choice(FIRST_NAMES), rng.choice(surnames)
        return {
            "first_name": written(first, script),
            "last_name": written(last, script),
            "contact_after_return": f"+995 5{rng.randrange(10**7, 10**8)}",
            "_first": first,
            "_last": last,
        }

    return cases_list.generate(total, seed, person=person, sample=0.01)


def queries(
    people: list[dict[str, Any]], staff: dict[str, list[User]], rng: random.Random
) -> Callable[[], tuple[int, str]]:
    """A random search of a kind people type, and who types it: the counsellor of the case's
    office (three in four) or an administrator."""
    counsellor_of = {u.office_id: u.id for u in staff["counsellors"]}
    admin_id = staff["admins"][0].id

    def one() -> tuple[int, str]:
        person = rng.choice(people)
        reader = counsellor_of[person["host_office_id"]] if rng.random() < 0.75 else admin_id
        return reader, search_text(person)

    def search_text(person: dict[str, Any]) -> str:
        kind = rng.randrange(6)
        if kind == 0:
            return misspelt(person["_last"], rng).capitalize()
        if kind == 1:
            return person["_last"][:5]
        if kind == 2:
            return f"{person['_first']} {misspelt(person['_last'], rng)}"
        if kind == 3:
            return person["date_of_birth"].strftime("%d.%m.%Y")
        if kind == 4:
            return person["case_number"][-5:]
        return person["contact_after_return"][-7:]

    return one


def main() -> None:
    parser = arguments(__doc__, database_required=True)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with migrated(bench_app(args.database_url)):
        with stopwatch() as took:
            staff, people = generate(args.cases)
        print(f"generated {args.cases} cases in {took():.1f} s")
        next_query = queries(people, staff, random.Random(7))
        plan = [next_query() for _ in range(args.requests + 20)]
        found: list[int] = []

        def through_service() -> None:
            reader_id, q = plan[len(found) % len(plan)]
            page = services.list_cases(
                actor=db.session.get_one(User, reader_id), q=q, page=1, page_size=25
            )
            for case in page.items:  # what the list page renders
                _ = (case.case_number, case.host_office.name, case.origin_office)
            found.append(page.total)

        bare: list[int] = []

        def bare_sql() -> None:
            reader_id, q = plan[len(bare) % len(plan)]
            reader = db.session.get_one(User, reader_id)
            condition = search.search_condition(q)
            assert condition is not None
            filtered = scoped(sa.select(Returnee.id), Returnee, reader).where(condition)
            with db.engine.connect() as connection:
                connection.execute(
                    filtered.add_columns(Returnee.case_number)
                    .order_by(Returnee.id.desc())
                    .limit(25)
                ).all()
                total = connection.execute(
                    sa.select(sa.func.count()).select_from(filtered.subquery())
                ).scalar_one()
            bare.append(total)

        timed(through_service, 20)  # warm up
        found.clear()
        service_ms = timed(through_service, args.requests)
        timed(bare_sql, 20)
        bare.clear()
        bare_ms = timed(bare_sql, args.requests)
        assert found == bare, "the service and the bare SQL found different cases"
        report("case search through the service (page of 25 and count)", service_ms)
        report("the same searches as bare SQL", bare_ms)
        ratio = summary(service_ms)["p95"] / summary(bare_ms)["p95"]
        print(
            f"p95 service / bare SQL: {ratio:.2f}; "
            f"median hits {sorted(found)[len(found) // 2]}, none found in "
            f"{sum(1 for n in found if n == 0)} of {len(found)}"
        )


if __name__ == "__main__":
    main()
