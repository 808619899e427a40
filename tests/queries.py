"""Counting the SQL statements a piece of code sends (for "no N+1" tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from reintegration_hub.extensions import db


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Yields a list that collects every statement executed on the app's engine meanwhile."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        # SQLite's explicit transaction start (core.db) is no query
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
