"""The moment every rolled-back test starts at: tests/conftest.py sets the clock there (it
ticks on from it), so "today", in the test and in the code under test, is the same on every run.

Tests marked ``commits`` run on the real clock (other processes, a browser, the Prefect server
share it): they use dates of their own (an ``AS_OF``), never today.
"""

from __future__ import annotations

import datetime as dt

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def travel(time_machine: object, to: dt.date) -> None:
    """Set the clock of a rolled-back test to noon of ``to`` (standing still) for the rest of it."""
    time_machine.move_to(dt.datetime.combine(to, dt.time(12), dt.UTC), tick=False)  # type: ignore[attr-defined]
