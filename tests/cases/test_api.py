from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from tests.cases.helpers import PAYLOAD, case_manager, counsellor, host_office, register
from tests.factories import bearer


def test_create_get_and_list_without_names(client) -> None:
    headers = bearer(counsellor())
    created = client.post("/api/v1/cases", json=PAYLOAD, headers=headers)
    assert created.status_code == 201
    body = created.get_json()
    assert body["case_number"].startswith("LV-")
    assert body["dependants"][0]["relation"] == "child"
    assert body["consent"]["share_with_origin_office"] is True
    listed = client.get("/api/v1/cases", headers=headers)
    assert listed.status_code == 200
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    assert "Petrosyan" not in listed.get_data(as_text=True)
    got = client.get(f"/api/v1/cases/{body['id']}", headers=headers)
    assert got.get_json()["last_name"] == "Petrosyan"
    assert (
        db.session.scalar(
            sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "case.view")
        )
        == 1
    )


def test_duplicate_answers_409_until_confirmed(client) -> None:
    register(
        counsellor(host_office("CZ", "Prague")),
        first_name="Aram",
        last_name="Petrosian",
        date_of_birth=dt.date(1979, 9, 9),
        nationality="AM",
        return_country_code="AM",
    )
    headers = bearer(counsellor())
    refused = client.post("/api/v1/cases", json=PAYLOAD, headers=headers)
    assert refused.status_code == 409
    assert "Petrosian" not in refused.get_data(as_text=True)
    assert "confirm_duplicate" in refused.get_json()["errors"]
    check = client.post(
        "/api/v1/cases/duplicates",
        json={k: PAYLOAD[k] for k in ("first_name", "last_name", "date_of_birth", "nationality")},
        headers=headers,
    )
    [match] = check.get_json()
    assert match["can_open"] is False
    assert client.get(match["url"], headers=headers).status_code == 404
    confirmed = client.post(
        "/api/v1/cases", json={**PAYLOAD, "confirm_duplicate": True}, headers=headers
    )
    assert confirmed.status_code == 201


def test_out_of_scope_is_404_and_case_managers_need_consent(client) -> None:
    case = register(counsellor(host_office("LV", "Riga")), consent_origin=False)
    assert (
        client.get(
            f"/api/v1/cases/{case.id}", headers=bearer(counsellor(host_office("CZ", "Prague")))
        ).status_code
        == 404
    )
    manager_headers = bearer(case_manager())
    assert client.get(f"/api/v1/cases/{case.id}", headers=manager_headers).status_code == 404
    assert (
        json.loads(client.get("/api/v1/cases", headers=manager_headers).headers["X-Pagination"])[
            "total"
        ]
        == 0
    )


def test_status_change_and_refusals(client) -> None:
    actor = counsellor()
    case = register(actor)
    headers = bearer(actor)
    url = f"/api/v1/cases/{case.id}/status"
    assert client.post(url, json={"status": "closed"}, headers=headers).status_code == 422
    assert client.post(url, json={"status": "plan_approved"}, headers=headers).status_code == 422
    ok = client.post(url, json={"status": "closed", "reason": "died"}, headers=headers)
    assert ok.status_code == 200
    assert ok.get_json()["status"] == "closed"
    assert client.post(url, json={"status": "assessed"}, headers=headers).status_code == 409
    assert db.session.get(Returnee, case.id).status == CaseStatus.CLOSED


def test_update_and_consent(client) -> None:
    actor = counsellor()
    case = register(actor)
    headers = bearer(actor)
    payload = {k: v for k, v in PAYLOAD.items() if k != "consent"}
    payload.update(nationality="GE", return_country_code="GE", departure_deadline_on="2026-03-01")
    refused = client.put(f"/api/v1/cases/{case.id}", json=payload, headers=headers)
    assert refused.status_code == 422
    assert "return_decision_on" in refused.get_json()["errors"]
    payload["return_decision_on"] = "2026-02-01"
    assert client.put(f"/api/v1/cases/{case.id}", json=payload, headers=headers).status_code == 200
    consent = client.post(
        f"/api/v1/cases/{case.id}/consents",
        json={
            "share_with_origin_office": True,
            "share_with_partners": True,
            "given_on": "2026-02-02",
        },
        headers=headers,
    )
    assert consent.status_code == 201
    assert db.session.get(Returnee, case.id).shares_with_origin


def test_case_managers_cannot_create(client) -> None:
    assert (
        client.post("/api/v1/cases", json=PAYLOAD, headers=bearer(case_manager())).status_code
        == 403
    )
