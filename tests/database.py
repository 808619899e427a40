"""The test database itself: emptying it after a test that commits for real, and an app
whose sessions race on connections of their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from reintegration_hub.extensions import db

#: Rows the migrations seed (reference data such as the default budget cap rule), restored
#: after a committing test empties the database.
SEEDED: dict[str, list[dict[str, Any]]] = {}


def empty_database(engine: sa.Engine) -> None:
    """Delete every row, then put back the rows the migrations seed (committing tests).

    DELETE rather than TRUNCATE: a few rows in each of fifty tables go twenty times faster
    on PostgreSQL. Sequences go on (ids never restart at 1, as in a rolled-back test)."""
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if table.name in SEEDED:
                conn.execute(table.insert(), SEEDED[table.name])
                if conn.dialect.name == "postgresql":  # the next id follows the seeded ones
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f'(SELECT max(id) FROM "{table.name}"))'
                        )
                    )


def racing_app(make_app: Callable[..., Flask]) -> Flask:
    """An app on the test database without a pool: every session its own connection and
    transaction, so that threads race as separate clients would. Skips on SQLite, which lets
    one writer in at a time: nothing can race there."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip(
            "needs PostgreSQL (HUB_TEST_DATABASE_URL): SQLite lets one writer in at a time, "
            "so separate connections cannot race there"
        )
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool})
