"""``/api/v1`` plans: the whole review path, refusals as JSON, scope."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from tests.factories import bearer
from tests.plans.helpers import World, other_counsellor, world


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_build_submit_review_and_approve_through_the_api(w: World, client: FlaskClient) -> None:
    counsellor, manager, pm = (
        bearer(w.counsellor),
        bearer(w.case_manager),
        bearer(w.programme_manager),
    )
    option = w.option(cost_minor=450000)

    started = client.post(f"/api/v1/cases/{w.case.id}/plan", headers=counsellor)
    assert started.status_code == 201
    plan_id = started.get_json()["id"]
    added = client.post(
        f"/api/v1/plans/{plan_id}/lines", json={"option_id": option.id}, headers=counsellor
    )
    assert added.status_code == 201
    assert added.get_json()["over_cap"] is True
    refused = client.post(f"/api/v1/plans/{plan_id}/submit", json={}, headers=counsellor)
    assert refused.status_code == 422
    assert "justification" in refused.get_json()["errors"]
    submitted = client.post(
        f"/api/v1/plans/{plan_id}/submit",
        json={"justification": "Medical needs of the younger child justify it."},
        headers=counsellor,
    )
    assert submitted.get_json()["lines"][0]["hold_status"] == "held"
    assert client.post(f"/api/v1/plans/{plan_id}/approve", json={}, headers=pm).status_code == 409
    assert (
        client.post(f"/api/v1/plans/{plan_id}/confirm", json={}, headers=manager).status_code == 200
    )
    approved = client.post(f"/api/v1/plans/{plan_id}/approve", json={}, headers=pm)

    assert approved.status_code == 200
    body = approved.get_json()
    assert body["status"] == "approved"
    assert body["lines"][0]["referral_status"] == "sent"
    revisions = client.get(f"/api/v1/plans/{plan_id}/revisions", headers=pm).get_json()
    assert [r["action"] for r in revisions][:2] == ["approve", "confirm"]
    listed = client.get("/api/v1/plans?status=approved", headers=manager)
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1


def test_an_ineligible_option_is_a_422_naming_the_field(w: World, client: FlaskClient) -> None:
    headers = bearer(w.counsellor)
    plan_id = client.post(f"/api/v1/cases/{w.case.id}/plan", headers=headers).get_json()["id"]

    refused = client.post(
        f"/api/v1/plans/{plan_id}/lines",
        json={"option_id": w.option(max_age=25).id},
        headers=headers,
    )

    assert refused.status_code == 422
    assert "option_id" in refused.get_json()["errors"]


def test_another_office_gets_404(w: World, client: FlaskClient) -> None:
    client.post(f"/api/v1/cases/{w.case.id}/plan", headers=bearer(w.counsellor))

    assert (
        client.get(
            f"/api/v1/cases/{w.case.id}/plan", headers=bearer(other_counsellor())
        ).status_code
        == 404
    )
