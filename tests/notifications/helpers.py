"""Outbox rows for tests, written directly (the queueing service is tested in its own area)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import MessageKey, OutboxMessage, OutboxStatus
from reintegration_hub.extensions import db
from reintegration_hub.notifications.services import DeliveryCounts, deliver_outbox

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


def two_deliverers(workers_app: Flask, batch_size: int) -> tuple[DeliveryCounts, DeliveryCounts]:
    """Two deliverers at once, each in an app context, session and connection of its own (the
    app's pool should be ``NullPool``), as two workers run them; what each delivered."""

    def work(_: int) -> DeliveryCounts:
        with workers_app.app_context():
            try:
                return deliver_outbox(batch_size=batch_size, now=now_utc())
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(work, range(2))
    return first, second
