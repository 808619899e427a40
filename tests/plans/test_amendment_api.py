"""``/api/v1`` amendments: the same rules as the pages, refusals as JSON, versions, scope."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from partners.models import DeclineReason
from partners.referrals import LINK_ACTOR, decline_referral
from reintegration_hub.extensions import db
from tests.factories import bearer
from tests.plans.helpers import World, approved_plan, other_counsellor, world


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_decline_replace_confirm_through_the_api(w: World, client: FlaskClient) -> None:
    plan = approved_plan(w, w.option(cost_minor=20400), w.option(cost_minor=50000))
    line = plan.lines[0]
    decline_referral(line.referral_id, DeclineReason.LOCATION, actor=LINK_ACTOR)
    flat = w.option(cost_minor=19000)
    db.session.commit()
    counsellor, manager = bearer(w.counsellor), bearer(w.case_manager)

    shown = client.get(f"/api/v1/cases/{w.case.id}/plan", headers=counsellor).get_json()
    assert shown["lines"][0]["status"] == "declined"
    assert shown["total_eur_minor"] == 50000
    assert shown["approved_total_eur_minor"] == 70400
    proposed = client.post(
        f"/api/v1/plans/lines/{line.id}/replace",
        json={"option_id": flat.id, "version": shown["version"]},
        headers=counsellor,
    )
    assert proposed.status_code == 201
    body = proposed.get_json()
    assert body["amendment"]["number"] == 1
    assert body["lines"][-1]["status"] == "proposed"
    assert body["lines"][-1]["replaces_id"] == line.id
    submitted = client.post(
        f"/api/v1/plans/{plan.id}/amendment/submit", json={}, headers=counsellor
    ).get_json()
    assert submitted["amendment"]["needs_approval"] is False
    assert submitted["lines"][-1]["hold_status"] == "held"

    confirmed = client.post(
        f"/api/v1/plans/{plan.id}/amendment/confirm", json={"comment": "ok"}, headers=manager
    )

    assert confirmed.status_code == 200
    body = confirmed.get_json()
    assert body["amendment"] is None  # none in play any more
    assert body["lines"][-1]["status"] == "active"
    assert body["lines"][-1]["referral_status"] == "sent"
    assert body["total_eur_minor"] == 69000
    listed = client.get(f"/api/v1/plans/{plan.id}/amendments", headers=manager).get_json()
    assert [(a["number"], a["status"]) for a in listed] == [(1, "approved")]


def test_over_the_cap_the_amendment_waits_for_the_programme_manager(
    w: World, client: FlaskClient
) -> None:
    plan = approved_plan(w, w.option(cost_minor=300000))
    extra = w.option(cost_minor=200000)
    db.session.commit()
    counsellor = bearer(w.counsellor)

    added = client.post(
        f"/api/v1/plans/{plan.id}/lines", json={"option_id": extra.id}, headers=counsellor
    )
    assert added.status_code == 201
    refused = client.post(f"/api/v1/plans/{plan.id}/amendment/submit", json={}, headers=counsellor)
    assert refused.status_code == 422
    assert "justification" in refused.get_json()["errors"]
    client.post(
        f"/api/v1/plans/{plan.id}/amendment/submit",
        json={"justification": "The family grew: a second child was born after return."},
        headers=counsellor,
    )
    confirmed = client.post(
        f"/api/v1/plans/{plan.id}/amendment/confirm", json={}, headers=bearer(w.case_manager)
    ).get_json()
    assert confirmed["amendment"]["status"] == "feasible"
    assert confirmed["lines"][-1]["status"] == "proposed"

    approved = client.post(
        f"/api/v1/plans/{plan.id}/amendment/approve",
        json={},
        headers=bearer(w.programme_manager),
    )

    assert approved.status_code == 200
    assert approved.get_json()["lines"][-1]["referral_status"] == "sent"
    assert approved.get_json()["approved_total_eur_minor"] == 500000


def test_refusals_are_json_with_the_field_or_the_state(w: World, client: FlaskClient) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    line = plan.lines[0]
    db.session.commit()
    counsellor = bearer(w.counsellor)
    seen = plan.version

    changed = client.patch(
        f"/api/v1/plans/lines/{line.id}",
        json={"quantity": 2, "reason": "Two children", "version": seen},
        headers=counsellor,
    )
    assert changed.status_code == 200
    assert changed.get_json()["amendment"]["changes"][0]["quantity"] == 2
    stale = client.delete(
        f"/api/v1/plans/lines/{line.id}?reason=Moved&version={seen}", headers=counsellor
    )
    assert stale.status_code == 409
    assert "version" in stale.get_json()["message"]
    hostile = client.post(
        f"/api/v1/plans/{plan.id}/amendments", json={"reason": "a\u0000b"}, headers=counsellor
    )
    assert hostile.status_code == 422
    assert "reason" in hostile.get_json()["errors"]["json"]
    not_yours = client.post(
        f"/api/v1/plans/{plan.id}/amendment/confirm", json={}, headers=counsellor
    )
    assert not_yours.status_code == 403
    elsewhere = client.post(
        f"/api/v1/plans/lines/{line.id}/replace", json={}, headers=bearer(other_counsellor())
    )
    assert elsewhere.status_code == 404
    active = client.post(f"/api/v1/plans/lines/{line.id}/replace", json={}, headers=counsellor)
    assert active.status_code == 409
    kept = client.post(f"/api/v1/plans/lines/{line.id}/keep", json={}, headers=counsellor)
    assert kept.status_code == 200
    assert kept.get_json()["amendment"]["changes"] == []
