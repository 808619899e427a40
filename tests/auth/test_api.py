from __future__ import annotations

from reintegration_hub.core.roles import OfficeKind, Role
from tests.factories import OfficeFactory, bearer, user_with_role


def test_me_answers_with_a_bearer_token(client) -> None:
    user = user_with_role(Role.CASE_MANAGER)
    response = client.get("/api/v1/me", headers=bearer(user))
    assert response.status_code == 200
    assert response.json["role"] == "case_manager"
    assert response.json["office"]["kind"] == "origin"


def test_unknown_token_is_401_json(client) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer rh_nope"})
    assert response.status_code == 401
    assert response.json["message"]


def test_offices_are_paginated_and_filtered(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    for n in range(4):
        OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE", name=f"Georgia {n}")
    headers = bearer(user)
    page = client.get("/api/v1/offices?kind=origin&page_size=3&count=exact", headers=headers)
    assert page.status_code == 200
    assert len(page.json) == 3
    assert '"total": 4' in page.headers["X-Pagination"]


def test_only_admins_create_offices(client) -> None:
    payload = {"name": "IOM Batumi", "kind": "origin", "country_code": "ge", "languages": ["ka"]}
    counsellor = user_with_role(Role.COUNSELLOR)
    assert (
        client.post("/api/v1/offices", json=payload, headers=bearer(counsellor)).status_code == 403
    )
    admin = user_with_role(Role.ADMIN)
    created = client.post("/api/v1/offices", json=payload, headers=bearer(admin))
    assert created.status_code == 201
    assert created.json["country_code"] == "GE"


def test_a_revoked_token_stops_working(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    headers = bearer(user)
    (token,) = client.get("/api/v1/me/tokens", headers=headers).json
    assert client.delete(f"/api/v1/me/tokens/{token['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
