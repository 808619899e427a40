"""The data of the previous release: a database at its migrations' head, with data, as plain
SQL that SQLite and PostgreSQL both read (``release_0020.sql``), and how it was made.

The previous release is the last one landed before issue 16: its migration head is
``PREVIOUS_RELEASE``. The fixture was generated once, from a checkout of that release::

    git worktree add <dir> 98b8acc        # the last commit of main whose head was 0020
    cd <dir>
    HUB_DATABASE_URL=sqlite:///<file> flask db upgrade && flask demo load
    # plus one live case: a Georgian name, an approved plan referred to two Tbilisi options
    # (holds, referrals sent, e-mails queued), a dependant, swept on 2026-11-20
    cd <this repository>
    python -m tests.migrations.release_fixture <file>

which keeps the demo's offices, users, programme, marketplace and templates, and eight of its
cases with everything under them (``KEPT_CASES``: approved with deliveries and surveys, closed,
draft, feasible, returned, without a plan, the live case). It writes the rows as INSERTs, after
deleting the rows the migrations seed (the demo's database holds them too), each statement
followed by a blank line, timestamps in UTC. Foreign keys that close a cycle (an office's
supervisor, a milestone's plan line) are inserted empty and set by UPDATEs at the end.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: The migration head of the last release before issue 16.
PREVIOUS_RELEASE = "0020"
FIXTURE = Path(__file__).parent / f"release_{PREVIOUS_RELEASE}.sql"
#: The demo's cases kept, and the live case (the last).
KEPT_CASES = (1, 2, 3, 5, 8, 100, 250, 283)
#: Rows not kept: derived data the hourly snapshot writes again, SQLite's full-text tables
#: (their triggers fill them), Alembic's own.
SKIPPED = ("outcome_cells", "outcome_snapshots", "alembic_version")
ROWS_PER_INSERT = 100
#: What ends each statement of the fixture (values may hold line breaks).
SEPARATOR = ";\n\n"


def load(connection: sa.Connection) -> None:
    """Insert the fixture's rows (the schema at ``PREVIOUS_RELEASE`` must be there); on
    PostgreSQL in UTC, with every id sequence moved past the inserted ids."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
    for statement in FIXTURE.read_text(encoding="utf-8").split(SEPARATOR):
        if statement.strip() and not statement.startswith("--"):
            connection.exec_driver_sql(statement.replace("%", "%%"))
    if postgres:
        for table in sa.inspect(connection).get_table_names():
            columns = {c["name"] for c in sa.inspect(connection).get_columns(table)}
            if "id" in columns:
                connection.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f'(SELECT max(id) FROM "{table}"))'
                    )
                )


# --- making the fixture (once, from a database of the previous release) ----------------------


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(f"no literal for {type(value).__name__}")
    if SEPARATOR in text:
        raise ValueError("a value holds the statements' separator")
    return "'" + text.replace("'", "''") + "'"


