"""Every notifications test sends through its own real SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.notifications.smtp import Sink, smtp_server


@pytest.fixture
def smtp() -> Iterator[Sink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture
def app(make_app: Callable[..., Flask], smtp: Sink) -> Iterator[Flask]:
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT_SECONDS=5)
    with app.app_context():
        yield app
