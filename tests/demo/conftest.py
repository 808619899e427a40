"""Every demo test keeps the seeded deliveries' certificates in its own temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask


@pytest.fixture
def certificate_dir(tmp_path: Path) -> Path:
    return tmp_path / "certificates"


@pytest.fixture
def make_app(make_app: Callable[..., Flask], certificate_dir: Path) -> Callable[..., Flask]:
    def make(**extra: Any) -> Flask:
        return make_app(**{"CERTIFICATE_DIR": str(certificate_dir), **extra})

    return make
