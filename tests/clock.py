"""The moment every rolled-back test starts at: tests/conftest.py sets the clock there (it
ticks on from it), so "today", in the test and in the code under test, is the same on every run.

Tests marked ``commits`` run on the real clock (other processes, a browser, the Prefect server
share it): they use dates of their own (an ``AS_OF``), never today.
"""

from __future__ import annotations

import datetime as dt

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
