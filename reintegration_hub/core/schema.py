"""Hooks that keep Alembic's autogenerate in step with the models, and the SQLite connection
the migrations run on (used by migrations/env.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out the full-text search objects that only migrations create and the models do not
    map: tables and indexes whose names carry ``_fts`` or ``_trgm`` (SQLite FTS5 tables,
    PostgreSQL full-text and trigram indexes) and columns whose names contain ``fts`` (the
    stored generated ``tsvector`` column on PostgreSQL)."""
    if not name or not reflected or compare_to is not None:
        return True
    if type_ == "column":
        return "fts" not in name
    return not (type_ in {"table", "index"} and ("_fts" in name or "_trgm" in name))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as the plain SQLAlchemy types they store, so revisions never
    import application code."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


class ForeignKeyViolation(RuntimeError):
    """Migrated rows point at rows that do not exist; the migrations are rolled back."""


@contextmanager
def migrating(connection: sa.Connection) -> Iterator[None]:
    """The migrations' connection, with SQLite's foreign keys off while they run.

    Alembic alters an SQLite table by copying it, dropping the old one and renaming the copy
    ("batch" mode). With foreign keys on (every connection of the app turns them on), dropping
    the old table deletes its rows first and cascades: migration 0021 re-creating ``returnees``
    emptied plans, milestones, consents and everything under them. So they are off while the
    migrations run (the pragma only takes effect outside a transaction, hence on the driver's
    connection before the first statement), and :func:`check_foreign_keys` checks every key
    before the migrations commit. They are on again before the connection goes back to the
    pool. Other databases alter tables in place: nothing changes there.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        connection.rollback()  # nothing is open after the migrations' commit; a failure's is gone
        driver.execute("PRAGMA foreign_keys=ON")


def check_foreign_keys(connection: sa.Connection) -> None:
    """Raise ForeignKeyViolation if a row's foreign key points at no row (SQLite, whose keys
    are off while the migrations run; other databases checked every statement)."""
    if connection.dialect.name != "sqlite":
        return
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if violations:
        shown = ", ".join(
            f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in violations[:10]
        )
        raise ForeignKeyViolation(f"{len(violations)} rows point at no row: {shown}")
