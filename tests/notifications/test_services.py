"""Sending the outbox through a real SMTP server: once each, retried with backoff, digests."""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, PermissionDenied
from reintegration_hub.core.outbox import MessageKey, OutboxMessage, OutboxStatus, message_key
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.notifications.services import (
    DeliveryCounts,
    MailServerUnavailable,
    count_by_status,
    deliver_outbox,
    failed_messages,
    message_id,
    recent_messages,
    retry_failed,
)
from tests.factories import user_with_role
from tests.notifications.helpers import NOW, queue, stored, two_deliverers
from tests.notifications.smtp import Sink
from tests.ports import free_port


def text(mail: EmailMessage) -> str:
    """The body as sent, with the wire's CRLF line ends as newlines."""
    return str(mail.get_content()).replace("\r\n", "\n")


def deliver(batch_size: int = 100, now: dt.datetime = NOW) -> DeliveryCounts:
    db.session.commit()
    return deliver_outbox(batch_size=batch_size, now=now)


def test_queued_messages_arrive_once_and_a_second_run_sends_nothing(app: Flask, smtp: Sink) -> None:
    queue(message_key("referral:{}:sent", 1), "partner@example.org", subject="New referral")
    queue(
        message_key("plan:{}:v{}:submitted", 7, 2),
        "case.manager@iom.example.org",
        subject="Plan to review",
    )
    counts = deliver()
    assert counts == DeliveryCounts(sent=2)
    assert len(smtp.received) == 2
    assert len(set(smtp.peers)) == 1  # one connection for the batch
    (mail,) = smtp.to("partner@example.org")
    assert mail["Subject"] == "New referral"
    assert mail["From"] == app.config["MAIL_FROM"]
    assert mail["Message-ID"] == message_id("referral:1:sent", "reintegration-hub.invalid")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "text/plain"
    assert text(mail) == "Body of referral:1:sent.\n"
    sent = stored("referral:1:sent")
    assert (sent.status, sent.sent_at, sent.attempts) == (OutboxStatus.SENT, NOW, 1)

    assert deliver(now=NOW + dt.timedelta(hours=1)) == DeliveryCounts()
    assert len(smtp.received) == 2


def test_only_messages_due_are_sent_and_a_batch_stops_at_its_size(app: Flask, smtp: Sink) -> None:
    later = queue(message_key("referral:{}:sent", 9), due=NOW + dt.timedelta(minutes=1))
    for n in range(3):
        queue(message_key("referral:{}:sent", n), f"partner{n}@example.org")
    queue(message_key("referral:{}:sent", 5), status=OutboxStatus.FAILED)
    assert deliver(batch_size=2).sent == 2
    assert deliver(batch_size=2).sent == 1
    assert deliver(batch_size=2).sent == 0
    assert stored(later.key).status == OutboxStatus.QUEUED
    assert stored("referral:5:sent").status == OutboxStatus.FAILED
    assert sorted(m["To"] for m in smtp.received) == [f"partner{n}@example.org" for n in range(3)]


def test_refusals_fail_for_good_on_5xx_and_back_off_on_4xx(app: Flask, smtp: Sink) -> None:
    smtp.replies = {
        "gone@example.org": "550 5.1.1 Mailbox unavailable",
        "busy@example.org": "451 4.3.0 Try again later",
    }
    queue(message_key("referral:{}:sent", 1), "gone@example.org")
    queue(message_key("referral:{}:sent", 2), "busy@example.org")
    queue(message_key("referral:{}:sent", 3), "fine@example.org")

    assert deliver() == DeliveryCounts(sent=1, deferred=1, failed=1)
    assert [m["To"] for m in smtp.received] == ["fine@example.org"]
    gone, busy = stored("referral:1:sent"), stored("referral:2:sent")
    assert (gone.status, gone.attempts) == (OutboxStatus.FAILED, 1)
    assert gone.last_error.startswith("550 5.1.1")
    assert gone.sent_at is None
    assert (busy.status, busy.attempts) == (OutboxStatus.QUEUED, 1)
    assert busy.last_error.startswith("451 4.3.0")
    assert busy.next_attempt_at == NOW + dt.timedelta(seconds=60)

    assert deliver(now=NOW + dt.timedelta(seconds=59)) == DeliveryCounts()  # not due yet
    second = NOW + dt.timedelta(seconds=61)
    assert deliver(now=second) == DeliveryCounts(deferred=1)
    busy = stored("referral:2:sent")
    assert busy.attempts == 2
    assert busy.next_attempt_at == second + dt.timedelta(seconds=120)  # doubled

    del smtp.replies["busy@example.org"]
    assert deliver(now=busy.next_attempt_at) == DeliveryCounts(sent=1)
    busy = stored("referral:2:sent")
    assert (busy.status, busy.attempts, busy.last_error) == (OutboxStatus.SENT, 3, "")


