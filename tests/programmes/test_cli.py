"""``flask setup`` (the first administrator) and ``flask programmes import-rates``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from reintegration_hub.auth import services as auth
from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.money import ExchangeRate, eur_per_unit
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.programmes.setup import SETUP_ACTOR

PASSWORD = "a long enough password"
FLAGS = [
    "setup",
    "--office",
    "IOM Home Office",
    "--country",
    "ch",
    "--email",
    "Ada@Example.org",
    "--name",
    "Ada Admin",
]


def test_setup_creates_the_home_office_and_its_first_administrator(runner) -> None:
    result = runner.invoke(args=FLAGS, env={"HUB_SETUP_PASSWORD": PASSWORD})

    assert result.exit_code == 0, result.output
    admin = db.session.scalars(sa.select(User)).one()
    assert (admin.email, admin.role, admin.full_name) == (
        "ada@example.org",
        Role.ADMIN,
        "Ada Admin",
    )
    assert (admin.office.name, admin.office.kind, admin.office.country_code) == (
        "IOM Home Office",
        OfficeKind.HOME,
        "CH",
    )
    assert auth.authenticate("ada@example.org", PASSWORD) == admin
    assert PASSWORD not in result.output
    labels = db.session.scalars(sa.select(AuditEntry.actor_label).distinct()).all()
    assert SETUP_ACTOR.audit_label in labels


def test_setup_asks_for_what_is_not_given(runner) -> None:
    answers = "\n".join(["", "LV", "ada@example.org", "Ada Admin", PASSWORD, PASSWORD]) + "\n"
    result = runner.invoke(args=["setup"], input=answers)

    assert result.exit_code == 0, result.output
    assert "Home office name [Home office]" in result.output
    assert "Repeat for confirmation" in result.output
    office = db.session.scalars(sa.select(Office)).one()
    assert (office.name, office.country_code) == ("Home office", "LV")


def test_setup_refuses_once_an_administrator_exists_before_asking_anything(runner) -> None:
    assert runner.invoke(args=FLAGS, env={"HUB_SETUP_PASSWORD": PASSWORD}).exit_code == 0
    again = runner.invoke(args=["setup"], input="")
    assert again.exit_code == 1
    assert "An administrator exists already" in again.output
    assert "e-mail" not in again.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_setup_refuses_bad_input_and_writes_nothing(runner) -> None:
    for flags, env, expected in [
        (FLAGS, {"HUB_SETUP_PASSWORD": "short"}, "at least 10 characters"),
        ([*FLAGS[:4], "XX", *FLAGS[5:]], {"HUB_SETUP_PASSWORD": PASSWORD}, "country code"),
        ([*FLAGS[:6], "not-an-address", *FLAGS[7:]], {"HUB_SETUP_PASSWORD": PASSWORD}, "e-mail"),
        ([*FLAGS[:2], "Home\x00", *FLAGS[3:]], {"HUB_SETUP_PASSWORD": PASSWORD}, "office_name"),
    ]:
        result = runner.invoke(args=flags, env=env)
        assert result.exit_code == 1, result.output
        assert expected in result.output
    assert db.session.scalar(sa.select(sa.func.count(Office.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_rates_are_imported_from_the_command_line(runner, tmp_path: Path) -> None:
    good = tmp_path / "rates.csv"
    good.write_text("currency,date,units_per_eur\nGEL,2026-03-02,2.5\n", encoding="utf-8")
    result = runner.invoke(args=["programmes", "import-rates", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    assert eur_per_unit("GEL", dt.date(2026, 3, 2)) == Decimal("0.4")

    bad = tmp_path / "bad.csv"
    bad.write_text("currency,date,units_per_eur\nGEL,2026-03-03,2.5\nGEL,tomorrow,2\n")
    refused = runner.invoke(args=["programmes", "import-rates", str(bad)])
    assert refused.exit_code == 1
    assert "line 3, date" in refused.output
    assert db.session.scalar(sa.select(sa.func.count(ExchangeRate.id))) == 1
