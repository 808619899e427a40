"""Upgrading a database of the previous release, with its data, to the head: nothing is lost,
the columns added since are filled (the case search's keys), the pages read it, and the
migrations go back to the release and up again with the data still there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub import create_app
from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import Returnee
from reintegration_hub.cases.search import case_number_tail, search_keys
from reintegration_hub.extensions import db
from tests.migrations.helpers import throwaway_database
from tests.migrations.release_fixture import KEPT_CASES, PREVIOUS_RELEASE, load

#: The live case of the fixture (a Georgian name, an approved plan, referrals sent).
LIVE_CASE = KEPT_CASES[-1]
COUNSELLOR = "counsellor.riga@demo.example"


@pytest.fixture
def release_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of its own (SQLite, or PostgreSQL next to the test one)."""
    with throwaway_database(database_url, tmp_path, "release") as url:
        app = create_app(
            {
                "ENV": "testing",
                "DATABASE_URL": url,
                "SECRET_KEY": "test-secret",
                "WTF_CSRF_ENABLED": False,
                "SERVER_NAME": "hub.test",
                "CERTIFICATE_DIR": str(tmp_path / "certificates"),
                "DOCUMENT_DIR": str(tmp_path / "documents"),
            }
        )
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def migrate(app: Flask, *args: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()  # a fresh connection: the migrations changed the tables under it


def counts(app: Flask) -> dict[str, int]:
    """Rows in each table of the previous release."""
    with app.app_context(), db.engine.connect() as conn:
        names = [
            name
            for name in sa.inspect(conn).get_table_names()
            if "_fts" not in name and name != "alembic_version"
        ]
        return {
            name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        start_session(user)
        db.session.commit()
        user_id = user.get_id()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    return client


def test_a_database_of_the_previous_release_upgrades_with_its_data(release_app: Flask) -> None:
    app = release_app
    migrate(app, "upgrade", PREVIOUS_RELEASE)
    with app.app_context(), db.engine.begin() as conn:
        load(conn)
    before = counts(app)
    assert before["returnees"] == len(KEPT_CASES)
    assert min(before["plans"], before["milestones"], before["referrals"]) > 0

    migrate(app, "upgrade")

    after = counts(app)
    assert {name: after[name] for name in before} == before  # nothing lost (SQLite lost plans)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        (head,) = ScriptDirectory.from_config(config).get_heads()
        version = sa.text("SELECT version_num FROM alembic_version")
        assert db.session.execute(version).scalar_one() == head
        for case in db.session.scalars(sa.select(Returnee)):  # 0021 filled the search keys
            keys = search_keys(
                first_name=case.first_name,
                last_name=case.last_name,
                contact_after_return=case.contact_after_return,
            )
            assert {name: getattr(case, name) for name in keys} == keys, case.case_number
            assert case.case_number_tail == case_number_tail(case.case_number)
        live = db.session.get(Returnee, LIVE_CASE)
        assert live is not None
        case_number = live.case_number
        adviser = db.session.scalars(sa.select(User).where(User.email == COUNSELLOR)).one()
        found = cases.list_cases(actor=adviser, q="Kapanadze").items
        assert [case.id for case in found] == [LIVE_CASE]
        db.session.rollback()

    client = signed_in(app, COUNSELLOR)
    case_page = client.get(f"/cases/{LIVE_CASE}")
    assert case_page.status_code == 200
    assert "კაპანაძე" in case_page.get_data(as_text=True)
    plan_page = client.get(f"/cases/{LIVE_CASE}/plan")
    assert plan_page.status_code == 200
    assert case_number in plan_page.get_data(as_text=True)
    search = client.get("/cases/", query_string={"q": "Капанадзе"})
    assert search.status_code == 200
    assert case_number in search.get_data(as_text=True)

    read = counts(app)  # with the sign-in's session and the reads' audit rows
    migrate(app, "downgrade", PREVIOUS_RELEASE)
    assert counts(app) == {name: read[name] for name in before}
    migrate(app, "upgrade")
    assert counts(app) == read
