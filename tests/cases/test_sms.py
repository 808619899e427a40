"""Text messages to returnees: the number, the texts in their language, the sweep's reminders,
opting out by a reply (signed webhook) or by the case's staff, and who may do what."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.cases import services, sms
from reintegration_hub.cases.models import CaseStatus, ClosureReason, Consent, Returnee
from reintegration_hub.cases.retention import anonymise_closed_cases
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.core.outbox import Channel, OutboxMessage, OutboxStatus, message_key
from reintegration_hub.core.roles import Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.notifications.sms import sms_segments
from tests.cases.helpers import PAYLOAD, case_manager, counsellor, origin_office, texted
from tests.factories import bearer, user_with_role
from tests.followups.helpers import DEPARTURE, approved
from tests.plans.helpers import World, world
from tests.sms_gateway import Gateway, signature, sms_gateway

NUMBER = "+995555123456"
REPLIES = "http://127.0.0.1:5000/cases/sms/replies"  # PUBLIC_BASE_URL's address of the webhook


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with sms_gateway() as found:
        yield found


@pytest.fixture
def app(make_app: Callable[..., Flask], gateway: Gateway) -> Iterator[Flask]:
    app = make_app(**gateway.config())
    with app.app_context():
        yield app


def texts(case: Returnee) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.returnee_id == case.id, OutboxMessage.channel == Channel.SMS)
            .order_by(OutboxMessage.id)
        )
    )


def consent_in_force(case: Returnee) -> Consent:
    db.session.expire_all()
    found: Consent = db.session.scalars(
        sa.select(Consent).where(Consent.returnee_id == case.id).order_by(Consent.id.desc())
    ).first()
    return found


# --- the number ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "region", "expected"),
    [
        ("555 12 34 56", "GE", "+995555123456"),
        ("+995 (555) 12-34-56", "AM", "+995555123456"),
        ("077 123456", "AM", "+37477123456"),
        ("", "GE", ""),
    ],
)
def test_a_mobile_number_is_normalised_to_e164_with_the_return_country_as_default(
    written: str, region: str, expected: str
) -> None:
    assert sms.normalise_mobile(written, region) == expected


@pytest.mark.parametrize(
    "written", ["12", "+995 32 2 123456", "call me", "555\x0012", "+9" * 20, "+995 555 12 34 56 78"]
)
def test_what_is_no_mobile_number_is_refused(written: str) -> None:
    with pytest.raises(sms.BadNumber):
        sms.normalise_mobile(written, "GE")


def test_a_bad_number_is_an_error_at_the_field_and_a_good_one_is_stored_normalised(
    app: Flask,
) -> None:
    adviser = counsellor()
    with pytest.raises(InvalidInput) as refused:
        texted(adviser, number="555 12")
    assert list(refused.value.field_errors) == ["mobile_number"]
    case = texted(adviser, number="555 12 34 56")
    assert case.mobile_number == NUMBER
    assert case.phone_key == "995555123456"[::-1]  # the search finds it by its end
    found = services.list_cases(actor=adviser, q="12 34 56").items
    assert [c.id for c in found] == [case.id]


def test_the_api_answers_a_bad_number_with_422_naming_the_field(
    app: Flask, client: FlaskClient
) -> None:
    adviser = counsellor()
    response = client.post(
        "/api/v1/cases",
        json={**PAYLOAD, "mobile_number": "not a number"},
        headers=bearer(adviser),
    )
    assert response.status_code == 422
    assert "mobile_number" in str(response.json)
    consent = {**PAYLOAD["consent"], "sms_contact": True}  # type: ignore[dict-item]
    ok = client.post(
        "/api/v1/cases",
        json={**PAYLOAD, "mobile_number": "077 123456", "consent": consent},
        headers=bearer(adviser),
    )
    assert ok.status_code == 201, ok.json
    assert ok.json["mobile_number"] == "+37477123456"
    assert ok.json["consent"]["sms_contact"] is True


def test_the_mobile_number_is_redacted_in_the_audit_trail(app: Flask) -> None:
    case = texted(counsellor())
    entry = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "case.register", AuditEntry.object_id == str(case.id)
        )
    ).one()
    assert NUMBER not in str(entry.changes)


# --- the texts -------------------------------------------------------------------------------


def test_the_language_is_the_first_of_the_returnees_with_sms_texts_else_english() -> None:
    assert sms.sms_language(["ka", "ru"]) == "ka"
    assert sms.sms_language(["tg", "ru"]) == "ru"
    assert sms.sms_language(["hy"]) == "hy"
    assert sms.sms_language(["ar", "fa"]) == "en"
    assert sms.sms_language([]) == "en"


def test_every_sms_language_translates_every_text_with_its_own_stop_word() -> None:
    assert {"en", "lt", "lv", "cs", "ru", "ka", "hy"} <= set(sms.sms_languages())
    for language in sms.sms_languages():
        for kind, english in sms.MILESTONE_TEXTS.items():
            text = sms.milestone_text(kind, dt.date(2026, 12, 31), language)
            if language != "en":
                assert sms.translate(english, language) != english, (language, kind)
            assert sms.stop_word(language) in text, (language, kind)


def test_every_text_takes_at_most_two_sms_with_the_longest_date() -> None:
    for language in sms.sms_languages():
        for kind in sms.MILESTONE_TEXTS:
            for due in (dt.date(2026, 12, 31), dt.date(2099, 11, 29)):
                text = sms.milestone_text(kind, due, language)
                assert sms_segments(text).count <= sms.MAX_SEGMENTS, (language, kind, text)
    assert sms_segments("a" * 160).count == 1
    assert sms_segments("a" * 161).count == 2
    assert sms_segments("€" * 80).count == 1  # two septets each
    assert sms_segments("ა" * 70).count == 1
    assert sms_segments("ა" * 71).count == 2


def test_georgian_and_armenian_texts_do_not_make_interface_languages(app: Flask) -> None:
    assert "ka" not in app.config["LANGUAGES"]
    assert "hy" not in app.config["LANGUAGES"]
    # their SMS catalogues (and the feedback form's messages.po) make no interface language
    assert {"ka", "hy"} <= set(sms.sms_languages())


def test_a_text_longer_than_two_sms_is_refused(app: Flask) -> None:
    case = texted(counsellor())
    with pytest.raises(ValueError, match="at most 2"):
        sms.queue_returnee_sms(
            case.id, key=message_key("sms:test:{}", 1), text_for_language=lambda _: "ა" * 135
        )


# --- the sweep's reminders -------------------------------------------------------------------


@pytest.fixture
def w(app: Flask) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def returnee_milestones(case: Returnee) -> list[Milestone]:
    return list(
        db.session.scalars(
            sa.select(Milestone)
            .where(Milestone.returnee_id == case.id, Milestone.kind.in_(sms.RETURNEE_MILESTONES))
            .order_by(Milestone.remind_on, Milestone.id)
        )
    )


def text_consent(case: Returnee, actor: User, *, mobile: str, languages: list[str]) -> None:
    case.mobile_number = mobile
    case.languages = languages
    services.record_consent(
        case.id,
        services.ConsentInput(True, True, DEPARTURE - dt.timedelta(days=30), sms_contact=True),
        actor=actor,
    )


@pytest.mark.parametrize(
    ("languages", "expected_word"), [(["ka", "ru"], "სტოპ"), (["tg", "ru"], "СТОП")]
)
def test_the_sweep_texts_a_reminder_once_in_the_returnees_language(
    w: World, languages: list[str], expected_word: str
) -> None:
    text_consent(w.case, w.counsellor, mobile=NUMBER, languages=languages)
    approved(w, w.option(lead_time_days=60))
    first = returnee_milestones(w.case)[0]
    db.session.commit()
    sweep(first.remind_on)
    sweep(first.remind_on)  # again: nothing twice
    (message,) = texts(w.case)
    assert message.key == f"sms:milestone:{first.id}"
    assert message.to_address == NUMBER
    assert message.language == ("ka" if languages[0] == "ka" else "ru")
    assert expected_word in message.body_text
    assert message.notice_id is not None
    assert sms_segments(message.body_text).count <= sms.MAX_SEGMENTS


def test_the_sweep_texts_nobody_without_the_consent_to_sms(w: World) -> None:
    w.case.mobile_number = NUMBER  # a number, but the consent says nothing of SMS
    approved(w, w.option(lead_time_days=60))
    first = returnee_milestones(w.case)[0]
    db.session.commit()
    sweep(first.remind_on)
    assert texts(w.case) == []


# --- opting out ------------------------------------------------------------------------------


def reply(client: FlaskClient, body: str, number: str = NUMBER, **extra: str) -> int:
    params = {"From": number, "To": "+37060000000", "Body": body, "MessageSid": "SM1", **extra}
    response = client.post(
        "/cases/sms/replies",
        data=params,
        headers={"X-Twilio-Signature": signature(REPLIES, params)},
    )
    return response.status_code


@pytest.mark.parametrize("word", ["STOP", "stop.", " Unsubscribe ", "стоп", "ՍՏՈՊ", "სტოპ"])
def test_a_stop_reply_opts_out_and_withdraws_the_texts_not_yet_sent(
    app: Flask, client: FlaskClient, word: str
) -> None:
    case = texted(counsellor())
    sms.queue_returnee_sms(case.id, key=message_key("sms:test:{}", 1), text_for_language=str)
    db.session.commit()
    assert reply(client, word) == 200
    consent = consent_in_force(case)
    assert consent.sms_contact is False
    assert consent.share_with_origin_office is True  # the sharing is as before
    assert [m.status for m in texts(case)] == [OutboxStatus.WITHDRAWN]
    audit = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.sms_opt_out")
    ).one()
    assert audit.actor_label == "system:sms-reply"
    assert not sms.queue_returnee_sms(
        case.id, key=message_key("sms:test:{}", 2), text_for_language=str
    )


@pytest.mark.parametrize(
    ("body", "number"),
    [
        ("Thanks, see you", NUMBER),
        ("stop it please", NUMBER),
        ("STOP", "+995555000111"),  # nobody's number
        ("STOP", "not a number"),
        ("\x00\x00", NUMBER),
        ("x" * 5000, NUMBER),
        ("STOP", "+" + "9" * 39),
    ],
)
def test_other_replies_and_unknown_numbers_record_nothing(
    app: Flask, client: FlaskClient, body: str, number: str
) -> None:
    case = texted(counsellor())
    db.session.commit()
    assert reply(client, body, number) == 200
    assert consent_in_force(case).sms_contact is True


def test_a_reply_without_a_valid_signature_is_refused(app: Flask, client: FlaskClient) -> None:
    case = texted(counsellor())
    db.session.commit()
    params = {"From": NUMBER, "Body": "STOP"}
    forged = signature(REPLIES, params, token="another token")
    for headers in ({}, {"X-Twilio-Signature": forged}, {"X-Twilio-Signature": "x" * 5000}):
        assert client.post("/cases/sms/replies", data=params, headers=headers).status_code == 403
    tampered = {"From": NUMBER, "Body": "STOP", "To": "+1"}
    good_for_other = signature(REPLIES, params)
    response = client.post(
        "/cases/sms/replies", data=tampered, headers={"X-Twilio-Signature": good_for_other}
    )
    assert response.status_code == 403
    assert consent_in_force(case).sms_contact is True


def test_without_a_gateway_the_webhook_is_not_there(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        response = app.test_client().post("/cases/sms/replies", data={"Body": "STOP"})
    assert response.status_code == 404


def test_the_case_manager_stops_the_texts_on_the_case_page(
    app: Flask, login: Callable[[User], FlaskClient]
) -> None:
    tbilisi = origin_office()
    manager = case_manager(tbilisi)
    case = texted(counsellor(), origin_office_id=tbilisi.id)
    sms.queue_returnee_sms(case.id, key=message_key("sms:test:{}", 1), text_for_language=str)
    db.session.commit()
    browser = login(manager)
    page = browser.get(f"/cases/{case.id}")
    assert b'data-testid="sms-opt-out"' in page.data
    response = browser.post(f"/cases/{case.id}/sms-opt-out", data={})
    assert response.status_code == 302
    assert consent_in_force(case).sms_contact is False
    assert consent_in_force(case).recorded_by_id == manager.id
    assert [m.status for m in texts(case)] == [OutboxStatus.WITHDRAWN]
    assert b'data-testid="sms-opt-out"' not in browser.get(f"/cases/{case.id}").data


def test_who_may_stop_the_texts(app: Flask, client: FlaskClient) -> None:
    tbilisi = origin_office()
    case = texted(counsellor(), origin_office_id=tbilisi.id)
    yerevan_manager = case_manager(origin_office("AM", "Yerevan"))
    db.session.commit()
    url = f"/api/v1/cases/{case.id}/sms-opt-out"
    assert client.post(url, headers=bearer(yerevan_manager)).status_code == 404  # out of scope
    for role in (Role.PARTNER, Role.PROGRAMME_MANAGER):
        assert client.post(url, headers=bearer(user_with_role(role))).status_code == 403
    manager = case_manager(tbilisi)
    done = client.post(url, headers=bearer(manager))
    assert done.status_code == 201
    assert done.json["sms_contact"] is False
    assert client.post(url, headers=bearer(manager)).status_code == 409  # already off


def test_anonymisation_wipes_the_number_and_the_texts(app: Flask) -> None:
    case = texted(counsellor())
    sms.queue_returnee_sms(case.id, key=message_key("sms:test:{}", 1), text_for_language=str)
    case.status, case.closure_reason = CaseStatus.CLOSED, ClosureReason.COMPLETED
    case.closed_at = now_utc() - dt.timedelta(days=4000)
    db.session.flush()
    anonymise_closed_cases(now_utc(), actor=SystemActor("test"))
    db.session.expire_all()
    assert db.session.get(Returnee, case.id).mobile_number == ""
    (message,) = texts(case)
    assert (message.to_address, message.body_text, message.status) == (
        "",
        "",
        OutboxStatus.WITHDRAWN,
    )


def test_anonymisation_wipes_the_gateways_error_text_of_a_failed_text(app: Flask) -> None:
    case = texted(counsellor())
    sms.queue_returnee_sms(case.id, key=message_key("sms:test:{}", 1), text_for_language=str)
    (message,) = texts(case)
    message.status = OutboxStatus.FAILED
    message.last_error = f"400 21211: The 'To' number {NUMBER} is not a valid phone number."
    case.status, case.closure_reason = CaseStatus.CLOSED, ClosureReason.COMPLETED
    case.closed_at = now_utc() - dt.timedelta(days=4000)
    db.session.flush()
    anonymise_closed_cases(now_utc(), actor=SystemActor("test"))
    db.session.expire_all()
    (message,) = texts(case)
    assert (message.to_address, message.body_text, message.last_error) == ("", "", "")
    assert message.status == OutboxStatus.FAILED
