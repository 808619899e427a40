"""Fixtures: one migrated database per session (SQLite, or PostgreSQL when
``HUB_TEST_DATABASE_URL`` is set; under pytest-xdist one per worker, see ``database_url``), one
application per configuration, one transaction per test.

``app``
    The application, with an app context open for the test. Built once per configuration for the
    whole session (building one costs about a second, most of it flask-smorest writing the
    OpenAPI document) and handed to each test as new: its configuration, the rate limiter's
    counts and the state the shared extensions keep of the last app built are reset first.
``make_app(**extra)``
    The application with extra configuration, cached the same way (by the configuration given,
    and the ``HUB_*`` environment). ``CERTIFICATE_DIR`` (a temporary directory of the test's own
    unless given) and ``SMTP_*`` are read when used, so they are set on the cached app instead
    of building another.
``make_fresh_app(**extra)``
    A new application every call, never cached: for a test that changes the app itself (adds a
    route, a hook, a Sentry transport).
``client``, ``login(user)``, ``runner``, ``database_url``
    The test client (see ``IsolatedClient``), signing a user in on it, the CLI runner, the URL of
    the test database.

Passwords are hashed and verified with argon2id at its lowest cost for the whole session
(``tests.factories.FAST_HASHER``): the production cost would be most of the suite's time.

**Each test runs in one transaction, rolled back at its end** (as indico's ``db`` fixture and
SQLAlchemy's "joining a session into an external transaction" recipe do): every session of
every app the test uses is bound to one connection with an outer transaction, and works in a
savepoint of it (``join_transaction_mode="create_savepoint"``): ``db.session.commit()``, in the
test or in the code under test, releases the savepoint, ``rollback()`` returns to it, and
nothing reaches the database. Ids come from sequences that a rollback does not rewind: never
hard-code one, take it from the row. The test's clock starts at ``tests.clock.NOW`` (it ticks
on from there): "today" is the same on every run.

**A test that needs real commits** (other connections or threads that must see its rows, a
worker app, a child process, a live server) is marked ``@pytest.mark.commits``: its apps use
their own engines and commit for real, the database is emptied afterwards (the migrations'
seeded rows restored), and its clock is the real one. Tests marked ``e2e`` or ``orchestrated``
and tests using ``worker_app`` or ``live_server`` are marked so by
``pytest_collection_modifyitems`` below.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask, g
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session
from sqlalchemy.pool import NullPool

from reintegration_hub import create_app, extensions
from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.config import database_uri
from reintegration_hub.extensions import db
from tests.clock import NOW
from tests.database import SEEDED, empty_database
from tests.factories import FAST_HASHER

#: Markers and fixtures that mean the test needs real commits.
COMMITTING_MARKERS = ("commits", "e2e", "orchestrated")
COMMITTING_FIXTURES = ("worker_app", "live_server")

#: Configuration read when it is used, never while the app is built: set on a cached app
#: rather than building another one for each value.
READ_WHEN_USED = (
    "CERTIFICATE_DIR",
    "DOCUMENT_DIR",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_TIMEOUT_SECONDS",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if any(item.get_closest_marker(name) for name in COMMITTING_MARKERS) or any(
            name in fixtures for name in COMMITTING_FIXTURES
        ):
            item.add_marker(pytest.mark.commits)


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[None]:
    """Passwords are hashed and verified with argon2id at its lowest cost (see FAST_HASHER)."""
    from reintegration_hub.auth import services

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "_hasher", FAST_HASHER)
        yield


@pytest.fixture(autouse=True)
def _clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """The clock of a rolled-back test starts at ``tests.clock.NOW`` and ticks on from there;
    a committing test keeps the real one (see tests/clock.py)."""
    if request.node.get_closest_marker("commits"):
        yield
        return
    with time_machine.travel(NOW, tick=True):
        yield


#: The pytest-xdist worker running this process ("gw0", "gw1"...), or "" without xdist.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in the session's temporary folder, or ``HUB_TEST_DATABASE_URL``; under
    pytest-xdist each worker has a PostgreSQL database of its own beside that one."""
    url = os.environ.get("HUB_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    elif not XDIST_WORKER:
        yield url
    else:
        with worker_database(url, XDIST_WORKER) as own:
            yield own


@contextmanager
def worker_database(url: str, worker: str) -> Iterator[str]:
    """A database named after ``url``'s and ``worker``, made for the session and dropped."""
    given = sa.make_url(url)
    own = given.set(database=f"{given.database}_{worker}")
    admin = sa.create_engine(
        database_uri(url, Path()), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    name = admin.dialect.identifier_preparer.quote(own.database or "")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield own.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_config(database_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "hub.test",
        "MEMO_SECONDS": 0,
        **extra,
    }


#: Redis for the tests of the production configuration (its sign-in limits), a database of its own
#: (under pytest-xdist, one per worker: 15, 14...)
REDIS_TEST_URL = os.environ.get(
    "HUB_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - int(XDIST_WORKER[2:] or 0)}"
)


@pytest.fixture
def production_config(database_url: str) -> dict[str, Any]:
    """What production needs to start (``config.production_problems``), on the test database."""
    if not database_url.startswith("postgresql"):
        pytest.skip("production refuses SQLite: its configuration is tested on PostgreSQL")
    return {
        "ENV": "production",
        "SECRET_KEY": "x" * 40,
        "RATELIMIT_STORAGE_URI": REDIS_TEST_URL,
        "DOCUMENT_KEYS": "y" * 43 + "=",
        "PUBLIC_BASE_URL": "https://hub.example.org",
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


@pytest.fixture(scope="session")
def _engine(database_url: str, _migrated: None) -> Iterator[sa.Engine]:
    """The engine of the fixtures themselves: each rolled-back test's connection, emptying."""
    engine = sa.create_engine(database_uri(database_url, Path()), pool_pre_ping=True)
    yield engine
    engine.dispose()


class TransactionSession(Session):
    """A session on the test's connection, whatever app or bind key it serves."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@pytest.fixture
def _database(request: pytest.FixtureRequest, _engine: sa.Engine) -> Iterator[list[Flask]]:
    """The test's database: one rolled-back transaction, or real commits for a test marked
    ``commits``. Yields the list the apps the test uses are added to (disposed afterwards)."""
    used: list[Flask] = []
    if request.node.get_closest_marker("commits"):
        yield used
        for app in used:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        empty_database(_engine)
        return
    factory = db.session.session_factory
    class_, kw = factory.class_, factory.kw
    connection = _engine.connect()
    outer = connection.begin()
    factory.class_ = TransactionSession
    factory.kw = {**kw, "bind": connection, "join_transaction_mode": "create_savepoint"}
    try:
        yield used
    finally:
        factory.class_, factory.kw = class_, kw
        outer.rollback()
        connection.close()


def freeze(value: Any) -> Hashable:
    """A hashable form of a configuration value (mappings and sequences included)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(repr(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


@dataclass
class Built:
    """A cached app, with what it had just after it was built."""

    app: Flask
    config: dict[str, Any]
    extensions: dict[str, dict[str, Any]]


def extension_objects() -> dict[str, Any]:
    """The shared extension objects, each keeping the state of the last app it was bound to
    (Talisman's HSTS, the rate limiter's storage and switch, flask-smorest's spec), except
    ``db``, which keeps its state per app."""
    return {
        name: value
        for name, value in vars(extensions).items()
        if hasattr(value, "init_app") and not isinstance(value, type) and value is not db
    }


def build(config: Mapping[str, Any]) -> Built:
    app = create_app(config)
    return Built(
        app=app,
        config=copy.deepcopy(dict(app.config)),
        extensions={name: dict(vars(ext)) for name, ext in extension_objects().items()},
    )


def check_out(built: Built, per_test: Mapping[str, Any]) -> Flask:
    """Hand a cached app to a test as it was built: its configuration and test-client classes,
    the extensions bound to it again, the rate limiter's counts cleared."""
    app = built.app
    app.config.clear()
    app.config.update(copy.deepcopy(built.config))
    app.config.update(per_test)
    app.test_client_class = None
    app.test_cli_runner_class = None
    for name, ext in extension_objects().items():
        vars(ext).update(built.extensions[name])
    if extensions.limiter.enabled:
        extensions.limiter.storage.reset()
    return app


@pytest.fixture(scope="session")
def _apps() -> dict[Hashable, Built]:
    """The apps built so far, by configuration and ``HUB_*`` environment."""
    return {}


@pytest.fixture
def make_app(
    database_url: str,
    _database: list[Flask],
    _apps: dict[Hashable, Built],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Flask]:
    """The app with extra configuration, built once per configuration for the session.

    Certificates and case documents (uploaded, or written by the demo) go to temporary
    directories of the test's own unless the test names one, never into the instance folder.
    """
    certificates = str(tmp_path_factory.mktemp("certificates"))
    documents = str(tmp_path_factory.mktemp("documents"))

    def make(**extra: Any) -> Flask:
        per_test = {"CERTIFICATE_DIR": certificates, "DOCUMENT_DIR": documents} | {
            name: extra.pop(name) for name in READ_WHEN_USED if name in extra
        }
        config = test_config(database_url, **extra)
        environment = sorted((k, v) for k, v in os.environ.items() if k.startswith("HUB_"))
        key = (freeze(config), tuple(environment))
        if key not in _apps:
            _apps[key] = build(config)
        app = check_out(_apps[key], per_test)
        _database.append(app)
        return app

    return make


@pytest.fixture
def make_fresh_app(
    database_url: str, _database: list[Flask], tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Flask]:
    """A new app every call, for a test that changes the app itself (a route, a hook)."""
    certificates = str(tmp_path_factory.mktemp("certificates"))
    documents = str(tmp_path_factory.mktemp("documents"))

    def make(**extra: Any) -> Flask:
        stores = {"CERTIFICATE_DIR": certificates, "DOCUMENT_DIR": documents}
        app = create_app(test_config(database_url, **{**stores, **extra}))
        _database.append(app)
        return app

    return make


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
