"""Outbox rows for tests, written directly (the queueing service is tested in its own area)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from reintegration_hub.core.outbox import MessageKey, OutboxMessage, OutboxStatus
from reintegration_hub.extensions import db

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def queue(
    key: MessageKey,
    to_address: str = "case.manager@iom.example.org",
    *,
    subject: str | None = None,
    due: dt.datetime = NOW,
    attempts: int = 0,
    status: OutboxStatus = OutboxStatus.QUEUED,
) -> OutboxMessage:
    message = OutboxMessage(
        key=key.text,
        kind=key.kind,
        to_address=to_address,
        subject=subject or f"About {key.text}",
        body_text=f"Body of {key.text}.\n",
        status=status,
        attempts=attempts,
        last_error="",
        created_at=due,
        next_attempt_at=due,
    )
    db.session.add(message)
    db.session.flush()
    return message


def stored(key: str) -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == key)).one()
