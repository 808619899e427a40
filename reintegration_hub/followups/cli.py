"""``flask followups tick``: run the follow-up sweep now, or as of another day."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from reintegration_hub.core.db import now_utc
from reintegration_hub.followups.sweep import sweep

followups_cli = AppGroup("followups", help="Follow-up milestones.")


@followups_cli.command("tick")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to sweep as (default: today). Later days show what would then be due.",
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=5000, show_default=True)
def tick(as_of: dt.datetime | None, batch_size: int) -> None:
    """Mark milestones due and overdue, write reminders and escalations, close ended windows."""
    day = as_of.date() if as_of else now_utc().date()
    counts = sweep(day, batch_size=batch_size)
    click.echo(
        f"as of {day.isoformat()}: " + ", ".join(f"{k} {v}" for k, v in counts.as_dict().items())
    )
