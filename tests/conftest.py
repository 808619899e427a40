"""Fixtures: one migrated database per session (SQLite, or PostgreSQL when
``HUB_TEST_DATABASE_URL`` is set), emptied after every test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient

from reintegration_hub import create_app
from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.extensions import db


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def test_config(database_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "hub.test",
        **extra,
    }


@pytest.fixture(scope="session")
def _migrated(database_url: str) -> None:
    """Bring the test database to the migrations' head once, from scratch."""
    from flask_migrate import upgrade

    app = create_app(test_config(database_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        upgrade()
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                rows = [dict(row) for row in conn.execute(table.select()).mappings()]
                if rows:
                    SEEDED[table.name] = rows
        db.engine.dispose()


#: Rows the migrations seed (reference data such as the default budget cap rule), restored
#: after each test empties the database.
SEEDED: dict[str, list[dict[str, Any]]] = {}


def empty_database() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
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


@pytest.fixture
def make_app(
    database_url: str, _migrated: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Flask]]:
    """Build an app with extra configuration; the database is emptied afterwards.

    Certificates (uploaded, or written by the demo) go to a temporary directory of the test's
    own unless the test names one, never into the instance folder.
    """
    built: list[Flask] = []
    certificates = str(tmp_path_factory.mktemp("certificates"))

    def make(**extra: Any) -> Flask:
        app = create_app(test_config(database_url, **{"CERTIFICATE_DIR": certificates, **extra}))
        built.append(app)
        return app

    yield make
    for app in built:
        with app.app_context():
            db.session.remove()
            empty_database()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    app = make_app()
    with app.app_context():
        yield app


class IsolatedClient(FlaskClient):
    """A test client whose requests do not inherit the user of the previous one.

    The ``app`` fixture keeps one app context open and requests reuse it, so Flask-Login's
    per-context ``g._login_user`` would otherwise survive from request to request, which
    never happens in production (a fresh app context per request).
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def login(client: FlaskClient) -> Callable[[User], FlaskClient]:
    """Sign ``user`` in on the test client (the log-in form itself is tested in test_views)."""

    def sign_in(user: User) -> FlaskClient:
        start_session(user)
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        return client

    return sign_in


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
