"""Migrations are the schema: one head, and upgrading an empty database gives exactly the models;
a migration that fills new columns from old data fills them as the code read that data."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from flask import Flask

from reintegration_hub.cases import services
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.schema import include_object
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import counsellor, details
from tests.clock import NOW
from tests.followups.helpers import DEPARTURE, approved, day
from tests.plans.helpers import world

VERSIONS = Path(__file__).parent.parent / "migrations" / "versions"


def test_migrations_have_a_single_head(app: Flask) -> None:
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgraded_database_matches_the_models(app: Flask) -> None:
    # the session fixture built the test database with `flask db upgrade`, not create_all
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def load_migration(revision: str) -> ModuleType:
    (path,) = VERSIONS.glob(f"{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_migration(step: Callable[[], None]) -> None:
    """Run one migration step on the test's connection (rolled back with the test)."""
    context = MigrationContext.configure(db.session.connection())
    with Operations.context(context):
        step()
    db.session.expire_all()


def outbox_columns() -> set[str]:
    return {c["name"] for c in sa.inspect(db.session.connection()).get_columns("outbox_messages")}


def stored_kinds() -> dict[str, tuple[str, int | None]]:
    """Each outbox message's kind and notice, by key."""
    rows = db.session.execute(
        sa.select(OutboxMessage.key, OutboxMessage.kind, OutboxMessage.notice_id)
    ).all()
    return {key: (kind, notice_id) for key, kind, notice_id in rows}


def test_0020_fills_the_kind_and_notice_of_messages_queued_before_and_goes_back(
    app: Flask,
) -> None:
    w = world()
    w.case.departed_on = DEPARTURE
    approved(w, w.option(lead_time_days=60))
    sweep(day(11))  # the arrival's reminder, one e-mail to the case manager
    table = cast(sa.Table, OutboxMessage.__table__)
    for key, kind in [
        ("referral:42:sent", "referral:sent"),
        ("plan:7:v2:submitted", "plan:submitted"),
        ("case-assign:3:4", "case-assign"),
    ]:
        db.session.execute(
            table.insert().values(
                key=key,
                kind=kind,
                to_address="someone@example.org",
                subject=key,
                body_text="",
                status=OutboxStatus.QUEUED,
                attempts=0,
                last_error="",
                created_at=NOW,
                next_attempt_at=NOW,
            )
        )
    # as the code writes them (the world's referral and plan, the sweep's reminder)
    expected = stored_kinds()
    assert ("milestone", None) not in expected.values()
    assert "milestone" in {kind for kind, _ in expected.values()}
    migration = load_migration("0020")

    run_migration(migration.downgrade)
    assert not {"kind", "notice_id"} & outbox_columns()
    run_migration(migration.upgrade)

    assert {"kind", "notice_id"} <= outbox_columns()
    assert stored_kinds() == expected


def stored_search_keys() -> dict[int, tuple[str | int, ...]]:
    columns = (
        Returnee.first_name_key,
        Returnee.last_name_key,
        Returnee.first_name_sound,
        Returnee.last_name_sound,
        Returnee.phone_key,
        Returnee.case_number_tail,
    )
    rows = db.session.execute(sa.select(Returnee.id, *columns)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_0021_fills_the_keys_of_cases_registered_before_as_the_code_does(app: Flask) -> None:
    actor = counsellor()
    for first, last, contact in [
        ("ნინო", "კაპანაძე", "+995 555 12 34 56"),
        ("Արամ", "Կարապետյան", ""),
        ("Пётр", "Шевченко", "tel: 8 (029) 111-22-33"),
        ("Ņina", "Bērziņa-Ozola", "nina@example.org"),
    ]:
        services.register_case(  # no consent or dependants: rows that point at the case
            details(first_name=first, last_name=last, contact_after_return=contact),
            confirm_duplicate=True,
            actor=actor,
        )
    expected = stored_search_keys()
    assert ("nino", "kapanadze", "n", "kpnds", "654321555599", 1) in expected.values()
    migration = load_migration("0021")

    run_migration(migration.downgrade)
    columns = {c["name"] for c in sa.inspect(db.session.connection()).get_columns("returnees")}
    assert "last_name_key" not in columns
    run_migration(migration.upgrade)

    assert stored_search_keys() == expected
    assert len(expected) == 4
