"""What every bench does around its measurements: the command line, a throw-away database with
the current schema, the app on it, set-based inserts, and timing with percentiles.

A bench's ``main`` reads::

    args = arguments(__doc__).parse_args()            # plus the bench's own options
    with migrated(bench_app(args.database_url)) as app:
        with stopwatch() as took:
            generate(...)
        print(f"generated ... in {took():.1f} s")
        report("what was timed", timed(one_request, args.requests))
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from reintegration_hub import create_app
from reintegration_hub.extensions import db

#: Rows per INSERT statement of :func:`insert_rows`.
CHUNK = 10_000


def arguments(
    doc: str | None,
    *,
    database_required: bool = False,
    database_help: str = "default: an SQLite file in a temporary directory",
) -> argparse.ArgumentParser:
    """The parser every bench starts from: its description (the docstring's first line) and
    ``--database-url`` (by default an SQLite file in a temporary directory)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    if database_required:
        parser.add_argument("--database-url", required=True)
    else:
        parser.add_argument("--database-url", help=database_help)
    return parser


def bench_config(url: str | None) -> dict[str, str]:
    """The app's settings for a bench on ``url`` (None: a new SQLite file)."""
    url = url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    return {"DATABASE_URL": url, "SECRET_KEY": "bench", "ENV": "testing"}


def bench_app(url: str | None) -> Flask:
    """The app on the bench's database (None: a new SQLite file)."""
    return create_app(bench_config(url))


def upgraded(app: Flask) -> Flask:
    """``app``, its database upgraded to the current schema."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    return app


@contextmanager
def migrated(app: Flask) -> Iterator[Flask]:
    """``app`` in its app context, its database upgraded to the current schema."""
    with upgraded(app).app_context():
        yield app


def insert_rows(model: Any, rows: list[dict[str, Any]], *, chunk: int = CHUNK) -> None:
    """Set-based inserts of ``rows`` (column values by name) into ``model``'s table."""
    for start in range(0, len(rows), chunk):
        db.session.execute(sa.insert(model.__table__), rows[start : start + chunk])


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """The seconds the block takes: ``took()`` inside the block or after it."""
    start = time.perf_counter()
    end: list[float] = []

    def took() -> float:
        return (end[0] if end else time.perf_counter()) - start

    try:
        yield took
    finally:
        end.append(time.perf_counter())


def timed(
    fn: Callable[[], Any], runs: int, *, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """``runs`` calls of ``fn`` in milliseconds of ``clock`` (``time.process_time``: the CPU
    this process spent, which other work on the machine moves less than the wall clock); the
    session is rolled back after each."""
    samples = []
    for _ in range(runs):
        start = clock()
        fn()
        samples.append((clock() - start) * 1000)
        db.session.rollback()
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    """The median, 95th percentile and maximum of ``samples`` (a single sample is all three)."""
    if len(samples) < 2:
        return {"p50": samples[0], "p95": samples[0], "max": samples[0]}
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "max": max(samples)}


def report(name: str, samples: list[float]) -> None:
    """Print ``summary(samples)`` under ``name``."""
    cuts = summary(samples)
    print(
        f"{name}: n={len(samples)} p50={cuts['p50']:.1f} ms p95={cuts['p95']:.1f} ms "
        f"max={cuts['max']:.1f} ms"
    )
