"""Feedback tests record real deliveries: each keeps its certificates in its own directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[Flask]:
    app = make_app(CERTIFICATE_DIR=str(tmp_path / "certificates"))
    with app.app_context():
        yield app
