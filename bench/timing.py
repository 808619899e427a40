"""Timing shared by the benches: milliseconds per call, and their percentiles."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from reintegration_hub.extensions import db


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """``runs`` calls of ``fn`` in milliseconds; the session is rolled back after each."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "max": max(samples)}