def trim(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Keep ``KEPT_CASES`` and what they need: every row whose foreign key points at no row
    is deleted, until none is; referrals no plan line refers to go too."""
    kept = ", ".join(str(case) for case in KEPT_CASES)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM returnees WHERE id NOT IN ({kept})")
        for name in SKIPPED[:2]:
            conn.exec_driver_sql(f"DELETE FROM {name}")
        while True:
            deleted = 0
            for table in sorted(metadata.tables.values(), key=lambda t: t.name):
                for fk in table.foreign_keys:
                    parent = fk.column.table.alias("parent")
                    orphan = sa.and_(
                        fk.parent.isnot(None),
                        ~sa.exists().where(parent.c[fk.column.name] == fk.parent),
                    )
                    deleted += conn.execute(table.delete().where(orphan)).rowcount
            lines = metadata.tables["plan_lines"]
            referrals = metadata.tables["referrals"]
            deleted += conn.execute(
                referrals.delete().where(~sa.exists().where(lines.c.referral_id == referrals.c.id))
            ).rowcount
            if not deleted:
                return


def insert_order(tables: Sequence[sa.Table]) -> tuple[list[sa.Table], set[sa.Column[Any]]]:
    """The tables in an order that satisfies every NOT NULL foreign key, and the nullable
    foreign key columns that point at a table not yet inserted (themselves included)."""
    order: list[sa.Table] = []
    done: set[str] = set()
    names = {t.name for t in tables}
    remaining = sorted(tables, key=lambda t: t.name)
    while remaining:

        def needs(table: sa.Table, *, only_not_null: bool) -> set[str]:
            return (
                {
                    fk.column.table.name
                    for fk in table.foreign_keys
                    if not (only_not_null and fk.parent.nullable) and fk.column.table.name in names
                }
                - done
                - {table.name}
            )

        hard_ready = [t for t in remaining if not needs(t, only_not_null=True)]
        if not hard_ready:
            raise RuntimeError("NOT NULL foreign keys in a cycle")
        # the table with the fewest nullable keys to tables still to come (alphabetical on ties)
        chosen = min(hard_ready, key=lambda t: len(needs(t, only_not_null=False)))
        order.append(chosen)
        done.add(chosen.name)
        remaining.remove(chosen)
    position = {t.name: i for i, t in enumerate(order)}
    deferred = {
        fk.parent
        for t in order
        for fk in t.foreign_keys
        if fk.column.table.name in position and position[fk.column.table.name] >= position[t.name]
    }
    assert all(c.nullable for c in deferred)
    return order, deferred


def statements(conn: sa.Connection, tables: Iterable[sa.Table]) -> Iterable[str]:
    order, deferred = insert_order(list(tables))
    # the rows the migrations seed (the default cap rule, template, scoring) are the demo's too
    for table in reversed(order):
        yield f'DELETE FROM "{table.name}";'
    updates: list[str] = []
    for table in order:
        columns = list(table.columns)
        names = ", ".join(f'"{c.name}"' for c in columns)
        (key,) = table.primary_key.columns if len(table.primary_key.columns) == 1 else (None,)
        rows = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
        values = []
        for row in rows:
            values.append(
                "("
                + ", ".join(
                    "NULL" if c in deferred else literal(v)
                    for c, v in zip(columns, row, strict=True)
                )
                + ")"
            )
            for c, v in zip(columns, row, strict=True):
                if c in deferred and v is not None:
                    assert key is not None
                    updates.append(
                        f'UPDATE "{table.name}" SET "{c.name}" = {literal(v)} '
                        f'WHERE "{key.name}" = {literal(row._mapping[key.name])};'
                    )
        for start in range(0, len(values), ROWS_PER_INSERT):
            chunk = ", ".join(values[start : start + ROWS_PER_INSERT])
            yield f'INSERT INTO "{table.name}" ({names}) VALUES {chunk};'
    yield from updates


def make(source: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "release.sqlite3"
        shutil.copyfile(source, copy)
        with sqlite3.connect(copy) as check:
            (revision,) = check.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision != PREVIOUS_RELEASE:
            raise SystemExit(f"{source} is at {revision}, not {PREVIOUS_RELEASE}")
        engine = sa.create_engine(f"sqlite:///{copy}")
        metadata = sa.MetaData()
        metadata.reflect(engine)
        tables = [
            t for name, t in metadata.tables.items() if "_fts" not in name and name not in SKIPPED
        ]
        trim(engine, metadata)
        with engine.connect() as conn:
            lines = list(statements(conn, tables))
        engine.dispose()
    header = (
        f"-- The previous release's data (migration head {PREVIOUS_RELEASE}), written by "
        "tests/migrations/release_fixture.py: see there. Timestamps are UTC. Each statement "
        "ends with a semicolon and a blank line" + SEPARATOR
    )
    body = SEPARATOR.join(line.removesuffix(";") for line in lines)
    FIXTURE.write_text(header + body + SEPARATOR, encoding="utf-8")


if __name__ == "__main__":
    make(Path(sys.argv[1]))
