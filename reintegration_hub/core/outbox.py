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

A message to a user (the writer names them, or an active account has the address) is also an
in-app notice (``core.inbox``), written by the same call, once per key, with a link inside the
application (``app_path``). The user's e-mail choice for the message's kind decides whether
the outbox row is queued now, held for the daily digest (``daily_digest``, due at
``OUTBOX_DIGEST_HOUR``) or not written.

A text message to a returnee (``channel`` ``sms``, written by ``cases.sms``) is a row of the
same table, sent by the same flow with the same locks and retries through the SMS gateway:
``to_address`` is the number (E.164), ``returnee_id`` the case whose consent it needs, checked
again just before it is sent (``sms_permitted``, set by ``init_outbox``); it has no subject, no
in-app notice and no digest.
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
from reintegration_hub.core.inbox import (
    LINK_MAX,
    EmailChoice,
    InboxNotice,
    NotificationPreference,
    effective_choice,
    is_app_path,
    next_digest_at,
    summary_of,
)
from reintegration_hub.core.sql import insert_ignore
from reintegration_hub.extensions import db

#: Finds the language of each recipient address it knows (lower-cased address -> code).
LanguageLookup = Callable[[Collection[str]], Mapping[str, str]]
#: Finds the active account of each address it knows (lower-cased address -> user id).
AccountLookup = Callable[[Collection[str]], Mapping[str, int]]
#: Of (returnee id, number) pairs, those that may be sent a text message now.
SmsPermission = Callable[[Collection[tuple[int, str]]], set[tuple[int, str]]]
_EXTENSION = "reintegration_hub.outbox"
_ACCOUNTS = "reintegration_hub.outbox.accounts"
_SMS_PERMISSION = "reintegration_hub.outbox.sms_permission"
#: outbox rows an insert at most (a catch-up of the sweep queues many at once)
_MESSAGES_PER_INSERT = 2000


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # permanently: shown to administrators, never retried on its own
    # a text message whose returnee no longer consents (opted out, number changed, case
    # anonymised) before it was sent: never sent, never retried
    WITHDRAWN = "withdrawn"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


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
    channel: Mapped[Channel] = mapped_column(
        str_enum(Channel, length=8), default=Channel.EMAIL, server_default=Channel.EMAIL.value
    )
    # a text message's returnee (no foreign key, as notice_id): its consent is checked again
    # before the send, and retention blanks the row with the case
    returnee_id: Mapped[int | None] = mapped_column(index=True)
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
    # held for the recipient's daily digest (their choice for its kind): sent with the others
    # held for them, in one digest e-mail, at ``next_attempt_at``
    daily_digest: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


def init_outbox(
    app: Flask,
    *,
    languages: LanguageLookup,
    accounts: AccountLookup | None = None,
    sms_permitted: SmsPermission | None = None,
) -> None:
    """Tell the outbox how to find recipients' languages (the accounts and partners), the
    accounts of addresses a writer names no user for (their in-app notices), and which text
    messages their returnees still consent to."""
    app.extensions[_EXTENSION] = languages
    if accounts is not None:
        app.extensions[_ACCOUNTS] = accounts
    if sms_permitted is not None:
        app.extensions[_SMS_PERMISSION] = sms_permitted


