"""The fixtures' promises (tests/conftest.py): a cached app is handed out as new, and a test's
commits stay in its own transaction."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from reintegration_hub.auth.models import Office
from reintegration_hub.core.roles import OfficeKind
from reintegration_hub.extensions import db, limiter, talisman
from tests.clock import NOW
from tests.factories import OfficeFactory


def test_a_commit_stays_in_the_tests_transaction(app: Flask) -> None:
    office = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", name="Only in this test")
    db.session.commit()
    assert db.session.get(Office, office.id) is not None
    with db.engine.connect() as other:  # a connection of its own sees the database as it is
        assert other.scalar(sa.select(Office.id).where(Office.id == office.id)) is None


def test_a_rollback_returns_to_the_last_commit(app: Flask) -> None:
    kept = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", name="Committed")
    db.session.commit()
    dropped = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", name="Rolled back")
    dropped_id = dropped.id
    db.session.rollback()
    names = set(db.session.scalars(sa.select(Office.name).where(Office.id >= kept.id)))
    assert names == {"Committed"}
    assert db.session.get(Office, dropped_id) is None


def test_a_cached_app_comes_back_with_its_own_configuration(make_app) -> None:
    app = make_app()
    app.config["PAGE_SIZE"] = 1
    again = make_app()
    assert again is app
    assert again.config["PAGE_SIZE"] == 50


def test_the_extensions_follow_the_app_handed_out(make_app, production_config) -> None:
    production = make_app(**production_config)
    assert talisman.strict_transport_security is True
    assert make_app() is not production
    assert talisman.strict_transport_security is False
    unlimited = make_app(RATELIMIT_ENABLED=False)
    assert limiter.enabled is False
    make_app()
    assert limiter.enabled is True
    assert unlimited.config["RATELIMIT_ENABLED"] is False


def test_sign_in_attempts_count_from_zero_when_an_app_is_handed_out_again(make_app) -> None:
    app = make_app(LOGIN_RATE_LIMIT="1 per minute")
    with app.app_context():
        client = app.test_client()
        assert client.post("/login", data={"email": "a@b.org", "password": "x"}).status_code == 200
        assert client.post("/login", data={"email": "a@b.org", "password": "x"}).status_code == 429
    again = make_app(LOGIN_RATE_LIMIT="1 per minute")
    with again.app_context():
        response = again.test_client().post("/login", data={"email": "a@b.org", "password": "x"})
    assert response.status_code == 200


def test_the_clock_starts_at_the_fixed_moment(app: Flask) -> None:
    from reintegration_hub.core.db import now_utc

    assert NOW <= now_utc() < NOW.replace(hour=NOW.hour + 1)
