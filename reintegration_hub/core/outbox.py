"""The outbox: every e-mail is first a row, written in the transaction of the change it reports.

A rolled-back change therefore never sends a message. The sending flow (follow-up engine) picks
queued rows, sends them and marks each one sent. Every writer builds its keys with
``message_key``: ``key`` is unique per message purpose (for example ``referral:42:sent``), so
writing the same message twice queues it once, and ``kind`` (``referral:sent``) is stored
beside it for the digests, never read back out of the key. All rows are written by
``queue_messages`` (``queue_message`` renders one and hands it over).

A message is written in its recipient's language, never the sender's: the language of the
account with the recipient's address, else of the partner whose focal point it is, else
English (``recipient_languages``, set by ``init_outbox``); a language the application has no
catalogue for is English too. Links in messages start with ``PUBLIC_BASE_URL`` (``public_url``):
messages are also written by flows, where no request tells the address users open.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.routing import MapAdapter

from reintegration_hub.core.db import Base, now_utc, str_enum
from reintegration_hub.core.sql import insert_ignore

#: Finds the language of each recipient address it knows (lower-cased address -> code).
LanguageLookup = Callable[[Collection[str]], Mapping[str, str]]
_EXTENSION = "reintegration_hub.outbox"
#: outbox rows an insert at most (a catch-up of the sweep queues many at once)
_MESSAGES_PER_INSERT = 2000


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
    # what the message is about (``message_key``): a digest gathers one recipient's of a kind
    kind: Mapped[str] = mapped_column(sa.String(80))
    # the milestone notice (``followups``) it tells of, for the plan's timeline; no foreign
    # key: the outbox is below every area that writes to it
    notice_id: Mapped[int | None] = mapped_column(index=True)
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


def init_outbox(app: Flask, *, languages: LanguageLookup) -> None:
    """Tell the outbox how to find recipients' languages (the accounts and partners)."""
    app.extensions[_EXTENSION] = languages


def message_language(language: str | None) -> str:
    """``language`` if the application has a catalogue for it, else the default (English)."""
    config = current_app.config
    if language and language in config["LANGUAGES"]:
        return language
    return str(config["BABEL_DEFAULT_LOCALE"])


def recipient_languages(addresses: Collection[str]) -> dict[str, str]:
    """The language to write to each address in (see the module's docstring), by address as
    given; set-based, whatever the number of addresses."""
    lookup: LanguageLookup | None = current_app.extensions.get(_EXTENSION)
    found = lookup({a.strip().lower() for a in addresses}) if lookup and addresses else {}
    return {a: message_language(found.get(a.strip().lower())) for a in addresses}


def public_urls() -> MapAdapter:
    """Builds absolute links on ``PUBLIC_BASE_URL`` (``.build(endpoint, values)``), with or
    without a request; a base URL with a path (``https://host/hub``) prefixes every link."""
    base = urlsplit(str(current_app.config["PUBLIC_BASE_URL"]))
    return current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
    )


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute link to ``endpoint`` that a recipient of an e-mail opens."""
    return public_urls().build(endpoint, values, force_external=True)


@dataclass(frozen=True)
class MessageKey:
    """A message's unique ``text`` and its ``kind``, built by ``message_key``."""

    text: str
    kind: str


def message_key(pattern: str, *ids: object) -> MessageKey:
    """The key of a message: ``pattern`` is its kind's words separated by ``:``, with ``{}``
    where the message's own ids, versions or dates go, filled from ``ids`` in turn. A part
    holding a ``{}`` is left out of the kind: ``message_key("plan:{}:v{}:submitted", 7, 2)``
    is ``plan:7:v2:submitted`` of kind ``plan:submitted``."""
    if pattern.count("{}") != len(ids):
        raise ValueError(f"{pattern!r} takes {pattern.count('{}')} ids, not {len(ids)}")
    kind = ":".join(part for part in pattern.split(":") if "{}" not in part)
    return MessageKey(pattern.format(*ids), kind)


@dataclass(frozen=True)
class OutgoingMessage:
    """An e-mail rendered and ready to queue (``queue_messages``)."""

    key: MessageKey
    to_address: str
    subject: str
    body_text: str
    language: str
    notice_id: int | None = None


def queue_messages(messages: Iterable[OutgoingMessage]) -> int:
    """Write ``messages`` to the outbox, a few thousand rows a statement, skipping each one
    whose key was queued before (nothing is written twice); how many were written."""
    queued, now, table = 0, now_utc(), OutboxMessage.__table__
    for chunk in _chunks(messages, _MESSAGES_PER_INSERT):
        queued += len(
            insert_ignore(
                table, [_row(message, now) for message in chunk], ["key"], returning=[table.c.id]
            )
        )
    return queued


def _row(message: OutgoingMessage, now: dt.datetime) -> dict[str, Any]:
    return {
        "key": message.key.text,
        "kind": message.key.kind,
        "notice_id": message.notice_id,
        "to_address": message.to_address,
        "subject": message.subject[:300],
        "body_text": message.body_text,
        "language": message.language,
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "next_attempt_at": now,
    }


def _chunks(messages: Iterable[OutgoingMessage], size: int) -> Iterator[list[OutgoingMessage]]:
    remaining = iter(messages)
    while chunk := list(islice(remaining, size)):
        yield chunk


def queue_message(
    key: MessageKey,
    to_address: str,
    subject: Any,
    template: str,
    *,
    language: str | None = None,
    **context: Any,
) -> bool:
    """Queue an e-mail rendered from ``templates/emails/<template>``; ``False`` when a message
    with ``key`` was queued before (nothing is written twice).

    The subject (give a lazy string) and the body are written in ``language``, by default the
    recipient's (``recipient_languages``); templates build links with ``public_url``."""
    language = (
        message_language(language) if language else recipient_languages([to_address])[to_address]
    )
    with force_locale(language):
        subject_text = str(subject)
        body = render_template(f"emails/{template}", public_url=public_url, **context)
    return bool(queue_messages([OutgoingMessage(key, to_address, subject_text, body, language)]))
