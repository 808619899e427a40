"""The flows of the follow-up engine that need no milestones.

Flows only orchestrate: each task opens a unit of work (``workflows.app``), calls one service,
commits, and returns plain values. Tasks with side effects use ``cache_policy=NO_CACHE`` (Prefect
would otherwise reuse a result for the same inputs) and retry only on errors that a later try
can cure: the mail server or the database being unreachable. Every flow logs its counts and
leaves a table artifact of what it changed (Prefect UI, "Artifacts") and a row in the
application's ``flow_runs`` (``workflows.records``: the administrators' "Flow runs" page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from partners import referrals, services
from partners.services import StaleCounts
from reintegration_hub.cases import retention
from reintegration_hub.cases.retention import AnonymisationCounts
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.notifications.services import (
    DeliveryCounts,
    MailServerUnavailable,
    deliver_outbox,
)
from workflows.app import get_app, unit_of_work
from workflows.records import recorded_flow

#: Waits before the retries of a task that failed on a transient error.
RETRY_DELAYS: list[float] = [30, 120, 600]


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry condition: the mail server or the database could not be reached; any other error
    (a bug, a refused rule) fails the task at once."""
    try:
        state.result()
    except (MailServerUnavailable, sa.exc.OperationalError):
        return True
    except Exception:
        return False
    return False


# --- e-mail -----------------------------------------------------------------------------------


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def deliver_batch(as_of: dt.datetime, batch_size: int) -> DeliveryCounts:
    """Send one batch of the outbox due at ``as_of`` (see ``deliver_outbox``)."""
    with unit_of_work():
        return deliver_outbox(batch_size=batch_size, now=as_of)


@recorded_flow(name="deliver-notifications")
def deliver_notifications(
    as_of: dt.datetime | None = None, batch_size: int | None = None
) -> DeliveryCounts:
    """Send every queued e-mail due at ``as_of`` (default: when the run starts), a task per
    batch of ``batch_size`` (default ``OUTBOX_BATCH_SIZE``) until a batch finds nothing more.

    Messages queued after ``as_of`` wait for the next run, so a run always ends.
    """
    as_of = as_of or now_utc()
    size = batch_size or int(get_app().config["OUTBOX_BATCH_SIZE"])
    totals, batches = DeliveryCounts(), 0
    while True:
        counts = deliver_batch(as_of, size)
        totals, batches = totals + counts, batches + 1
        if counts.handled < size:
            break
    get_run_logger().info(
        "%d messages sent (%d digests), %d deferred, %d failed, %d withdrawn, in %d batches",
        totals.sent,
        totals.digests,
        totals.deferred,
        totals.failed,
        totals.withdrawn,
        batches,
    )
    create_table_artifact(
        key="deliver-notifications",
        table=[
            {
                "as_of": as_of.isoformat(),
                "sent": totals.sent,
                "digests": totals.digests,
                "deferred": totals.deferred,
                "failed": totals.failed,
                "withdrawn": totals.withdrawn,
                "batches": batches,
            }
        ],
        description="E-mails and text messages sent from the outbox (withdrawn: texts whose "
        "returnee no longer consents, never sent)",
    )
    return totals


# --- referrals --------------------------------------------------------------------------------


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def expire_due_referrals(as_of: dt.datetime) -> int:
    """Expire the referrals unanswered at ``as_of`` (``partners.referrals.expire_referrals``)."""
    with unit_of_work():
        return referrals.expire_referrals(as_of, actor=SystemActor("expire_referrals"))


@recorded_flow(name="expire-referrals", counts=lambda expired: {"expired": expired})
def expire_referrals(as_of: dt.datetime | None = None) -> int:
    """Expire every referral its partner did not answer in time, giving the held places back
    and queueing a notice to each case manager (sent by ``deliver_notifications``)."""
    as_of = as_of or now_utc()
    expired = expire_due_referrals(as_of)
    get_run_logger().info("%d referrals expired", expired)
    create_table_artifact(
        key="expire-referrals",
        table=[{"as_of": as_of.isoformat(), "expired": expired}],
        description="Referrals expired unanswered",
    )
    return expired


# --- marketplace listings ---------------------------------------------------------------------


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def flag_stale_options(as_of: dt.datetime) -> StaleCounts:
    """Flag the options not re-verified in time (``partners.services.flag_stale_options``)."""
    with unit_of_work():
        return services.flag_stale_options(as_of)


@recorded_flow(name="flag-stale-listings")
def flag_stale_listings(as_of: dt.datetime | None = None) -> StaleCounts:
    """Flag the marketplace options nobody re-verified within ``LISTING_STALE_DAYS``; after the
    grace period counsellors no longer see them."""
    as_of = as_of or now_utc()
    counts = flag_stale_options(as_of)
    get_run_logger().info(
        "%d options flagged stale; %d stale in all, %d of them hidden from counsellors",
        counts.flagged,
        counts.stale,
        counts.hidden,
    )
    create_table_artifact(
        key="flag-stale-listings",
        table=[
            {
                "as_of": as_of.isoformat(),
                "flagged": counts.flagged,
                "stale": counts.stale,
                "hidden": counts.hidden,
            }
        ],
        description="Marketplace options flagged stale",
    )
    return counts


# --- retention --------------------------------------------------------------------------------


@task(
    cache_policy=NO_CACHE,
    retries=len(RETRY_DELAYS),
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=is_transient,
)
def anonymise_batch(as_of: dt.datetime, batch_size: int) -> AnonymisationCounts:
    """Anonymise one batch of closed cases past retention (``cases.retention``), one
    transaction."""
    with unit_of_work():
        return retention.anonymise_closed_cases(
            as_of, actor=SystemActor("anonymise_closed_cases"), batch_size=batch_size
        )


@recorded_flow(name="anonymise-closed-cases")
def anonymise_closed_cases(
    as_of: dt.datetime | None = None, batch_size: int | None = None
) -> AnonymisationCounts:
    """Replace the personal data of every case closed ``CASE_RETENTION_DAYS`` or more before
    ``as_of`` (default: now), keeping its aggregates; a task per batch of ``batch_size``
    (default ``CASE_RETENTION_BATCH_SIZE``) cases until a batch finds fewer."""
    as_of = as_of or now_utc()
    size = batch_size or int(get_app().config["CASE_RETENTION_BATCH_SIZE"])
    totals, batches = AnonymisationCounts(), 0
    while True:
        counts = anonymise_batch(as_of, size)
        totals, batches = totals + counts, batches + 1
        if counts.cases < size:
            break
    get_run_logger().info(
        "as of %s, %d batches: %s",
        as_of.isoformat(),
        batches,
        ", ".join(f"{key} {value}" for key, value in totals.as_dict().items()),
    )
    create_table_artifact(
        key="anonymise-closed-cases",
        table=[{"as_of": as_of.isoformat(), "batches": batches, **totals.as_dict()}],
        description="Closed cases anonymised after the retention period",
    )
    return totals
