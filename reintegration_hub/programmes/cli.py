"""``flask setup`` (the first administrator of a fresh installation) and
``flask programmes import-rates FILE`` (daily exchange rates, all or none)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.programmes import rates, setup

programmes_cli = AppGroup("programmes", help="Programme set-up.")


def _refuse(error: DomainError) -> click.ClickException:
    details = [
        f"  {field}: {'; '.join(map(str, messages))}"
        for field, messages in error.field_errors.items()
    ]
    return click.ClickException("\n".join([str(error.message), *details]))


@click.command("setup")
@with_appcontext
@click.option("--office", "office_name", envvar="HUB_SETUP_OFFICE", help="The home office.")
@click.option(
    "--country", envvar="HUB_SETUP_COUNTRY", help="ISO 3166-1 alpha-2 code of its country."
)
@click.option("--email", envvar="HUB_SETUP_EMAIL", help="The administrator's e-mail.")
@click.option("--name", "full_name", envvar="HUB_SETUP_NAME", help="The administrator's name.")
@click.option(
    "--password",
    envvar="HUB_SETUP_PASSWORD",
    help="Better given at the prompt or as HUB_SETUP_PASSWORD than on the command line.",
)
@click.option(
    "--language",
    default="en",
    show_default=True,
    envvar="HUB_SETUP_LANGUAGE",
    type=click.Choice(["en", "lt", "lv", "cs", "ru"]),
)
def setup_command(
    office_name: str | None,
    country: str | None,
    email: str | None,
    full_name: str | None,
    password: str | None,
    language: str,
) -> None:
    """Create the first administrator (and the home office) of a fresh installation.

    Asks for what is not given as an option or an environment variable; refuses once any
    administrator exists. Then sign in and set up offices, users, grants, budget cap rules
    and exchange rates in the pages."""
    if setup.has_administrator():
        raise click.ClickException(
            "An administrator exists already: sign in and add users in the pages."
        )
    try:
        admin = setup.create_first_administrator(
            office_name=office_name or click.prompt("Home office name", default="Home office"),
            country_code=(country or click.prompt("Its country (ISO 3166, e.g. CH)")).upper(),
            email=email or click.prompt("Administrator's e-mail"),
            full_name=full_name or click.prompt("Administrator's full name"),
            password=password
            or click.prompt(
                "Password (10 characters or more)", hide_input=True, confirmation_prompt=True
            ),
            preferred_language=language,
        )
    except DomainError as error:
        db.session.rollback()
        raise _refuse(error) from None
    db.session.commit()
    click.echo(
        f"Administrator {admin.email} created in {admin.office.name}. Sign in to set up "
        "offices, users, grants, budget cap rules and exchange rates."
    )


@programmes_cli.command("import-rates")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_rates_command(path: Path) -> None:
    """Import daily exchange rates from a CSV or XLSX file (columns currency, date, and
    eur_per_unit or units_per_eur; optionally source), all rows or none."""
    try:
        result = rates.import_rates(path.name, path.read_bytes(), actor=SystemActor("cli"))
    except rates.RatesRejected as error:
        db.session.rollback()
        lines = [f"  line {e.line}, {e.column}: {e.message}" for e in error.rows]
        raise click.ClickException("\n".join([str(error.message), *lines])) from None
    except DomainError as error:
        db.session.rollback()
        raise _refuse(error) from None
    db.session.commit()
    click.echo(
        f"Rates imported: {result.added} new, {result.changed} changed, "
        f"{result.unchanged} unchanged."
    )
