"""The outbox: every e-mail is first a row, written in the transaction of the change it reports.

A rolled-back change therefore never sends a message. The sending flow (follow-up engine) picks
queued rows, sends them and marks each one sent; ``key`` is unique per message purpose (for
example ``referral:42:sent``), so writing the same message twice queues it once.

A message is written in its recipient's language, never the sender's: the language of the
account with the recipient's address, else of the partner whose focal point it is, else
English (``recipient_languages``, set by ``init_outbox``); a language the application has no
catalogue for is English too. Links in messages start with ``PUBLIC_BASE_URL`` (``public_url``):
messages are also written by flows, where no request tells the address users open.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app, render_template
from flask_babel import force_locale
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.routing import MapAdapter

from reintegration_hub.core.db import Base, now_utc, str_enum
from reintegration_hub.extensions import db

#: Finds the language of each recipient address it knows (lower-cased address -> code).
LanguageLookup = Callable[[Collection[str]], Mapping[str, str]]
_EXTENSION = "reintegration_hub.outbox"


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


def queue_message(
    key: str,
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
    dialect = db.session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    now = now_utc()
    inserted = db.session.execute(
        module.insert(OutboxMessage)
        .values(
            key=key,
            to_address=to_address,
            subject=subject_text[:300],
            body_text=body,
            language=language,
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
