"""SQL that PostgreSQL and SQLite spell differently: date arithmetic, and inserts that skip rows
already there (``insert_ignore``, the one place that picks the dialect's ``ON CONFLICT``),
partial indexes (``partial_index``).

Each date function is a SQL construct (``sqlalchemy.ext.compiler``), so one expression serves
both databases and the statement needs no dialect at build time. Their constants are written
into the SQL text, not bound: the same expression in a select list and its ``GROUP BY`` then
compiles to the same text (psycopg binds server-side, and PostgreSQL would see two different
parameters).
Timestamps are stored in UTC (``core.db.UTCDateTime``), so a day is the UTC calendar day
whatever the database session's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from reintegration_hub.extensions import db


def without_jit() -> None:
    """Turn PostgreSQL's JIT off for the rest of the session's transaction (a batch job's
    large statements: the sweep's, the outcome snapshot's). Their costs are high enough for
    the JIT, which then spends longer compiling than the statements run: 0.2 s of a sweep
    range's 20 ms statement, 1.5-2 s of the 10 s snapshot at 100,000 cases."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL jit = off"))


def random_reads_costed_as_cached() -> None:
    """Let PostgreSQL's planner cost a random page read at 1.1 sequential ones, the value its
    documentation gives for solid-state storage, not its default 4, for the rest of the
    session's transaction (a batch job's statements over rows it has just read). The sweep
    joins the ~1,000 milestones a range e-mails about to their returnees: at 4, PostgreSQL
    reads all 100,000 returnees, in parallel (~30 ms a range of 50,000 plans); at 1.1, it
    looks up the 1,000 (~18 ms)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL random_page_cost = 1.1"))


def with_work_mem(megabytes: int) -> None:
    """Let each sort and hash of the rest of the session's transaction use up to
    ``megabytes`` of memory on PostgreSQL, instead of its default 4 MB (a batch job's large
    GROUP BYs: the outcome snapshot at 100,000 cases takes 10 s with 4 MB, 7.6-8 s with 64,
    no less with 128). PostgreSQL takes only what a step needs."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{int(megabytes)}MB'"))


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index over the rows ``where`` holds, on PostgreSQL and SQLite alike (each dialect
    takes the condition under its own keyword)."""
    condition = sa.text(where)
    return sa.Index(
        name, *columns, unique=unique, postgresql_where=condition, sqlite_where=condition
    )


class utc_day(FunctionElement[dt.date]):
    """The UTC calendar day of a timestamp: ``utc_day(Plan.approved_at)``."""

    type = sa.Date()
    name = "utc_day"
    inherit_cache = True


class month_start(FunctionElement[dt.date]):
    """The first day of a date's month."""

    type = sa.Date()
    name = "month_start"
    inherit_cache = True


class days_between(FunctionElement[int]):
    """Whole days from date ``earlier`` to date ``later``: ``days_between(later, earlier)``."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


class hours_between(FunctionElement[float]):
    """Hours, with their fraction, from timestamp ``earlier`` to timestamp ``later``."""

    type = sa.Float()
    name = "hours_between"
    inherit_cache = True


def constant_text(value: str) -> sa.ColumnElement[str]:
    """A string constant of our own as literal SQL, not a bound parameter (see above)."""
    if "'" in value:
        raise ValueError("a quote in a literal SQL constant")
    return sa.literal_column(f"'{value}'", sa.String)


def constant_number(value: float) -> sa.ColumnElement[Any]:
    """A number as literal SQL, not a bound parameter (see above)."""
    return sa.literal_column(repr(value))


def _args(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"CAST(timezone('UTC', {value}) AS DATE)"


@compiles(utc_day)
def _utc_day(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)  # SQLite keeps the UTC time as ISO text
    return f"date({value})"


@compiles(month_start, "postgresql")
def _month_start_pg(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"CAST(date_trunc('month', {value}) AS DATE)"


@compiles(month_start)
def _month_start(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _args(element, compiler, **kw)
    return f"date({value}, 'start of month')"


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"({later} - {earlier})"  # date - date is an integer


@compiles(days_between)
def _days_between(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(hours_between, "postgresql")
def _hours_between_pg(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"(EXTRACT(EPOCH FROM {later} - {earlier}) / 3600.0)"


@compiles(hours_between)
def _hours_between(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _args(element, compiler, **kw)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


def insert_ignore(
    table: sa.Table | sa.FromClause,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Iterable[str],
    *,
    returning: Iterable[sa.ColumnElement[Any]] = (),
) -> list[sa.Row[Any]]:
    """Insert ``rows`` into ``table`` in one statement, skipping each row whose ``key_columns``
    (a unique constraint) match a row already there, or an earlier row of ``rows``; the
    ``returning`` columns of the rows inserted (none asked: an empty list).

    Written as ``INSERT .. ON CONFLICT (key) DO NOTHING`` on both databases, so a concurrent
    writer of the same key never fails the transaction."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect
    columns = list(returning)
    if dialect.name == "postgresql" and columns:
        arrays = _insert_from_arrays(table, rows, key_columns, columns, dialect)
        if arrays is not None:
            return arrays
    insert: Any = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(key_columns))
    if not columns:
        db.session.execute(stmt, list(rows))
        return []
    return list(db.session.execute(stmt.returning(*columns), list(rows)))


#: column types an array parameter carries as it is (JSON would need a cast per element)
_ARRAY_TYPES = (sa.Integer, sa.String, sa.Text, sa.Boolean, sa.Date, sa.DateTime, sa.Numeric)


def _insert_from_arrays(
    table: sa.Table | sa.FromClause,
    rows: Sequence[Mapping[str, Any]],
    key_columns: Iterable[str],
    returning: list[sa.ColumnElement[Any]],
    dialect: sa.Dialect,
) -> list[sa.Row[Any]] | None:
    """PostgreSQL, with ``RETURNING``: ``INSERT .. SELECT * FROM unnest(array, ...)``, one
    parameter a column however many rows. A multi-row ``VALUES`` binds a parameter per value,
    and psycopg parses such a statement in Python (~0.2 ms a row of a dozen columns). ``None``
    when the rows do not all give the same columns, or a column is of another type."""
    names = list(rows[0])
    if any(len(row) != len(names) for row in rows):
        return None
    targets = [table.c[name] for name in names]
    types = [column.type for column in targets]
    if not all(isinstance(getattr(t, "impl_instance", t), _ARRAY_TYPES) for t in types):
        return None
    values: dict[str, list[Any]] = {}
    casts = []
    for n, (name, column_type) in enumerate(zip(names, types, strict=True)):
        process = column_type.bind_processor(dialect)
        given = [row[name] for row in rows]
        values[f"a{n}"] = [process(v) for v in given] if process else given
        impl = getattr(column_type, "impl_instance", column_type)
        casts.append(f"CAST(:a{n} AS {impl.compile(dialect=dialect)}[])")
    # the text holds only parameter names and the DDL of this table's column types
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    source = sa.text(
        f"SELECT * FROM unnest({', '.join(casts)}) AS given ({quoted})"  # noqa: S608
    ).columns(*targets)
    insert: Any = postgresql.insert
    stmt = (
        insert(table)
        .from_select(names, source.subquery().select())
        .on_conflict_do_nothing(index_elements=list(key_columns))
        .returning(*returning)
    )
    return list(db.session.execute(stmt, values))
