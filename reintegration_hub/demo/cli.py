from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from reintegration_hub.core.roles import SystemActor
from reintegration_hub.demo import data
from reintegration_hub.demo.monitoring import load_monitoring
from reintegration_hub.extensions import db

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has data already.")
def load_command(if_empty: bool) -> None:
    """Load the demo offices, users and grant, and print the demo log-ins."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("demo data is never loaded into a production database")
    if not data.is_empty():
        if if_empty:
            click.echo("The database has data already; demo data not loaded.")
            print_logins()
            return
        raise click.ClickException("the database is not empty; demo data goes into an empty one")
    data.load()
    db.session.commit()
    made = load_monitoring(actor=SystemActor("demo"))
    db.session.commit()
    click.echo(
        f"Demo data loaded, with {made['returnees']} cases of programme history for the "
        "monitoring dashboard."
    )
    print_logins()


def print_logins() -> None:
    click.echo(f"\nDemo log-ins (password for all: {data.DEMO_PASSWORD}):")
    for user in data.USERS:
        click.echo(f"  {user.role.value:<18} {user.email:<36} {user.office}")