def test_the_backoff_is_capped_and_the_last_attempt_fails_the_message(
    make_app: Callable[..., Flask], smtp: Sink
) -> None:
    app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        OUTBOX_MAX_ATTEMPTS=4,
        OUTBOX_RETRY_SECONDS=60,
        OUTBOX_RETRY_MAX_SECONDS=150,
    )
    smtp.replies = {"busy@example.org": "452 4.2.2 Mailbox full"}
    with app.app_context():
        queue(message_key("referral:{}:sent", 1), "busy@example.org", attempts=2)
        assert deliver() == DeliveryCounts(deferred=1)
        assert stored("referral:1:sent").next_attempt_at == NOW + dt.timedelta(seconds=150)
        assert deliver(now=NOW + dt.timedelta(hours=1)) == DeliveryCounts(failed=1)
        message = stored("referral:1:sent")
        assert (message.status, message.attempts) == (OutboxStatus.FAILED, 4)
        assert message.last_error.startswith("452")


def test_an_unreachable_server_defers_one_message_and_stops(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT_SECONDS=2)
    with app.app_context():
        first, second = (
            queue(message_key("referral:{}:sent", 1)),
            queue(message_key("referral:{}:sent", 2), "other@example.org"),
        )
        with pytest.raises(MailServerUnavailable):
            deliver()
        tried, untouched = stored(first.key), stored(second.key)
        assert (tried.status, tried.attempts) == (OutboxStatus.QUEUED, 1)
        assert tried.next_attempt_at == NOW + dt.timedelta(seconds=60)
        assert "ConnectionRefusedError" in tried.last_error
        assert (untouched.attempts, untouched.next_attempt_at) == (0, NOW)


def test_a_message_that_cannot_be_encoded_fails_without_stopping_the_others(
    app: Flask, smtp: Sink
) -> None:
    queue(message_key("referral:{}:sent", 1), "broken@example.org\nBcc: someone@example.org")
    queue(message_key("referral:{}:sent", 2), "fine@example.org")
    assert deliver() == DeliveryCounts(sent=1, failed=1)
    broken = stored("referral:1:sent")
    assert broken.status == OutboxStatus.FAILED
    assert broken.last_error.startswith("ValueError")
    assert [m["To"] for m in smtp.received] == ["fine@example.org"]


def test_many_messages_of_one_kind_to_one_recipient_make_one_digest(app: Flask, smtp: Sink) -> None:
    boss = "case.manager@iom.example.org"
    for n in range(1, 7):
        queue(message_key("referral:{}:expired", n), boss, subject=f"Referral {n} expired")
    queue(message_key("referral:{}:declined", 7), boss, subject="Referral 7 declined")
    for n in range(10, 15):  # five: not more than OUTBOX_DIGEST_AFTER
        queue(message_key("referral:{}:expired", n), "colleague@iom.example.org")

    assert deliver() == DeliveryCounts(sent=12, digests=1)
    to_boss = smtp.to(boss)
    assert len(to_boss) == 2
    (digest,) = [m for m in to_boss if m["Subject"] == "Reintegration Hub: 6 notifications"]
    body = text(digest)
    for n in range(1, 7):
        assert f"{n}. Referral {n} expired" in body
        assert f"Body of referral:{n}:expired." in body
    assert "declined" not in body
    assert len(smtp.to("colleague@iom.example.org")) == 5
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
    assert set(statuses) == {OutboxStatus.SENT}
    assert deliver(now=NOW + dt.timedelta(hours=1)) == DeliveryCounts()


def test_a_refused_digest_defers_every_message_in_it(app: Flask, smtp: Sink) -> None:
    smtp.replies = {"busy@example.org": "451 4.3.0 Try again later"}
    for n in range(6):
        queue(message_key("referral:{}:expired", n), "busy@example.org")
    assert deliver() == DeliveryCounts(deferred=6)
    db.session.expire_all()
    rows = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {(m.status, m.attempts) for m in rows} == {(OutboxStatus.QUEUED, 1)}


