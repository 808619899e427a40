"""Declarative base, column types and mixins shared by every area."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def str_enum(enum_cls: Any, length: int = 32) -> sa.Enum:
    """A portable enum column: VARCHAR + CHECK, values stored as the enum's string values."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={dt.datetime: UTCDateTime, dict[str, Any]: sa.JSON},
    )


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now_utc, onupdate=now_utc)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, WAL and a busy timeout, so SQLite behaves like a real database."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
        # the driver's own transaction handling would let a savepoint commit on release;
        # SQLAlchemy issues BEGIN itself instead (see _sqlite_begin)
        dbapi_connection.isolation_level = None


@event.listens_for(Engine, "connect")
def _psycopg_binary_arrays(dbapi_connection: Any, connection_record: Any) -> None:
    """psycopg sends a Python list as an array in PostgreSQL's binary format, not its text
    one, whose dumper quotes and escapes each element with regular expressions in Python. A
    sweep range's e-mail bodies go in as arrays (``core.sql.insert_ignore``): its CPU went from
    77 to 57 ms a range of 50,000 plans. A list of no value (empty, or all ``None``) still goes
    as text, of the type the statement's cast gives."""
    from psycopg import Connection
    from psycopg.types.array import ListBinaryDumper

    if isinstance(dbapi_connection, Connection):
        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """Every SQLite transaction starts with an explicit BEGIN, so savepoints nest inside it
    and only the entry point's commit commits (SQLAlchemy's documented pysqlite recipe)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


_WROTE = "hub_wrote"


@event.listens_for(sa.orm.Session, "after_flush")
def _mark_written(session: sa.orm.Session, _flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(sa.orm.Session, "after_transaction_end")
def _forget_written(session: sa.orm.Session, transaction: sa.orm.SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def has_unsaved_work(session: sa.orm.Session) -> bool:
    """Whether committing ``session`` now would commit somebody's changes: objects waiting to be
    flushed, or rows flushed in its current transaction. Reads alone are not work."""
    return bool(session.new or session.dirty or session.deleted or session.info.get(_WROTE))
