"""A database of a test's own, created empty and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from reintegration_hub.config import database_uri


@contextmanager
def throwaway_database(database_url: str, directory: Path, name: str) -> Iterator[str]:
    """The URL of a new, empty database: an SQLite file in ``directory``, or, when the tests
    run on PostgreSQL, a database beside the test database on the same server (named after
    it, ``name`` and this process), dropped at the end."""
    if not database_url.startswith(("postgres://", "postgresql")):
        yield f"sqlite:///{directory / f'{name}.sqlite3'}"
        return
    url = make_url(database_uri(database_url, directory))
    database = f"{url.database}_{name}_{os.getpid()}"
    server = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        yield url.set(database=database).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        server.dispose()
