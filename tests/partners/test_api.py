"""``/api/v1/marketplace``: partners, options and places over JSON, same rules as the pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from partners.models import OptionStatus
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.factories import PartnerFactory, SupportOptionFactory, UserFactory
from tests.partners.helpers import API, OPTION, case_manager


def test_create_publish_and_hold_through_the_api(app: Flask, login) -> None:
    partner = PartnerFactory()
    client = login(case_manager())
    created = client.post(f"{API}/partners/{partner.id}/options", json=OPTION)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["status"] == "draft"
    assert body["cost_eur_minor"] == 30000
    assert body["locations"][0]["latitude"] == "41.715100"
    published = client.post(f"{API}/options/{body['id']}/status", json={"status": "published"})
    assert published.status_code == 200
    assert published.json["last_verified_at"]
    first = client.post(f"{API}/options/{body['id']}/holds", json={"reference": "plan-1"})
    second = client.post(f"{API}/options/{body['id']}/holds", json={"reference": "plan-2"})
    assert first.status_code == 201
    assert first.json["status"] == "held"
    assert second.json["status"] == "waitlisted"
    assert second.json["waitlist_position"] == 1
    released = client.post(f"{API}/holds/{first.json['hold_id']}/release")
    assert released.status_code == 200
    assert released.json["status"] == "released"
    assert client.post(f"{API}/holds/{first.json['hold_id']}/release").status_code == 409


def test_another_country_gets_404_and_a_counsellor_403(app: Flask, login) -> None:
    option = SupportOptionFactory()
    client = login(case_manager("AM"))
    assert client.get(f"{API}/options/{option.id}").status_code == 404
    assert client.put(f"{API}/options/{option.id}", json=OPTION).status_code == 404
    client = login(UserFactory(role=Role.COUNSELLOR))
    assert client.get(f"{API}/options/{option.id}").status_code == 200
    assert client.put(f"{API}/options/{option.id}", json=OPTION).status_code == 403


def test_update_is_audited_and_validation_errors_name_fields(app: Flask, login) -> None:
    option = SupportOptionFactory()
    client = login(case_manager())
    response = client.put(f"{API}/options/{option.id}", json=OPTION)
    assert response.status_code == 200
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "option.update")
    ).one()
    assert entry.changes["category"] == ["vocational_training", "housing"]
    bad = client.put(f"{API}/options/{option.id}", json={**OPTION, "min_age": 50, "max_age": 20})
    assert bad.status_code == 422
    assert "max_age" in bad.json["errors"]
    no_rate = client.put(f"{API}/options/{option.id}", json={**OPTION, "currency": "AMD"})
    assert no_rate.status_code == 422
    assert "currency" in no_rate.json["errors"]


def test_partners_are_created_pending_and_suspended_with_a_reason(app: Flask, login) -> None:
    client = login(case_manager())
    created = client.post(
        f"{API}/partners",
        json={"name": "Tbilisi Legal Aid", "focal_point_email": "a@b.example.org"},
    )
    assert created.status_code == 201
    assert created.json["vetting_status"] == "pending"
    partner_id = created.json["id"]
    refused = client.post(
        f"{API}/partners/{partner_id}/vetting", json={"vetting_status": "suspended"}
    )
    assert refused.status_code == 422
    done = client.post(
        f"{API}/partners/{partner_id}/vetting",
        json={"vetting_status": "suspended", "reason": "Audit"},
    )
    assert done.json["suspension_reason"] == "Audit"
    listed = client.get(f"{API}/partners")
    assert [p["id"] for p in listed.json] == [partner_id]


def test_counsellors_list_only_listed_options(app: Flask, login) -> None:
    listed = SupportOptionFactory()
    SupportOptionFactory(status=OptionStatus.DRAFT)
    client = login(UserFactory(role=Role.COUNSELLOR))
    assert [o["id"] for o in client.get(f"{API}/options").json] == [listed.id]
