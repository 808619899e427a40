"""Partner performance: a step of the ``snapshot_outcomes`` flow (``workflows.outcomes``)."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.cache_policies import NO_CACHE

from reintegration_hub.monitoring.performance import refresh_partner_performance
from workflows.app import unit_of_work
from workflows.flows import RETRY_DELAYS, is_transient


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def refresh_partner_figures(as_of: dt.date) -> dict[str, int]:
    """Rewrite every partner's performance figures as of ``as_of``, one transaction."""
    with unit_of_work():
        partners = refresh_partner_performance(as_of)
    return {"partner performance rows": partners}
