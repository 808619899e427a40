"""Closed-loop referrals: sent with a signed link, answered by the partner (link, inbox or
API), declined or expired ones give their place back and tell the case manager."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.pool import NullPool

from partners import capacity, referrals
from partners.models import (
    DeclineReason,
    HoldStatus,
    OptionCapacity,
    PartnerMember,
    PlaceHold,
    Referral,
    ReferralStatus,
)
from partners.referrals import (
    ReferralRequest,
    accept_referral,
    decline_referral,
    expire_referrals,
    mark_referral_delivered,
    partner_inbox,
    referral_for_token,
    referral_token,
    send_referral,
    withdraw_referral,
)
from reintegration_hub.auth.models import User
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.factories import (
    PartnerFactory,
    SupportOptionFactory,
    SupportOptionTextFactory,
    user_with_role,
)
from tests.partners.helpers import (
    ACTOR,
    CONTACT,
    accept_form,
    fresh,
    link_path,
    origin_office,
    outbox,
    refer,
)
from tests.queries import counted_statements


def member_of(partner_id: int) -> User:
    user = user_with_role(Role.PARTNER)
    db.session.add(PartnerMember(partner_id=partner_id, user_id=user.id))
    db.session.flush()
    return user


def audit_actions(object_type: str = "Referral") -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.object_type == object_type)
            .order_by(AuditEntry.id)
        )
    )


def decline_form(reason: str, note: str = "") -> dict[str, str]:
    return {"decline-reason": reason, "decline-note": note, "decline-submit": "Decline"}


# --- sending ---------------------------------------------------------------------------------


def test_sending_queues_one_email_to_the_partner_with_a_working_link(
    app: Flask, client: FlaskClient
) -> None:
    option = SupportOptionFactory(capacity_places=2)
    before = now_utc()
    referral = refer(option)
    db.session.commit()
    assert referral.status == ReferralStatus.SENT
    days = referral.expires_at - before
    assert dt.timedelta(days=7) <= days < dt.timedelta(days=7, minutes=1)
    (message,) = outbox()
    assert message.key == f"referral:{referral.id}:sent"
    assert message.to_address == option.partner.focal_point_email
    assert "LV-2026-00042" in message.subject
    assert "Nino" not in message.body_text  # the e-mail names the case, the page the person
    assert audit_actions() == ["referral.send"]

    page = client.get(link_path(referral))
    assert page.status_code == 200
    assert "LV-2026-00042" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert b'data-testid="answer-forms"' in page.data


def test_sending_again_for_the_same_reference_returns_the_open_referral(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=2)
    first = refer(option)
    assert refer(option).id == first.id
    assert len(outbox()) == 1
    with pytest.raises(Conflict):
        refer(SupportOptionFactory(), reference="plan-line:1")
    decline_referral(first.id, DeclineReason.NO_CAPACITY, actor=ACTOR)
    assert refer(option, hold=False).id != first.id  # a closed referral is not reused


def test_the_expiry_follows_the_configuration(make_app) -> None:
    app = make_app(REFERRAL_EXPIRY_DAYS=2)
    with app.app_context():
        referral = refer()
        assert referral.expires_at - referral.sent_at == dt.timedelta(days=2)


def test_a_referral_needs_its_packet_and_a_hold_of_its_option(app: Flask) -> None:
    option, other = SupportOptionFactory(), SupportOptionFactory()
    stray = capacity.hold_place(other.id, "plan-line:9", actor=ACTOR)
    request = ReferralRequest(
        option_id=option.id,
        reference="plan-line:9",
        hold_id=stray.hold_id,
        office_id=origin_office().id,
        case_number="",
        first_name="Nino",
        quantity=0,
        starts_on=None,
        note_for_partner="x" * 1001,
        vulnerability_note="",
        contact_name="",
        contact_email="not an address",
        contact_phone="",
        shared_with_office=True,
        shared_with_partner=True,
    )
    with pytest.raises(InvalidInput) as refused:
        send_referral(request, actor=ACTOR)
    assert set(refused.value.field_errors) == {
        "case_number",
        "quantity",
        "note_for_partner",
        "contact_email",
    }
    with pytest.raises(InvalidInput) as refused:
        send_referral(
            ReferralRequest(
                **{
                    **request.__dict__,
                    "case_number": "LV-1",
                    "quantity": 1,
                    "note_for_partner": "",
                    "contact_email": CONTACT,
                }
            ),
            actor=ACTOR,
        )
    assert set(refused.value.field_errors) == {"hold_id"}
    assert db.session.scalar(sa.select(sa.func.count(Referral.id))) == 0


# --- the link page ---------------------------------------------------------------------------


def packet_labels(html: str) -> list[str]:
    packet = html.split('data-testid="referral-packet"', 1)[1].split("</dl>", 1)[0]
    return re.findall(r"<dt[^>]*>([^<]*)</dt>", packet)


ALLOWED = [
    "Case number",
    "First name",
    "Service",
    "Quantity",
    "Start",
    "Note from IOM",
    "IOM contact",
    "Answer by",
]


def test_the_link_page_shows_only_the_packet(app: Flask, client: FlaskClient) -> None:
    option = SupportOptionFactory(texts__title="Welding course")
    SupportOptionTextFactory(option=option, language="ka", title="შედუღების კურსი")
    option.partner.languages = ["ka", "en"]
    referral = refer(option)
    db.session.commit()
    html = client.get(link_path(referral)).get_data(as_text=True)
    assert packet_labels(html) == ALLOWED  # no vulnerability row when there is no note
    for shown in ("Nino", "LV-2026-00042", "შედუღების კურსი", "Prefers morning classes.", CONTACT):
        assert shown in html
    assert option.partner.name in html
    for hidden in ("plan-line:1", "Welding course", "Date of birth", "Last name", "Surname"):
        assert hidden not in html


def test_the_vulnerability_note_shows_only_when_shared(app: Flask, client: FlaskClient) -> None:
    referral = refer(vulnerability_note="Uses a wheelchair.")
    db.session.commit()
    html = client.get(link_path(referral)).get_data(as_text=True)
    assert packet_labels(html) == [*ALLOWED[:6], "Needs to be aware of", *ALLOWED[6:]]
    assert "Uses a wheelchair." in html


def test_accepting_through_the_link_answers_once(app: Flask, client: FlaskClient) -> None:
    referral = refer()
    db.session.commit()
    path = link_path(referral)
    answered = client.post(path, data=accept_form("We start on Monday."))
    assert answered.status_code == 302
    assert answered.headers["Referrer-Policy"] == "same-origin"
    done = fresh(referral.id)
    assert (done.status, done.answer_note, done.answered_by_id) == (
        ReferralStatus.ACCEPTED,
        "We start on Monday.",
        None,
    )
    assert done.answered_at is not None
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "referral.accept")
    ).one()
    assert (entry.actor_id, entry.actor_label) == (None, "system:referral-link")

    page = client.get(path)
    assert b'data-testid="answer-forms"' not in page.data
    assert b"was accepted" in page.data
    again = client.post(path, data=decline_form("no_capacity"))
    assert again.status_code == 409
    assert b"answered already" in again.data
    assert b'data-testid="answer-forms"' not in again.data
    assert fresh(referral.id).status == ReferralStatus.ACCEPTED
    # the page read after the answer is audited; the second answer changed nothing
    assert audit_actions() == ["referral.send", "referral.accept", "referral.view"]
    assert outbox(":declined") == []


def test_a_tampered_or_unknown_token_is_not_valid(app: Flask, client: FlaskClient) -> None:
    referral = refer()
    db.session.commit()
    path = link_path(referral)
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = referral_token(refer(reference="plan-line:2")).replace(".", ".x", 1)
    for bad in (tampered, forged, "nonsense", "x" * 300):
        response = client.get(f"/marketplace/referrals/answer/{bad}")
        assert response.status_code == 404
        assert b"This link is not valid" in response.data
        assert b"LV-2026-00042" not in response.data
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert (
            client.post(f"/marketplace/referrals/answer/{bad}", data=accept_form()).status_code
            == 404
        )
    with pytest.raises(NotFound):
        referral_for_token(tampered)
    assert fresh(referral.id).status == ReferralStatus.SENT


def test_a_token_signed_with_another_key_is_not_valid(make_app) -> None:
    other = make_app(SECRET_KEY="another-secret")
    with other.app_context():
        token = referral_token(refer())
        db.session.commit()
    app = make_app()
    with app.app_context(), pytest.raises(NotFound):
        referral_for_token(token)


def test_an_overdue_referral_cannot_be_answered(app: Flask, client: FlaskClient) -> None:
    referral = refer()
    referral.expires_at = now_utc() - dt.timedelta(minutes=1)
    db.session.commit()
    path = link_path(referral)
    page = client.get(path)
    assert page.status_code == 200
    assert b"has expired" in page.data
    assert b'data-testid="answer-forms"' not in page.data
    refused = client.post(path, data=accept_form())
    assert refused.status_code == 409
    assert b"has expired" in refused.data
    with pytest.raises(Conflict):
        accept_referral(referral.id, actor=ACTOR)
    with pytest.raises(Conflict):
        decline_referral(referral.id, DeclineReason.NO_CAPACITY, actor=ACTOR)
    assert fresh(referral.id).status == ReferralStatus.SENT  # expire_referrals marks it


def test_declining_through_the_link_needs_a_reason_and_a_note_for_other(
    app: Flask, client: FlaskClient
) -> None:
    referral = refer()
    db.session.commit()
    path = link_path(referral)
    no_reason = client.post(path, data=decline_form(""))
    assert no_reason.status_code == 422
    other = client.post(path, data=decline_form("other"))
    assert other.status_code == 422
    assert b"Say why in the note" in other.data
    assert fresh(referral.id).status == ReferralStatus.SENT
    declined = client.post(path, data=decline_form("other", "The workshop is closed in May."))
    assert declined.status_code == 302
    done = fresh(referral.id)
    assert (done.status, done.decline_reason) == (ReferralStatus.DECLINED, DeclineReason.OTHER)


def test_the_link_form_works_with_csrf_on_and_refuses_without_its_token(make_app) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        referral = refer()
        db.session.commit()
        path = link_path(referral)
        client = app.test_client()
        assert client.post(path, data=accept_form()).status_code == 400
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="accept-csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, page
        answered = client.post(path, data={**accept_form(), "accept-csrf_token": token.group(1)})
        assert answered.status_code == 302
        assert fresh(referral.id).status == ReferralStatus.ACCEPTED


# --- declining, expiry, withdrawal, delivery -------------------------------------------------


def test_declining_gives_the_place_back_and_tells_the_case_manager_once(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=2)
    referral = refer(option)
    assert capacity.free_places(option.id) == 1
    declined = decline_referral(
        referral.id, DeclineReason.NO_CAPACITY, note="Full until June.", actor=ACTOR
    )
    assert (declined.status, declined.answer_note) == (ReferralStatus.DECLINED, "Full until June.")
    assert capacity.free_places(option.id) == 2
    assert db.session.get(PlaceHold, referral.hold_id).status == HoldStatus.RELEASED
    (message,) = outbox(":declined")
    assert message.to_address == CONTACT
    assert "No place free" in message.body_text
    assert "Full until June." in message.body_text
    with pytest.raises(Conflict):
        decline_referral(referral.id, DeclineReason.NO_CAPACITY, actor=ACTOR)
    assert len(outbox(":declined")) == 1
    assert capacity.free_places(option.id) == 2
    assert audit_actions("PlaceHold")[-1] == "place.release"


def test_declining_with_a_hold_released_by_hand_still_declines(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    referral = refer(option)
    capacity.release_place(referral.hold_id, actor=ACTOR)
    decline_referral(referral.id, DeclineReason.LOCATION, actor=ACTOR)
    assert capacity.free_places(option.id) == 1


def test_expire_referrals_is_set_based_and_idempotent(app: Flask, monkeypatch) -> None:
    monkeypatch.setattr(referrals, "EXPIRY_BATCH", 3)  # four late ones: two batches
    option = SupportOptionFactory(capacity_places=3)
    late = [refer(option, reference=f"plan-line:{n}") for n in (1, 2)]
    waitlisted_option = SupportOptionFactory(capacity_places=0)
    late.append(refer(waitlisted_option, reference="plan-line:3"))
    late.append(refer(reference="plan-line:4", hold=False))
    on_time = refer(option, reference="plan-line:5")
    answered = refer(option, reference="plan-line:6")
    for referral in [*late, answered]:
        referral.expires_at = now_utc() - dt.timedelta(hours=1)
    answered.status = ReferralStatus.ACCEPTED
    db.session.commit()
    assert capacity.free_places(option.id) == 0
    assert db.session.get(PlaceHold, late[2].hold_id).status == HoldStatus.WAITLISTED

    assert expire_referrals(actor=ACTOR) == 4
    assert late[0].status == ReferralStatus.EXPIRED  # the session's objects follow
    assert db.session.get(PlaceHold, late[0].hold_id).status == HoldStatus.RELEASED
    db.session.commit()
    assert {fresh(r.id).status for r in late} == {ReferralStatus.EXPIRED}
    assert fresh(on_time.id).status == ReferralStatus.SENT
    assert fresh(answered.id).status == ReferralStatus.ACCEPTED
    # two places back: the waitlisted hold of "answered" takes one at once, one stays free
    assert capacity.free_places(option.id) == 1
    assert db.session.get(PlaceHold, answered.hold_id).status == HoldStatus.HELD
    assert audit_actions("PlaceHold").count("place.promote") == 1
    assert db.session.get(PlaceHold, late[2].hold_id).status == HoldStatus.RELEASED
    expired_mail = outbox(":expired")
    assert sorted(m.key for m in expired_mail) == sorted(f"referral:{r.id}:expired" for r in late)
    assert {m.to_address for m in expired_mail} == {CONTACT}
    assert audit_actions().count("referral.expire") == 4
    assert audit_actions("PlaceHold").count("place.release") == 3

    counts = (
        len(outbox()),
        db.session.scalar(sa.select(sa.func.count(AuditEntry.id))),
        db.session.scalar(
            sa.select(OptionCapacity.places_held).where(OptionCapacity.option_id == option.id)
        ),
    )
    assert expire_referrals(actor=ACTOR) == 0
    db.session.commit()
    assert counts == (
        len(outbox()),
        db.session.scalar(sa.select(sa.func.count(AuditEntry.id))),
        db.session.scalar(
            sa.select(OptionCapacity.places_held).where(OptionCapacity.option_id == option.id)
        ),
    )


RACERS = 12


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_withdrawals_racing_the_expiry_release_each_place_once(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite lets one writer in at a time, nothing can race")
    workers_app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool})
    option = SupportOptionFactory(capacity_places=RACERS)
    late = [refer(option, reference=f"plan-line:{n}") for n in range(RACERS)]
    for referral in late:
        referral.expires_at = now_utc() - dt.timedelta(minutes=5)
    option_id, ids = option.id, [r.id for r in late]
    db.session.commit()

    def run(task: Callable[[], Any]) -> str:
        with workers_app.app_context():
            try:
                task()
                db.session.commit()
                return "done"
            except Conflict:
                db.session.rollback()
                return "conflict"
            finally:
                db.session.remove()

    tasks: list[Callable[[], Any]] = [
        functools.partial(withdraw_referral, referral_id, actor=ACTOR) for referral_id in ids
    ]
    tasks += [lambda: expire_referrals(actor=ACTOR) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        outcomes = list(pool.map(run, tasks))
    assert set(outcomes) <= {"done", "conflict"}
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Referral.status).where(Referral.id.in_(ids))).all()
    assert set(statuses) <= {ReferralStatus.WITHDRAWN, ReferralStatus.EXPIRED}
    assert len(statuses) == RACERS
    held = db.session.scalar(
        sa.select(OptionCapacity.places_held).where(OptionCapacity.option_id == option_id)
    )
    assert held == 0
    releases = db.session.scalars(
        sa.select(AuditEntry.object_id).where(AuditEntry.action == "place.release")
    ).all()
    assert len(releases) == len(set(releases)) == RACERS
    notices = [m.key.rsplit(":", 1)[1] for m in outbox() if not m.key.endswith(":sent")]
    assert sorted(notices) == sorted(s.value for s in statuses)


def test_expire_referrals_uses_the_time_it_is_given(app: Flask) -> None:
    referral = refer()
    assert expire_referrals(now_utc(), actor=ACTOR) == 0
    assert expire_referrals(referral.expires_at, actor=ACTOR) == 1
    assert fresh(referral.id).status == ReferralStatus.EXPIRED


def test_withdrawing_gives_the_place_back_and_tells_the_partner(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    referral = refer(option)
    accept_referral(referral.id, actor=ACTOR)
    withdrawn = withdraw_referral(referral.id, actor=ACTOR)
    assert withdrawn.status == ReferralStatus.WITHDRAWN
    assert capacity.free_places(option.id) == 1
    (message,) = outbox(":withdrawn")
    assert message.to_address == option.partner.focal_point_email
    with pytest.raises(Conflict):
        withdraw_referral(referral.id, actor=ACTOR)
    with pytest.raises(Conflict):
        accept_referral(referral.id, actor=ACTOR)


def test_only_an_accepted_referral_is_marked_delivered(app: Flask) -> None:
    referral = refer()
    with pytest.raises(Conflict):
        mark_referral_delivered(referral.id, actor=ACTOR)
    accept_referral(referral.id, actor=ACTOR)
    assert mark_referral_delivered(referral.id, actor=ACTOR).status == ReferralStatus.DELIVERED
    assert audit_actions()[-1] == "referral.deliver"
    with pytest.raises(NotFound):
        mark_referral_delivered(referral.id + 100, actor=ACTOR)


# --- who sees and answers what ---------------------------------------------------------------


def scene() -> dict[str, Any]:
    """A referral from one origin office to one partner, and people around it."""
    office = origin_office()
    option = SupportOptionFactory(capacity_places=2)
    referral = refer(option, office=office)
    return {
        "referral": referral,
        "member": member_of(option.partner_id),
        "stranger": member_of(PartnerFactory().id),
        "case_manager": user_with_role(Role.CASE_MANAGER, office=office),
        "other_case_manager": user_with_role(Role.CASE_MANAGER),
        "programme_manager": user_with_role(Role.PROGRAMME_MANAGER),
    }


def test_each_user_sees_only_the_referrals_in_their_scope(app: Flask) -> None:
    people = scene()
    referral = people["referral"]
    for who, sees in [
        ("member", True),
        ("case_manager", True),
        ("programme_manager", True),
        ("stranger", False),
        ("other_case_manager", False),
    ]:
        page = partner_inbox(people[who])
        assert ([r.id for r in page.items] == [referral.id]) is sees, who
        assert page.total == (1 if sees else 0)
    assert partner_inbox(people["member"], ReferralStatus.DECLINED).total == 0
    with pytest.raises(NotFound):
        accept_referral(referral.id, actor=people["stranger"])
    with pytest.raises(PermissionDenied):
        accept_referral(referral.id, actor=people["case_manager"])
    assert accept_referral(referral.id, actor=people["member"]).answered_by_id == (
        people["member"].id
    )


def test_the_inbox_pages_follow_the_scope(app: Flask, login) -> None:
    people = scene()
    referral_id = people["referral"].id
    detail = f"/marketplace/referrals/{referral_id}"
    for who, status in [("stranger", 404), ("other_case_manager", 404)]:
        client = login(people[who])
        assert b'data-testid="referral-row"' not in client.get("/marketplace/referrals").data
        assert client.get(detail).status_code == status
    client = login(people["case_manager"])
    inbox = client.get("/marketplace/referrals?status=sent")
    assert inbox.data.count(b'data-testid="referral-row"') == 1
    page = client.get(detail)
    assert page.status_code == 200
    assert b'data-testid="answer-forms"' not in page.data  # case managers read
    assert client.post(detail, data=accept_form()).status_code == 403
    assert fresh(referral_id).status == ReferralStatus.SENT

    client = login(people["member"])
    assert b"Referrals" in client.get("/").data  # the menu entry
    assert b'data-testid="answer-forms"' in client.get(detail).data
    declined = client.post(detail, data=decline_form("not_eligible"))
    assert declined.status_code == 302
    assert fresh(referral_id).status == ReferralStatus.DECLINED
    assert client.get("/marketplace/referrals?status=accepted").data.count(b"referral-row") == 0
    assert login(user_with_role(Role.COUNSELLOR)).get("/marketplace/referrals").status_code == 403


def test_the_inbox_sends_the_same_queries_for_one_or_many_referrals(app: Flask, login) -> None:
    partner = PartnerFactory()
    options = [SupportOptionFactory(partner=partner) for _ in range(5)]
    refer(options[0], hold=False)
    member = member_of(partner.id)
    client = login(member)
    client.get("/marketplace/referrals")  # warm up the first request's caches
    db.session.expire_all()  # requests share the test's session: nothing loaded ahead
    with counted_statements() as seen:
        client.get("/marketplace/referrals")
        one = len(seen)
    for n, option in enumerate(options[1:], start=2):
        refer(option, reference=f"plan-line:{n}", hold=False)
    db.session.commit()
    with counted_statements() as seen:
        listing = client.get("/marketplace/referrals")
        five = len(seen)
    assert listing.data.count(b'data-testid="referral-row"') == 5
    assert one == five


# --- API -------------------------------------------------------------------------------------


def test_the_api_lists_reads_and_answers_in_scope(app: Flask, login) -> None:
    people = scene()
    referral_id = people["referral"].id
    client = login(people["member"])
    listed = client.get("/api/v1/referrals")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json] == [referral_id]
    assert listed.json[0]["status"] == "sent"
    assert listed.json[0]["service"]
    assert "X-Pagination" in listed.headers
    assert client.get("/api/v1/referrals?status=declined").json == []
    assert client.get(f"/api/v1/referrals/{referral_id}").json["first_name"] == "Nino"
    accepted = client.post(f"/api/v1/referrals/{referral_id}/accept", json={"note": "Yes."})
    assert accepted.status_code == 200
    assert (accepted.json["status"], accepted.json["answered_by_id"]) == (
        "accepted",
        people["member"].id,
    )
    again = client.post(f"/api/v1/referrals/{referral_id}/decline", json={"reason": "location"})
    assert again.status_code == 409
    assert "answered already" in again.json["message"]

    client = login(people["stranger"])
    assert client.get("/api/v1/referrals").json == []
    assert client.get(f"/api/v1/referrals/{referral_id}").status_code == 404
    client = login(people["case_manager"])
    assert client.get(f"/api/v1/referrals/{referral_id}").status_code == 200
    assert client.post(f"/api/v1/referrals/{referral_id}/accept", json={}).status_code == 403
    client = login(people["other_case_manager"])
    assert client.get("/api/v1/referrals").json == []


def test_the_api_refuses_a_decline_without_a_good_reason(app: Flask, login) -> None:
    people = scene()
    referral_id = people["referral"].id
    client = login(people["member"])
    url = f"/api/v1/referrals/{referral_id}/decline"
    missing = client.post(url, json={"note": "No."})
    assert missing.status_code == 422
    assert missing.json["message"]
    assert "reason" in missing.json["errors"]["json"]
    unknown = client.post(url, json={"reason": "bored"})
    assert unknown.status_code == 422
    other = client.post(url, json={"reason": "other"})
    assert other.status_code == 422
    assert other.json["errors"] == {"note": ["Say why in the note when the reason is 'other'."]}
    assert fresh(referral_id).status == ReferralStatus.SENT
    declined = client.post(url, json={"reason": "cannot_contact", "note": "No answer by phone."})
    assert declined.status_code == 200
    assert declined.json["decline_reason"] == "cannot_contact"
    assert len(outbox(":declined")) == 1


def test_the_link_page_is_rate_limited(app: Flask, client: FlaskClient) -> None:
    statuses = [client.get("/marketplace/referrals/answer/guess").status_code for _ in range(31)]
    assert statuses == [404] * 30 + [429]
