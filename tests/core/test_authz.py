from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.auth.models import User
from reintegration_hub.core.authz import PUBLIC, access_rule, get_scoped, is_static_endpoint, scoped
from reintegration_hub.core.errors import NotFound
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.factories import OfficeFactory, UserFactory, user_with_role


def test_every_endpoint_declares_who_may_use_it(app: Flask) -> None:
    undeclared = [
        f"{rule.endpoint} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if not is_static_endpoint(rule.endpoint)
        and access_rule(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


def test_an_endpoint_without_a_rule_is_refused(make_fresh_app) -> None:
    app = make_fresh_app()
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    with app.app_context():
        response = app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert b"secret" not in response.data


def test_public_rules_are_few_and_known(app: Flask) -> None:
    public = sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if access_rule(app.view_functions[rule.endpoint]) == PUBLIC
    )
    assert public == [
        "api-docs.openapi_json",
        "api_docs",
        "auth.login",
        "auth.logout",
        "auth.set_language",
        "cases.sms_reply",  # the SMS gateway's webhook: its request signature, not a session
        "feedback.answer",  # the returnee's feedback form, opened by its signed link: no account
        "followups.calendar_feed",  # opened by its secret token: a calendar program has no session
        "home.health",
        "home.ready",
        "metrics",  # Prometheus: refused without HUB_METRICS_TOKEN or an allowed address
        "partners.answer_referral",
    ]


def test_anonymous_user_is_sent_to_log_in(client) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert "/login?next=/admin/users" in response.headers["Location"]


@pytest.mark.parametrize(
    "role", [Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER, Role.PROGRAMME_MANAGER]
)
def test_non_administrators_cannot_manage_users(client, login, role: Role) -> None:
    login(user_with_role(role))
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_scoped_limits_users_to_the_actors_office(app: Flask) -> None:
    riga = OfficeFactory(name="Riga")
    prague = OfficeFactory(name="Prague", country_code="CZ")
    counsellor = UserFactory(office=riga)
    UserFactory(office=riga)
    stranger = UserFactory(office=prague)
    visible = db.session.scalars(scoped(sa.select(User), User, counsellor)).all()
    assert {u.office_id for u in visible} == {riga.id}
    with pytest.raises(NotFound):
        get_scoped(User, stranger.id, counsellor)


def test_administrators_see_every_office(app: Flask) -> None:
    admin = user_with_role(Role.ADMIN)
    other = UserFactory(office=OfficeFactory(country_code="CZ"))
    assert get_scoped(User, other.id, admin) is other