def test_message_kinds_come_with_the_key_and_ids_from_it() -> None:
    # the kinds digests used to read out of the keys (their parts without digits)
    assert message_key("referral:{}:expired", 42) == MessageKey(
        "referral:42:expired", "referral:expired"
    )
    assert message_key("plan:{}:v{}:submitted", 7, 2) == MessageKey(
        "plan:7:v2:submitted", "plan:submitted"
    )
    assert message_key("milestone:{}:reminder:{}", 5, "2026-05-01").kind == "milestone:reminder"
    with pytest.raises(ValueError, match="takes 1 ids, not 0"):
        message_key("referral:{}:sent")
    first = message_id("referral:42:sent", "hub.example.org")
    assert first == message_id("referral:42:sent", "hub.example.org")
    assert first.startswith("<referral.42.sent.")
    assert first.endswith("@hub.example.org>")
    assert first != message_id("referral:43:sent", "hub.example.org")


def test_a_send_function_replaces_smtp(app: Flask) -> None:
    sent: list[EmailMessage] = []
    queue(message_key("referral:{}:sent", 1))
    db.session.commit()
    assert deliver_outbox(batch_size=10, now=NOW, send=sent.append).sent == 1
    assert [m["Subject"] for m in sent] == ["About referral:1:sent"]


def test_a_send_function_raising_a_refusal_is_counted_like_smtp(app: Flask) -> None:
    def refuse(message: EmailMessage) -> None:
        raise smtplib.SMTPDataError(554, b"5.7.1 Rejected as spam")

    queue(message_key("referral:{}:sent", 1))
    db.session.commit()
    assert deliver_outbox(batch_size=10, now=NOW, send=refuse) == DeliveryCounts(failed=1)
    assert stored("referral:1:sent").last_error == "554 5.7.1 Rejected as spam"


# --- administration ---------------------------------------------------------------------------


def test_an_admin_queues_a_failed_message_again_and_it_is_audited(app: Flask, smtp: Sink) -> None:
    admin = user_with_role(Role.ADMIN)
    failed = queue(message_key("referral:{}:sent", 1), status=OutboxStatus.FAILED, attempts=8)
    assert [m.id for m in failed_messages(actor=admin)] == [failed.id]
    retry_failed(failed.id, actor=admin)
    db.session.commit()
    again = stored(failed.key)
    assert (again.status, again.attempts) == (OutboxStatus.QUEUED, 0)
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry")
    ).one()
    assert entry.actor_id == admin.id
    assert entry.changes == {"status": ["failed", "queued"], "attempts": [8, 0]}
    assert deliver_outbox(batch_size=10).sent == 1  # due now
    with pytest.raises(Conflict):
        retry_failed(failed.id, actor=admin)


def test_only_admins_read_and_retry(app: Flask) -> None:
    failed = queue(message_key("referral:{}:sent", 1), status=OutboxStatus.FAILED)
    manager = user_with_role(Role.PROGRAMME_MANAGER)
    for call in (
        lambda: retry_failed(failed.id, actor=manager),
        lambda: failed_messages(actor=manager),
        lambda: recent_messages(actor=manager),
        lambda: count_by_status(actor=manager),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_counts_name_every_status(app: Flask) -> None:
    admin = user_with_role(Role.ADMIN)
    queue(message_key("referral:{}:sent", 1))
    queue(message_key("referral:{}:sent", 2), status=OutboxStatus.FAILED)
    assert count_by_status(actor=admin) == {
        OutboxStatus.QUEUED: 1,
        OutboxStatus.SENT: 0,
        OutboxStatus.FAILED: 1,
        OutboxStatus.WITHDRAWN: 0,
    }
    assert [m.key for m in recent_messages(actor=admin)] == ["referral:2:sent", "referral:1:sent"]


# --- two deliverers at once -------------------------------------------------------------------

MESSAGES = 40


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_two_deliverers_at_once_send_every_message_exactly_once(
    app: Flask, make_app: Callable[..., Flask], smtp: Sink
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (HUB_TEST_DATABASE_URL): SQLite runs one deliverer")
    for n in range(MESSAGES):
        queue(message_key("referral:{}:sent", n), f"partner{n}@example.org")
    db.session.commit()
    # each deliverer: its own app context, session and connection (no pool), like two workers
    workers_app = make_app(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool},
    )
    # the first message is held at the server until the other deliverer sends one too: both
    # are then inside a send, each holding the lock of a different message
    smtp.hold_first = True

    first, second = two_deliverers(workers_app, MESSAGES)
    assert smtp.overlapped
    assert first.sent > 0
    assert second.sent > 0
    assert first.sent + second.sent == MESSAGES
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)) == MESSAGES
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(OutboxMessage.status))) == {OutboxStatus.SENT}
