"""Counting the SQL statements a piece of code sends (for "no N+1" tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from reintegration_hub.extensions import db

TRANSACTION_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """Yields a list that collects every statement the session executes meanwhile (on the
    engine it is bound to: the app's, or the test's own in a rolled-back test)."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        # transaction control is no query: SQLite's explicit BEGIN (core.db), and the
        # savepoints a commit or rollback becomes in a rolled-back test (tests/conftest.py)
        if not statement.startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    engine = db.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
