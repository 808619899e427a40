"""Flow tests: Prefect keeps its files in a temporary folder and never starts a server on its
own; the one orchestrated session runs against ``prefect_test_harness``.

The environment is set here, before anything imports ``prefect`` (it reads its settings once,
at import).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from flask import Flask

from reintegration_hub.extensions import db
from tests.notifications.smtp import Sink, smtp_server
from workflows.app import get_app, reset_app

PREFECT_HOME = tempfile.mkdtemp(prefix="hub-prefect-home-")
os.environ["PREFECT_HOME"] = PREFECT_HOME
# a task called outside an orchestrated run must fail, not quietly start a temporary server
os.environ["PREFECT_SERVER_EPHEMERAL_ENABLED"] = "false"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "orchestrated: runs flows on a real Prefect test server (about 20 s to start)"
    )


@pytest.fixture(scope="session", autouse=True)
def _prefect_home() -> Iterator[None]:
    yield
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_event_loop_of_another_test() -> Iterator[None]:
    """Hide an event loop left running in this thread by an earlier test (tests/e2e keeps
    Playwright's sync API, hence its loop, open for the whole session).

    Prefect's sync functions (``State.result``, ``Flow.to_deployment``, ``Artifact.get``...)
    look for a running loop and, finding one, return coroutines instead of results.
    """
    foreign = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    yield
    asyncio._set_running_loop(foreign)


@pytest.fixture
def smtp() -> Iterator[Sink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
def worker_app(
    app: Flask, database_url: str, smtp: Sink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The application tasks build in a worker process, from the ``HUB_*`` environment: the test
    database and SMTP server. ``app`` (the test's own) empties the database afterwards."""
    environment = {
        "HUB_ENV": "testing",
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEY": "test-secret",
        "HUB_SMTP_HOST": "127.0.0.1",
        "HUB_SMTP_PORT": str(smtp.port),
        "HUB_OUTBOX_BATCH_SIZE": "3",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_app()
    worker = get_app()
    yield worker
    with worker.app_context():
        db.engine.dispose()
    reset_app()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real Prefect server (SQLite, temporary) for the session; about 20 s to start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
