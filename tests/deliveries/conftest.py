"""Every delivery test keeps its certificates in its own temporary directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask


@pytest.fixture
def certificate_dir(tmp_path: Path) -> Path:
    return tmp_path / "certificates"


@pytest.fixture
def app(make_app: Callable[..., Flask], certificate_dir: Path) -> Iterator[Flask]:
    app = make_app(CERTIFICATE_DIR=str(certificate_dir))
    with app.app_context():
        yield app
