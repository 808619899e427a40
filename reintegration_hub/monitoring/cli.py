from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.performance import refresh_partner_performance
from reintegration_hub.monitoring.snapshot import snapshot_outcomes

monitoring_cli = AppGroup("monitoring", help="Home-office monitoring.")


@monitoring_cli.command("snapshot")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day the snapshot is as of (default: today, UTC).",
)
def snapshot_command(as_of: dt.datetime | None) -> None:
    """Recompute the dashboard's pre-aggregated outcome indicators now."""
    day = as_of.date() if as_of else now_utc().date()
    counts = snapshot_outcomes(day, actor=SystemActor("cli"))
    partners = refresh_partner_performance(day)
    db.session.commit()
    click.echo(
        f"Outcome snapshot as of {day.isoformat()}: "
        + ", ".join(f"{n} {measure} cells" for measure, n in counts.cells.items())
        + f"; performance of {partners} partners"
    )
