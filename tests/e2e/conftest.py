"""Browser tests: the app served on a free local port, driven by Playwright in Debian's
Chromium (no browser download: ``executable_path`` points at the system binary)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from reintegration_hub.demo import data
from reintegration_hub.extensions import db

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("HUB_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    message = "Chromium is not installed (Debian package `chromium`); .ci/run installs it"
    if os.environ.get("HUB_E2E_REQUIRED"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on a free local port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"  # e-mailed links
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def live_server(make_app) -> Iterator[str]:
    """The demo world served over HTTP; yields the base URL."""
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute", SERVER_NAME=None)
    with app.app_context():
        data.load()
        db.session.commit()
        db.session.remove()
    with serving(app) as base_url:
        yield base_url


@pytest.fixture
def fresh_install(make_app) -> Iterator[tuple[str, Flask]]:
    """A fresh installation served, without the demo: the migrated database and nothing else
    (what ``flask db upgrade`` leaves). Yields the base URL and the app, to run ``flask setup``."""
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute", SERVER_NAME=None)
    with serving(app) as base_url:
        yield base_url, app


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()
