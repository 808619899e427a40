"""The outbox: every e-mail is first a row, written in the transaction of the change it reports.

A rolled-back change therefore never sends a message. The sending flow (follow-up engine) picks
queued rows, sends them and marks each one sent; ``key`` is unique per message purpose (for
example ``referral:42:sent``), so writing the same message twice queues it once.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, now_utc, str_enum
from reintegration_hub.extensions import db


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # permanently: shown to administrators, never retried on its own


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.Index("ix_outbox_messages_status_next", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    to_address: Mapped[str] = mapped_column(sa.String(254), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    # the language it is written in (a digest of several messages uses it too)
    language: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus), default=OutboxStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    sent_at: Mapped[dt.datetime | None]


def queue_message(key: str, to_address: str, subject: str, template: str, **context: Any) -> bool:
    """Queue an e-mail rendered from ``templates/emails/<template>``; ``False`` when a message
    with ``key`` was queued before (nothing is written twice)."""
    body = render_template(f"emails/{template}", **context)
    dialect = db.session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    now = now_utc()
    inserted = db.session.execute(
        module.insert(OutboxMessage)
        .values(
            key=key,
            to_address=to_address,
            subject=subject,
            body_text=body,
            status=OutboxStatus.QUEUED,
            attempts=0,
            last_error="",
            created_at=now,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    ).first()
    return inserted is not None
