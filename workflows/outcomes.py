"""The outcome snapshot: the dashboard's heavy indicators, pre-aggregated once a day.

``snapshot_outcomes`` runs its ``STEPS`` in order; each step is a task that opens a unit of
work, calls one service with the as-of day and returns ``{what: count}`` for the run's log and
table artifact. A new pre-aggregation (e.g. partner performance) is one more task in the list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.monitoring import snapshot
from workflows.app import unit_of_work
from workflows.flows import RETRY_DELAYS, is_transient
from workflows.performance import refresh_partner_figures
from workflows.records import recorded_flow


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def snapshot_cells(as_of: dt.date) -> dict[str, int]:
    """Replace the outcome cells (``monitoring.snapshot.snapshot_outcomes``), one transaction."""
    with unit_of_work():
        counts = snapshot.snapshot_outcomes(as_of, actor=SystemActor("snapshot_outcomes"))
    return {f"cells {measure}": n for measure, n in counts.cells.items()}


#: The steps of a snapshot run, in order.
STEPS: list[Callable[[dt.date], dict[str, int]]] = [snapshot_cells, refresh_partner_figures]


@recorded_flow(name="snapshot-outcomes")
def snapshot_outcomes(as_of: dt.date | None = None) -> dict[str, int]:
    """Recompute every pre-aggregated indicator as of ``as_of`` (default: today, UTC)."""
    as_of = as_of or now_utc().date()
    counts: dict[str, int] = {}
    for step in STEPS:
        counts.update(step(as_of))
    get_run_logger().info(
        "outcome snapshot as of %s: %s",
        as_of.isoformat(),
        ", ".join(f"{n} {what}" for what, n in counts.items()),
    )
    create_table_artifact(
        key="snapshot-outcomes",
        table=[{"as_of": as_of.isoformat(), "what": what, "rows": n} for what, n in counts.items()],
        description="Outcome snapshot for the monitoring dashboard",
    )
    return counts
