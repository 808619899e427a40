"""The partner's e-mailed link in time: the referral's packet during its answer window; then, for
``REFERRAL_LINK_STATUS_DAYS``, only whether it was answered or closed; after that nothing."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient

from partners.models import DeclineReason, Referral, ReferralStatus
from partners.referrals import decline_referral, withdraw_referral
from reintegration_hub.core.db import now_utc
from reintegration_hub.extensions import db
from tests.partners.helpers import ACTOR, accept_form, fresh, link_path, refer

CASE_NUMBER, FIRST_NAME = "LV-2026-00042", "Nino"


def answered(referral: Referral, on: dt.datetime, status: ReferralStatus) -> None:
    referral.status, referral.answered_at = status, on


def in_window(referral: Referral, *, expired_days_ago: float) -> None:
    """Move the referral's answer window so that it ended that long ago (negative: still on)."""
    referral.expires_at = now_utc() - dt.timedelta(days=expired_days_ago)
    referral.sent_at = referral.expires_at - dt.timedelta(days=7)


def test_a_link_from_2021_shows_nothing_of_the_person(app: Flask, client: FlaskClient) -> None:
    referral = refer()
    path = link_path(referral)
    referral.sent_at = dt.datetime(2021, 3, 1, 9, tzinfo=dt.UTC)
    referral.expires_at = dt.datetime(2021, 3, 8, 9, tzinfo=dt.UTC)
    answered(referral, dt.datetime(2021, 3, 2, 9, tzinfo=dt.UTC), ReferralStatus.DELIVERED)
    db.session.commit()

    response = client.get(path)

    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert CASE_NUMBER not in page
    assert FIRST_NAME not in page
    assert referral.partner.name not in page
    assert 'data-testid="link-expired"' in page
    assert client.post(path, data=accept_form()).status_code == 410


def test_after_the_answer_window_the_link_says_only_how_the_referral_ended(
    app: Flask, client: FlaskClient
) -> None:
    referral = refer()
    path = link_path(referral)
    in_window(referral, expired_days_ago=3)
    answered(referral, referral.sent_at + dt.timedelta(days=1), ReferralStatus.ACCEPTED)
    db.session.commit()

    response = client.get(path)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "was accepted on" in page
    assert 'data-testid="referral-packet"' not in page
    for personal in (CASE_NUMBER, FIRST_NAME, "Prefers morning classes."):
        assert personal not in page


def test_within_the_window_an_accepted_referral_still_shows_its_packet(
    app: Flask, client: FlaskClient
) -> None:
    referral = refer()
    path = link_path(referral)
    answered(referral, now_utc(), ReferralStatus.ACCEPTED)
    db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert CASE_NUMBER in page
    assert FIRST_NAME in page
    assert "was accepted on" in page


def test_a_declined_or_withdrawn_referral_needs_no_personal_data_any_more(
    app: Flask, client: FlaskClient
) -> None:
    declined, withdrawn = refer(), refer(reference="plan-line:2")
    paths = link_path(declined), link_path(withdrawn)
    decline_referral(declined.id, DeclineReason.NO_CAPACITY, note="Full in May.", actor=ACTOR)
    withdraw_referral(withdrawn.id, actor=ACTOR)
    db.session.commit()

    pages = [client.get(path).get_data(as_text=True) for path in paths]

    assert "was declined on" in pages[0]
    assert "IOM has withdrawn this referral" in pages[1]
    for page in pages:
        assert CASE_NUMBER not in page
        assert FIRST_NAME not in page


def test_an_unanswered_referral_past_its_window_cannot_be_answered_and_shows_no_packet(
    app: Flask, client: FlaskClient
) -> None:
    referral = refer()
    path = link_path(referral)
    in_window(referral, expired_days_ago=0.01)
    db.session.commit()

    refused = client.post(path, data=accept_form())

    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "has expired" in page
    assert CASE_NUMBER not in page
    assert fresh(referral.id).status == ReferralStatus.SENT


def test_the_status_window_follows_the_configuration(make_app) -> None:
    app = make_app(REFERRAL_LINK_STATUS_DAYS=2)
    with app.app_context():
        referral = refer()
        path = link_path(referral)
        in_window(referral, expired_days_ago=1)
        db.session.commit()
        client = app.test_client()
        assert client.get(path).status_code == 200
        in_window(referral, expired_days_ago=2.01)
        db.session.commit()
        assert client.get(path).status_code == 410
