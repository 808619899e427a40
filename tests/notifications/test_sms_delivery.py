"""Text messages leave the outbox through a real (fake) Twilio-compatible gateway: once each,
retried after a transient failure, failed for good on a refusal, withdrawn after an opt-out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from reintegration_hub.cases import sms
from reintegration_hub.cases.models import Consent, Returnee
from reintegration_hub.core.outbox import Channel, OutboxMessage, OutboxStatus, message_key
from reintegration_hub.extensions import db
from reintegration_hub.notifications.services import DeliveryCounts, deliver_outbox
from tests.cases.helpers import counsellor, texted
from tests.clock import NOW, TODAY
from tests.notifications.helpers import two_deliverers
from tests.notifications.smtp import Sink
from tests.sms_gateway import SENDER, Gateway, sms_gateway

NUMBER = "+995555123456"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with sms_gateway() as found:
        yield found


@pytest.fixture
def app(make_app: Callable[..., Flask], smtp: Sink, gateway: Gateway) -> Iterator[Flask]:
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, **gateway.config())
    with app.app_context():
        yield app


def text_to(case: Returnee, n: int = 1) -> str:
    key = message_key("sms:test:{}", n)
    assert sms.queue_returnee_sms(case.id, key=key, text_for_language=lambda lang: f"{lang} {n}")
    return key.text


def row(key: str) -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == key)).one()


#: a moment after every message of a test was queued (the clock ticks on from NOW)
LATER = NOW + dt.timedelta(minutes=1)


def deliver(now: dt.datetime = LATER) -> DeliveryCounts:
    db.session.commit()
    return deliver_outbox(batch_size=100, now=now)


def test_a_text_message_is_sent_once_in_the_returnees_language(
    app: Flask, gateway: Gateway
) -> None:
    case = texted(counsellor(), languages=["ka", "ru"])
    key = text_to(case)
    assert row(key).channel == Channel.SMS
    assert row(key).to_address == NUMBER
    assert deliver() == DeliveryCounts(sent=1)
    assert gateway.received == [{"To": NUMBER, "Body": "ka 1", "From": SENDER}]
    assert (row(key).status, row(key).attempts) == (OutboxStatus.SENT, 1)
    assert deliver(LATER + dt.timedelta(hours=1)) == DeliveryCounts()
    assert len(gateway.received) == 1


def test_a_transient_failure_is_retried_with_backoff_then_sent(
    app: Flask, gateway: Gateway, smtp: Sink
) -> None:
    case = texted(counsellor())
    first, second = text_to(case, 1), text_to(case, 2)
    gateway.failures = [503]
    counts = deliver()
    # the gateway is down: the first message waits, the second is not tried in this batch
    assert counts == DeliveryCounts(deferred=1)
    assert (row(first).status, row(first).attempts) == (OutboxStatus.QUEUED, 1)
    assert row(first).next_attempt_at == LATER + dt.timedelta(seconds=60)
    assert row(second).attempts == 0
    assert gateway.received == []

    assert deliver(LATER + dt.timedelta(seconds=30)) == DeliveryCounts(sent=1)  # the second
    assert deliver(LATER + dt.timedelta(seconds=61)) == DeliveryCounts(sent=1)  # the first
    assert [m["Body"] for m in gateway.received] == ["ka 2", "ka 1"]
    assert (row(first).status, row(first).attempts) == (OutboxStatus.SENT, 2)


def test_too_many_requests_is_transient_and_a_refusal_fails_for_good(
    app: Flask, gateway: Gateway
) -> None:
    case = texted(counsellor())
    key = text_to(case)
    gateway.failures = [429]
    assert deliver().deferred == 1
    gateway.failures = [400]
    assert deliver(LATER + dt.timedelta(minutes=5)).failed == 1
    failed = row(key)
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error == "400 21211: refused"  # the gateway's own error
    assert gateway.received == []


def test_a_message_whose_returnee_opted_out_since_it_was_queued_is_withdrawn(
    app: Flask, gateway: Gateway
) -> None:
    case = texted(counsellor())
    key = text_to(case)
    # a consent without SMS written behind the services' back (as if by a racing request):
    # the deliverer reads the consent again before the send
    db.session.add(
        Consent(
            returnee_id=case.id,
            share_with_origin_office=True,
            share_with_partners=False,
            sms_contact=False,
            given_on=TODAY,
        )
    )
    assert deliver() == DeliveryCounts(withdrawn=1)
    assert row(key).status == OutboxStatus.WITHDRAWN
    assert gateway.received == []


def test_a_changed_number_withdraws_the_message_to_the_old_one(
    app: Flask, gateway: Gateway
) -> None:
    case = texted(counsellor())
    key = text_to(case)
    case.mobile_number = "+995555999999"
    assert deliver() == DeliveryCounts(withdrawn=1)
    assert row(key).status == OutboxStatus.WITHDRAWN


def test_without_a_gateway_text_messages_wait_queued_and_e_mails_go(
    make_app: Callable[..., Flask], smtp: Sink
) -> None:
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
    with app.app_context():
        case = texted(counsellor())
        key = text_to(case)
        assert deliver() == DeliveryCounts()
        assert (row(key).status, row(key).attempts) == (OutboxStatus.QUEUED, 0)


MESSAGES = 20


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_two_deliverers_at_once_send_every_text_message_exactly_once(
    app: Flask, make_app: Callable[..., Flask], smtp: Sink, gateway: Gateway
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (HUB_TEST_DATABASE_URL): SQLite runs one deliverer")
    case = texted(counsellor())
    keys = [text_to(case, n) for n in range(MESSAGES)]
    db.session.commit()
    workers_app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool},
        **gateway.config(),
    )
    gateway.hold_first = True  # both deliverers inside a send at once, each with its own lock

    first, second = two_deliverers(workers_app, MESSAGES)
    assert gateway.overlapped
    assert first.sent > 0
    assert second.sent > 0
    assert first.sent + second.sent == MESSAGES
    bodies = [m["Body"] for m in gateway.received]
    assert sorted(bodies) == sorted(f"ka {n}" for n in range(MESSAGES))
    db.session.expire_all()
    statuses = db.session.scalars(
        sa.select(OutboxMessage.status).where(OutboxMessage.key.in_(keys))
    )
    assert set(statuses) == {OutboxStatus.SENT}


def test_the_log_gateway_writes_the_text_to_the_log_instead_of_sending_it(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(SMS_GATEWAY="log")
    with app.app_context():
        case = texted(counsellor())
        key = text_to(case)
        with caplog.at_level("INFO", logger="reintegration_hub.notifications.sms"):
            assert deliver() == DeliveryCounts(sent=1)
        assert row(key).status == OutboxStatus.SENT
        (line,) = [r.getMessage() for r in caplog.records if "SMS_GATEWAY=log" in r.getMessage()]
        assert NUMBER in line
        assert line.endswith(": ka 1")  # the text, in the returnee's language (Georgian)
        # no replies come back through it: the webhook is not there
        assert (
            app.test_client().post("/cases/sms/replies", data={"Body": "STOP"}).status_code == 404
        )
