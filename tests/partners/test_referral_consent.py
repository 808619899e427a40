"""The returnee's consent decides who reads a referral's personal fields: withdrawn for the origin
office, its case managers see the referral by case number only; withdrawn for partners, so do
the partner's users and the e-mailed link. The referral itself stays, and so does its work."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from partners.models import DeclineReason, PartnerMember, Referral
from partners.referrals import decline_referral, referral_token
from reintegration_hub.auth.models import User
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from tests.factories import user_with_role
from tests.plans.helpers import World, world

FIRST_NAME = "Nino"
LINE_NOTE = "Prefers morning classes near the school."
PARTNER_NOTE = "Spoke to Nino's sister about the start date."
PERSONAL = (FIRST_NAME, "morning classes", "Single parent", "sister")


@pytest.fixture
def w(app: object) -> World:
    return world()


def approved_referral(w: World) -> tuple[Referral, User]:
    """The plan approved with one line, its referral sent; and a user of the line's partner."""
    option = w.option(capacity_places=3)
    plan = plans.start_plan(w.case.id, actor=w.counsellor)
    line = plans.add_line(plan.id, option.id, actor=w.counsellor)
    plans.update_line(line.id, quantity=1, notes=LINE_NOTE, actor=w.counsellor)
    plans.submit_plan(plan.id, actor=w.counsellor)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    member = user_with_role(Role.PARTNER, office=w.tbilisi)
    db.session.add(PartnerMember(partner_id=option.partner_id, user_id=member.id))
    db.session.flush()
    referral = db.session.get(Referral, line.referral_id)
    assert referral is not None
    return referral, member


def consent(w: World, client: FlaskClient, *, office: bool, partners: bool) -> None:
    """The counsellor records the returnee's consent through the case API."""
    response = client.post(
        f"/api/v1/cases/{w.case.id}/consents",
        json={
            "share_with_origin_office": office,
            "share_with_partners": partners,
            "given_on": dt.date.today().isoformat(),  # noqa: DTZ011
        },
    )
    assert response.status_code == 201, response.json


def through_api(client: FlaskClient, referral: Referral) -> dict[str, Any]:
    response = client.get(f"/api/v1/referrals/{referral.id}")
    assert response.status_code == 200
    listed = client.get("/api/v1/referrals").json
    assert [r for r in listed if r["id"] == referral.id] == [response.json]
    data: dict[str, Any] = response.json
    return data


def page_of(client: FlaskClient, referral: Referral) -> str:
    response = client.get(f"/marketplace/referrals/{referral.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def link_page(client: FlaskClient, referral: Referral) -> str:
    response = client.get(f"/marketplace/referrals/answer/{referral_token(referral)}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def shows_the_person(data: dict[str, Any]) -> bool:
    return data["first_name"] == FIRST_NAME and not data["personal_data_withheld"]


def test_withdrawn_for_the_origin_office_its_case_managers_read_the_case_number_only(
    w: World, login: Any
) -> None:
    referral, member = approved_referral(w)
    decline_referral(referral.id, DeclineReason.OTHER, note=PARTNER_NOTE, actor=member)
    assert shows_the_person(through_api(login(w.case_manager), referral))

    consent(w, login(w.counsellor), office=False, partners=True)

    data = through_api(login(w.case_manager), referral)
    assert data["case_number"] == w.case.case_number
    assert data["personal_data_withheld"] is True
    assert [data[f] for f in ("first_name", "note_for_partner", "vulnerability_note")] == [""] * 3
    assert data["answer_note"] == ""
    assert data["status"] == "declined"  # the referral and its work stay
    page = page_of(login(w.case_manager), referral)
    assert w.case.case_number in page
    assert not [word for word in PERSONAL if word in page]
    assert "consent" in page
    # the partner's consent still stands
    assert shows_the_person(through_api(login(member), referral))
    # the home office sees every case, and so every referral in full
    assert shows_the_person(through_api(login(w.programme_manager), referral))


def test_withdrawn_for_partners_the_partner_and_the_link_read_the_case_number_only(
    w: World, login: Any, client: FlaskClient
) -> None:
    referral, member = approved_referral(w)
    assert FIRST_NAME in link_page(client, referral)

    consent(w, login(w.counsellor), office=True, partners=False)

    data = through_api(login(member), referral)
    assert data["case_number"] == w.case.case_number
    assert data["personal_data_withheld"] is True
    assert data["first_name"] == data["note_for_partner"] == data["vulnerability_note"] == ""
    for page in (page_of(login(member), referral), link_page(client, referral)):
        assert w.case.case_number in page
        assert not [word for word in PERSONAL if word in page]
    # the partner can still answer it, pseudonymously
    accepted = login(member).post(f"/api/v1/referrals/{referral.id}/accept", json={})
    assert accepted.status_code == 200
    assert accepted.json["first_name"] == ""
    assert shows_the_person(through_api(login(w.case_manager), referral))


def test_consent_given_again_shows_the_person_again(w: World, login: Any) -> None:
    referral, member = approved_referral(w)
    consent(w, login(w.counsellor), office=False, partners=False)
    assert not shows_the_person(through_api(login(member), referral))

    consent(w, login(w.counsellor), office=True, partners=True)

    assert shows_the_person(through_api(login(member), referral))
    assert shows_the_person(through_api(login(w.case_manager), referral))
    changes = db.session.scalars(
        sa.select(AuditEntry.changes)
        .where(AuditEntry.action == "referral.consent", AuditEntry.object_id == str(referral.id))
        .order_by(AuditEntry.id)
    ).all()
    assert [c["shared_with_partner"] for c in changes] == [[True, False], [False, True]]


def test_a_referral_sent_without_consent_to_share_with_partners_is_pseudonymous_to_them(
    w: World, login: Any
) -> None:
    w.case.consents[0].share_with_partners = False
    referral, member = approved_referral(w)
    assert not shows_the_person(through_api(login(member), referral))
    assert shows_the_person(through_api(login(w.case_manager), referral))


def test_the_decline_e_mail_carries_the_partners_note_only_with_consent_for_the_office(
    w: World, login: Any
) -> None:
    referral, member = approved_referral(w)
    consent(w, login(w.counsellor), office=False, partners=True)

    decline_referral(referral.id, DeclineReason.OTHER, note=PARTNER_NOTE, actor=member)

    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.key == f"referral:{referral.id}:declined")
    ).one()
    assert w.case.case_number in message.subject
    assert "sister" not in message.body_text
