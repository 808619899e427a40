"""In-app notices: every message e-mailed to a user is also a notice in their inbox.

Notices are written by the outbox's one writer (``core.outbox.queue_messages``), in the same
statement batch and transaction as the outbox rows, once per message key. A user's e-mail
choice for a kind of message (``EmailChoice``) decides whether the e-mail is queued now, held
for the daily digest or not queued at all; the notice is written whatever the choice. Kinds
in ``ALWAYS_EMAILED`` are e-mailed at once whatever a user chose.

The models live here, beside the outbox, because the writer is below every area that writes
messages; reading and marking notices is ``notifications.inbox``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, now_utc, str_enum

#: Kinds (``core.outbox.message_key``) e-mailed at once whatever the recipient chose: an
#: escalation of an overdue milestone to the office's supervisor or the home office must reach
#: them. Messages about passwords or sign-ins belong here too once the product sends any.
ALWAYS_EMAILED = frozenset({"milestone:escalation"})

SUMMARY_MAX = 500
LINK_MAX = 500


class EmailChoice(enum.StrEnum):
    """How a user is e-mailed a kind of message (the notice is written in every case)."""

    IMMEDIATELY = "immediately"
    DIGEST = "digest"  # held and sent with the others of the day, in one digest e-mail
    NONE = "none"


class InboxNotice(Base):
    __tablename__ = "inbox_notices"
    __table_args__ = (
        # the menu's unread count
        sa.Index("ix_inbox_notices_user_read", "user_id", "read_at"),
        # the inbox, newest first
        sa.Index("ix_inbox_notices_user_created", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the outbox key of the message it is the notice of: one notice per message
    key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(80))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(sa.String(300))
    summary: Mapped[str] = mapped_column(sa.String(SUMMARY_MAX), default="")
    # a path inside the application (``/cases/7/plan``), never an absolute address
    link: Mapped[str] = mapped_column(sa.String(LINK_MAX), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    read_at: Mapped[dt.datetime | None]


class NotificationPreference(Base):
    """A user's e-mail choice for one kind; a kind without a row is e-mailed immediately."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    email: Mapped[EmailChoice] = mapped_column(str_enum(EmailChoice))


def effective_choice(kind: str, chosen: EmailChoice | None) -> EmailChoice:
    """What is done with the e-mail of a ``kind`` message for a user who chose ``chosen``."""
    if chosen is None or kind in ALWAYS_EMAILED:
        return EmailChoice.IMMEDIATELY
    return chosen


def is_app_path(link: str) -> bool:
    """``link`` is a path inside the application (``/inbox``), not an address elsewhere."""
    return link.startswith("/") and not link.startswith("//") and "\\" not in link


_PARAGRAPHS = re.compile(r"\n\s*\n")


def summary_of(body: str) -> str:
    """The short text of a notice: the e-mail's first paragraph after its greeting (a single
    line ending in a comma), whitespace folded, cut to ``SUMMARY_MAX`` characters."""
    for paragraph in _PARAGRAPHS.split(body.strip()):
        text = " ".join(paragraph.split())
        if text and not ("\n" not in paragraph.strip() and text.endswith(",")):
            return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"
    return ""


def next_digest_at(now: dt.datetime, hour: int) -> dt.datetime:
    """When the daily digest of messages held at ``now`` goes out: the next ``hour``:00 UTC."""
    at = now.astimezone(dt.UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + dt.timedelta(days=1)