def sms_permitted(pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Of (returnee id, number) pairs, those whose returnee consents now to text messages on
    that number; none without the lookup ``init_outbox`` sets (nothing is sent unchecked)."""
    lookup: SmsPermission | None = current_app.extensions.get(_SMS_PERMISSION)
    return lookup(pairs) if lookup and pairs else set()


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


def app_paths() -> MapAdapter:
    """Builds the in-app links of notices (``.build(endpoint, values)``): paths from the
    application's root, with or without a request; pages put their own root in front."""
    return current_app.url_map.bind("localhost", script_name="/")


def app_path(endpoint: str, **values: Any) -> str:
    """The in-app link of a notice about ``endpoint``'s page: ``/cases/7/plan``."""
    return app_paths().build(endpoint, values)


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
    #: the recipient's account, when the writer knows it (else found by the address)
    user_id: int | None = None
    #: the in-app link of its notice (``app_path``); empty: the notice links nowhere
    app_link: str = ""
    #: ``sms``: a text message to a returnee's number (no notice, no digest)
    channel: Channel = Channel.EMAIL
    returnee_id: int | None = None


def queue_messages(messages: Iterable[OutgoingMessage]) -> int:
    """Write ``messages`` to the outbox, a few thousand rows a statement, skipping each one
    whose key was queued before (nothing is written twice); how many e-mails were queued.

    A message to a user also writes their in-app notice (once per key: a message whose notice
    exists already queues nothing again), and their choice for its kind decides its e-mail:
    queued now, held for the daily digest, or none (see the module's docstring)."""
    queued, now, table = 0, now_utc(), OutboxMessage.__table__
    digest_at = next_digest_at(now, int(current_app.config["OUTBOX_DIGEST_HOUR"]))
    for chunk in _chunks(messages, _MESSAGES_PER_INSERT):
        users = _recipient_users(chunk)
        new_notices = _write_notices(chunk, users, now)
        choices = _choices(chunk, users)
        rows = []
        for message in chunk:
            if message.channel == Channel.SMS:
                rows.append(_row(message, now))
                continue
            user_id = users.get(message.key.text)
            if user_id is None:
                rows.append(_row(message, now))
                continue
            if message.key.text not in new_notices:
                continue  # written before: its e-mail was queued (or not) then
            choice = effective_choice(message.key.kind, choices.get((user_id, message.key.kind)))
            if choice == EmailChoice.DIGEST:
                rows.append(
                    _row(message, now) | {"next_attempt_at": digest_at, "daily_digest": True}
                )
            elif choice == EmailChoice.IMMEDIATELY:
                rows.append(_row(message, now))
        queued += len(insert_ignore(table, rows, ["key"], returning=[table.c.id]))
    return queued


def _recipient_users(messages: list[OutgoingMessage]) -> dict[str, int]:
    """The user each message goes to, by key: as its writer says, else the active account
    with its address; messages to no user are left out."""
    messages = [m for m in messages if m.channel == Channel.EMAIL]
    unnamed = {m.to_address for m in messages if m.user_id is None}
    lookup: AccountLookup | None = current_app.extensions.get(_ACCOUNTS)
    found = lookup({a.strip().lower() for a in unnamed}) if lookup and unnamed else {}
    users = {}
    for message in messages:
        user_id = message.user_id or found.get(message.to_address.strip().lower())
        if user_id is not None:
            users[message.key.text] = user_id
    return users


def _write_notices(
    messages: list[OutgoingMessage], users: Mapping[str, int], now: dt.datetime
) -> set[str]:
    """Insert the notices of the messages to users, once per key; the keys inserted now."""
    table = InboxNotice.__table__
    rows = [
        {
            "key": message.key.text,
            "kind": message.key.kind,
            "user_id": users[message.key.text],
            "subject": message.subject[:300],
            "summary": summary_of(message.body_text),
            "link": message.app_link if _fits(message.app_link) else "",
            "created_at": now,
            "read_at": None,
        }
        for message in messages
        if message.key.text in users
    ]
    return {key for (key,) in insert_ignore(table, rows, ["key"], returning=[table.c.key])}


def _fits(link: str) -> bool:
    return is_app_path(link) and len(link) <= LINK_MAX


def _choices(
    messages: list[OutgoingMessage], users: Mapping[str, int]
) -> dict[tuple[int, str], EmailChoice]:
    """The users' choices for the kinds of their messages, by (user id, kind)."""
    user_ids = set(users.values())
    kinds = {m.key.kind for m in messages if m.key.text in users}
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            NotificationPreference.user_id,
            NotificationPreference.kind,
            NotificationPreference.email,
        ).where(
            NotificationPreference.user_id.in_(user_ids), NotificationPreference.kind.in_(kinds)
        )
    )
    return {(user_id, kind): EmailChoice(email) for user_id, kind, email in rows}


def _row(message: OutgoingMessage, now: dt.datetime) -> dict[str, Any]:
    return {
        "key": message.key.text,
        "kind": message.key.kind,
        "notice_id": message.notice_id,
        "to_address": message.to_address,
        "channel": message.channel,
        "returnee_id": message.returnee_id,
        "subject": message.subject[:300],
        "body_text": message.body_text,
        "language": message.language,
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "next_attempt_at": now,
        "daily_digest": False,
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
    user_id: int | None = None,
    app_link: str = "",
    **context: Any,
) -> bool:
    """Queue an e-mail rendered from ``templates/emails/<template>``; ``False`` when no e-mail
    was queued: a message with ``key`` was written before (nothing is written twice), or its
    user chose no e-mail for its kind (the in-app notice is written).

    The subject (give a lazy string) and the body are written in ``language``, by default the
    recipient's (``recipient_languages``); templates build links with ``public_url``.
    ``user_id`` names the recipient's account when the caller knows it; ``app_link`` is the
    in-app notice's link (``app_path``)."""
    language = (
        message_language(language) if language else recipient_languages([to_address])[to_address]
    )
    with force_locale(language):
        subject_text = str(subject)
        body = render_template(f"emails/{template}", public_url=public_url, **context)
    message = OutgoingMessage(
        key, to_address, subject_text, body, language, user_id=user_id, app_link=app_link
    )
    return bool(queue_messages([message]))
