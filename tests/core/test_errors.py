from __future__ import annotations

from reintegration_hub.core.roles import Role
from tests.factories import user_with_role


def test_unknown_page_is_a_friendly_404(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Page not found" in response.data


def test_api_errors_are_json_with_a_message(client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["message"]


def test_api_validation_errors_name_the_field(client, login) -> None:
    login(user_with_role(Role.ADMIN))
    response = client.post("/api/v1/offices", json={"name": "", "kind": "moon"})
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert {"name", "kind", "country_code"} <= set(errors)


def test_api_domain_errors_are_json_4xx(client, login) -> None:
    admin = user_with_role(Role.ADMIN)
    login(admin)
    response = client.post(
        "/api/v1/offices", json={"name": "X", "kind": "origin", "country_code": "QQ"}
    )
    assert response.status_code == 422
    assert response.json["errors"]["country_code"]


def test_a_crash_is_a_friendly_500_page(make_app) -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    app.view_functions["home.health"] = _boom
    with app.app_context():
        response = app.test_client().get("/healthz")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.data
    assert b"Traceback" not in response.data


def _boom() -> str:
    raise RuntimeError("boom")


_boom.hub_access = "public"  # type: ignore[attr-defined]
