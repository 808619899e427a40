"""Liveness and readiness: /readyz answers 200 when the database (and the Prefect API, when one
is configured) answers, 503 naming what does not, and never says why."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from reintegration_hub import create_app
from tests.ports import free_port


class _PrefectHealth(BaseHTTPRequestHandler):
    """A Prefect API's ``/health`` as the real server answers it."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prefect_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PrefectHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()
    thread.join()


def test_ready_when_the_database_answers(app: Flask) -> None:
    answer = app.test_client().get("/readyz")

    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "checks": {"database": "ok"}}


def test_ready_checks_the_prefect_api_when_configured(
    make_app: Callable[..., Flask], prefect_api: str
) -> None:
    answer = make_app(PREFECT_API_URL=prefect_api).test_client().get("/readyz")

    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "prefect": "ok"}


def test_not_ready_without_the_prefect_api(make_app: Callable[..., Flask]) -> None:
    down = f"http://127.0.0.1:{free_port()}/api"

    answer = make_app(PREFECT_API_URL=down).test_client().get("/readyz")

    assert answer.status_code == 503
    assert answer.json == {
        "status": "unavailable",
        "checks": {"database": "ok", "prefect": "unavailable"},
    }
    assert "127.0.0.1" not in answer.get_data(as_text=True)  # no address, no error text


def test_alive_answers_without_the_database(app: Flask) -> None:
    assert app.test_client().get("/healthz").json == {"status": "ok"}


def test_not_ready_when_the_database_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/hub"
    down = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "DOCUMENT_DIR": str(tmp_path),
        }
    )

    answer = down.test_client().get("/readyz")

    assert answer.status_code == 503
    assert answer.json == {"status": "unavailable", "checks": {"database": "unavailable"}}
