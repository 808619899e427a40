"""``flask followups tick``: run the follow-up sweep now, or as of another day."""

from __future__ import annotations

import datetime as dt
import json
from typing import TextIO

import click
from flask.cli import AppGroup

from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.followups.visits import load_scoring_version, rescore_surveys

followups_cli = AppGroup("followups", help="Follow-up milestones.")
CLI_ACTOR = SystemActor("cli")


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


@followups_cli.command("load-scoring")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option(
    "--rescore/--no-rescore",
    default=True,
    show_default=True,
    help="Score the stored surveys again under the new version.",
)
def load_scoring(path: TextIO, rescore: bool) -> None:
    """Load a scoring version from a JSON file: {"dimension_weights": {"economic": 1, ...},
    "indicators": {"income_sources": ["economic", 1], ...}, "bands": [["low", 0], ...]}
    and optionally low_score, imbalance_gap, decline_drop, note."""
    try:
        data = json.load(path)
        version = load_scoring_version(
            dimension_weights=data["dimension_weights"],
            indicators={key: (d, w) for key, (d, w) in data["indicators"].items()},
            bands=[(name, lower) for name, lower in data["bands"]],
            **{
                name: data[name]
                for name in ("low_score", "imbalance_gap", "decline_drop", "note")
                if name in data
            },
            actor=CLI_ACTOR,
        )
        rescored = rescore_surveys(version.id, actor=CLI_ACTOR) if rescore else None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        db.session.rollback()
        raise click.ClickException(f"not a scoring version file: {error!r}") from error
    except InvalidInput as error:
        db.session.rollback()
        problems = "; ".join(
            f"{k}: {', '.join(map(str, v))}" for k, v in error.field_errors.items()
        )
        raise click.ClickException(f"{error}: {problems}") from error
    db.session.commit()
    click.echo(f"scoring version {version.version} is in force")
    if rescored is not None:
        click.echo(f"{rescored} stored surveys scored again")
