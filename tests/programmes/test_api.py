"""``/api/v1`` programme set-up: grants, cap rules, places, priority, exchange rates."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from reintegration_hub.auth import services as auth
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.programmes.models import BudgetCapRule, Grant
from tests.cases.helpers import host_office
from tests.factories import user_with_role
from tests.programmes.helpers import grant, host_manager, riga_grant

GRANT = {
    "number": "AK/IOM/PMIF/2026/1",
    "title": "AVRR Latvia",
    "start_on": "2026-01-01",
    "end_on": "2027-12-31",
    "currency": "EUR",
    "total_budget_minor": 53265100,
    "funding_sources": [
        {"name": "AMIF", "share_bp": 7500},
        {"name": "State budget", "share_bp": 2500},
    ],
    "targets": [{"indicator": "returns", "target_value": 280}],
    "reintegration_places": 140,
}


def _bearer(user) -> dict[str, str]:
    _, raw = auth.issue_api_token(name="test", actor=user)
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_grants_are_created_read_and_replaced(client) -> None:
    headers = _bearer(user_with_role(Role.PROGRAMME_MANAGER))
    created = client.post("/api/v1/grants", json=GRANT, headers=headers)
    assert created.status_code == 201, created.json
    grant_id = created.json["id"]
    assert created.json["funding_sources"][1] == {"name": "State budget", "share_bp": 2500}
    assert created.json["plans_approved_by"] == "home_office"

    replaced = client.put(
        f"/api/v1/grants/{grant_id}",
        json={**GRANT, "reintegration_places": 150, "targets": []},
        headers=headers,
    )
    assert replaced.status_code == 200
    assert replaced.json["targets"] == []
    places = client.get(f"/api/v1/grants/{grant_id}/places", headers=headers)
    assert places.json == {"funded": 150, "used": 0, "left": 150}
    priority = client.get(f"/api/v1/grants/{grant_id}/priority?page=1", headers=headers)
    assert priority.json["rows"] == []
    assert priority.json["places"]["left"] == 150


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"funding_sources": [{"name": "AMIF", "share_bp": 7500}]}, "funding_shares"),
        (
            {"funding_sources": [{"name": "A", "share_bp": 5000}, {"name": "a", "share_bp": 5000}]},
            "funding_sources",
        ),
        ({"total_budget_minor": 2**63}, "total_budget_minor"),
        ({"end_on": "9999-12-31"}, "end_on"),
        ({"number": "AK\u0000"}, "number"),
        ({"title": "\ud800"}, "title"),
        ({"office_id": 2**31}, "office_id"),
        ({"reintegration_places": -1}, "reintegration_places"),
        ({"targets": [{"indicator": "returns", "target_value": 1}] * 2}, "targets"),
    ],
)
def test_a_refused_grant_answers_422_with_the_field(client, change: dict, field: str) -> None:
    headers = _bearer(user_with_role(Role.ADMIN))
    response = client.post("/api/v1/grants", json={**GRANT, **change}, headers=headers)
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])
    assert db.session.scalar(sa.select(sa.func.count(Grant.id))) == 0


def test_a_host_office_manager_reaches_only_its_own_grants(client) -> None:
    riga = host_office()
    own, home = riga_grant(riga), grant(number="EU-1")
    headers = _bearer(host_manager(riga))
    assert [g["id"] for g in client.get("/api/v1/grants", headers=headers).json] == [own.id]
    assert client.get(f"/api/v1/grants/{home.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/grants/{home.id}/priority", headers=headers).status_code == 404
    assert client.put(f"/api/v1/grants/{home.id}", json=GRANT, headers=headers).status_code == 404


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER])
def test_other_roles_cannot_set_up_programmes(client, role: Role) -> None:
    headers = _bearer(user_with_role(role))
    for path in ("/api/v1/grants", "/api/v1/cap-rules", "/api/v1/exchange-rates"):
        assert client.get(path, headers=headers).status_code == 403
    assert client.post("/api/v1/grants", json=GRANT, headers=headers).status_code == 403


def test_cap_rules_through_the_api(client) -> None:
    headers = _bearer(user_with_role(Role.ADMIN))
    rule = {
        "name": "National programme, Georgia",
        "return_country_code": "GE",
        "per_adult_minor": 300000,
        "per_dependant_minor": 50000,
        "max_household": 6,
        "min_departure_days": 10,
        "max_departure_days": 20,
    }
    created = client.post("/api/v1/cap-rules", json=rule, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["currency"] == "EUR"
    assert not created.json["is_default"]
    listed = client.get("/api/v1/cap-rules", headers=headers).json
    assert [r["name"] for r in listed][-1] == rule["name"]
    rule_id = created.json["id"]
    bad = client.put(
        f"/api/v1/cap-rules/{rule_id}", json={**rule, "max_household": 1000}, headers=headers
    )
    assert bad.status_code == 422
    assert client.delete(f"/api/v1/cap-rules/{rule_id}", headers=headers).status_code == 204
    default = db.session.scalars(sa.select(BudgetCapRule.id)).one()
    assert client.delete(f"/api/v1/cap-rules/{default}", headers=headers).status_code == 403


def test_exchange_rates_through_the_api(client) -> None:
    headers = _bearer(user_with_role(Role.PROGRAMME_MANAGER))
    created = client.post(
        "/api/v1/exchange-rates",
        json={"currency": "GEL", "valid_on": "2026-03-02", "units_per_eur": "2.5"},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    assert created.json["eur_per_unit"] == "0.4000000000"
    both = client.post(
        "/api/v1/exchange-rates",
        json={
            "currency": "GEL",
            "valid_on": "2026-03-03",
            "units_per_eur": "2",
            "eur_per_unit": "1",
        },
        headers=headers,
    )
    assert both.status_code == 422
    for rate in ("NaN", "Infinity", "1e999", "0"):
        refused = client.post(
            "/api/v1/exchange-rates",
            json={"currency": "GEL", "valid_on": "2026-03-03", "eur_per_unit": rate},
            headers=headers,
        )
        assert refused.status_code == 422, (rate, refused.json)
    corrected = client.put(
        f"/api/v1/exchange-rates/{created.json['id']}",
        json={"eur_per_unit": "0.35"},
        headers=headers,
    )
    assert corrected.status_code == 200
    listed = client.get("/api/v1/exchange-rates?currency=GEL", headers=headers)
    assert [r["eur_per_unit"] for r in listed.json] == ["0.3500000000"]
    assert listed.headers["X-Pagination"]


def test_an_import_through_the_api_is_all_or_nothing(client) -> None:
    headers = _bearer(user_with_role(Role.ADMIN))
    content = b"currency,date,eur_per_unit\nGEL,2026-03-02,0.34\nGEL,2026-03-03,zero\n"
    refused = client.post(
        "/api/v1/exchange-rates/import",
        data={"file": (io.BytesIO(content), "rates.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json["errors"]["lines"] == [
        "3 eur_per_unit: Give a positive rate from 0.0000001 to 10000000."
    ]
    assert db.session.scalar(sa.select(sa.func.count(ExchangeRate.id))) == 0
    imported = client.post(
        "/api/v1/exchange-rates/import",
        data={"file": (io.BytesIO(content.replace(b"zero", b"0.35")), "rates.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert imported.json == {"added": 2, "changed": 0, "unchanged": 0}
    assert db.session.scalars(
        sa.select(ExchangeRate.eur_per_unit).order_by(ExchangeRate.valid_on)
    ).all() == [Decimal("0.34"), Decimal("0.35")]


def test_the_openapi_document_describes_programme_set_up(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/grants",
        "/api/v1/grants/{grant_id}",
        "/api/v1/grants/{grant_id}/places",
        "/api/v1/grants/{grant_id}/priority",
        "/api/v1/cap-rules",
        "/api/v1/cap-rules/{rule_id}",
        "/api/v1/exchange-rates",
        "/api/v1/exchange-rates/{rate_id}",
        "/api/v1/exchange-rates/import",
    ):
        assert path in paths
