"""Every deployment of the follow-up engine and its schedule, in one place.

    python -m workflows.deployments                   serve them all from this process
    python -m workflows.deployments --work-pool hub   register them on the work pool ``hub``,
                                                      for ``prefect worker start --pool hub``

Both talk to the Prefect server at ``PREFECT_API_URL``; ``--wait SECONDS`` first waits for it to
answer (``make run`` starts the server and this process together). Schedules are in UTC.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, cast

from prefect import Flow, deploy, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.settings import PREFECT_API_URL
from prefect.types.entrypoint import EntrypointType

from workflows import flows, milestones, outcomes

#: A second run of a sweep starting while one is still running is cancelled, not queued. For
#: delivery this also keeps SQLite, which has no row locks, to one deliverer at a time.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def deployments() -> list[RunnerDeployment]:
    """THE list of scheduled flows: add each new flow of the engine here (track_milestones,
    anonymise_closed_cases, snapshot_outcomes ...), nowhere else."""
    return [
        scheduled(
            flows.deliver_notifications,
            "deliver-notifications",
            "Send the queued e-mails (outbox).",
            interval=dt.timedelta(minutes=1),
        ),
        scheduled(
            flows.expire_referrals,
            "expire-referrals",
            "Expire referrals the partner did not answer in time (hourly).",
            cron="5 * * * *",
        ),
        scheduled(
            flows.flag_stale_listings,
            "flag-stale-listings",
            "Flag marketplace options not re-verified in time (daily).",
            cron="30 2 * * *",
        ),
        scheduled(
            flows.anonymise_closed_cases,
            "anonymise-closed-cases",
            "Anonymise closed cases past the retention period, keeping aggregates (daily).",
            cron="45 3 * * *",
        ),
        scheduled(
            milestones.track_milestones,
            "track-milestones",
            "Mark milestones due and overdue, remind, escalate, close ended windows (hourly).",
            cron="15 * * * *",
        ),
        scheduled(
            outcomes.snapshot_outcomes,
            "snapshot-outcomes",
            "Pre-aggregate the dashboard's case counts, spending and outcomes (hourly).",
            cron="50 * * * *",
        ),
        scheduled(
            milestones.track_plan,
            "track-plan",
            "The same checks for one plan, on demand (no schedule).",
        ),
    ]


def scheduled(
    flow: Flow[..., Any],
    name: str,
    description: str,
    *,
    cron: str | None = None,
    interval: dt.timedelta | None = None,
) -> RunnerDeployment:
    """A deployment of ``flow`` on a cron or interval schedule, one run at a time.

    Its entry point is a module path (``workflows.flows.deliver_notifications``), so a worker
    started from an install of this project runs it without any code storage.
    """
    deployment = flow.to_deployment(
        name=name,
        description=description,
        cron=cron,
        interval=interval,
        concurrency_limit=ONE_AT_A_TIME,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return cast(RunnerDeployment, deployment)  # called from sync code: not a coroutine


def api_url() -> str:
    """The Prefect server's API; never the temporary in-process server Prefect would otherwise
    start (slow to start, and it loses run records at exit)."""
    url = PREFECT_API_URL.value()
    if not url:
        raise SystemExit(
            "Set PREFECT_API_URL to the Prefect server, e.g. http://127.0.0.1:4200/api"
        )
    return str(url).rstrip("/")


def wait_for_api(timeout: float) -> None:
    """Block until the Prefect server answers its health check, or raise ``TimeoutError``."""
    url = f"{api_url()}/health"
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"PREFECT_API_URL must be an http(s) address, not {url!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - http(s) only
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Prefect server at {url} did not answer in {timeout:.0f} s")
        time.sleep(1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m workflows.deployments", description=__doc__)
    parser.add_argument("--work-pool", help="register on this work pool instead of serving")
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS")
    args = parser.parse_args(argv)
    api_url()
    if args.wait:
        wait_for_api(args.wait)
    if args.work_pool:
        deploy(*deployments(), work_pool_name=args.work_pool, ignore_warnings=True)
    else:
        serve(*deployments())


if __name__ == "__main__":
    main()
