"""Sending the outbox by e-mail (the ``deliver_notifications`` flow), and its reads for admins.

Each queued message due now is sent over SMTP, then its row is marked ``sent`` and committed at
once, one message (or one digest) per transaction. SMTP has no idempotency, so the guarantee is
"at least once, at most one duplicate per crash": a process killed after the server accepted a
message but before the commit sends that one message again on the next run. Its ``Message-ID``
is derived from the outbox key, so the resend carries the same id and receiving servers and mail
clients can drop the duplicate.

Two deliverers never send the same message on PostgreSQL: a message is locked
(``FOR UPDATE SKIP LOCKED``) from before its send until the commit that marks it, and the other
deliverer skips it. SQLite has no row locks: run one deliverer at a time there (``make run`` does).

Text messages to returnees (``channel`` ``sms``) go through the same claim, lock, commit and
backoff, through the SMS gateway (``notifications.sms``) instead of SMTP, one message a unit
(no digests). Just before the send the returnee's consent is read again
(``core.outbox.sms_permitted``): a message whose returnee opted out since, or whose number
changed, is ``withdrawn``, never sent. A gateway that fails transiently keeps its message
queued for a later attempt and stops the text messages of this batch (e-mails go on); with no
gateway configured text messages are not claimed at all and wait, queued.

Logs name counts and message ids only, never addresses, numbers, subjects or server replies
(they go to ``last_error``, shown to administrators).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import lazy_gettext as _l

from partners.models import Partner
from reintegration_hub.auth.models import User
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, NotFound, PermissionDenied
from reintegration_hub.core.outbox import Channel, OutboxMessage, OutboxStatus, sms_permitted
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.notifications.sms import SmsGateway, SmsRefused, gateway_from_config

log = logging.getLogger(__name__)

#: Sends one e-mail or raises: ``smtplib`` refusals (their code decides permanent or not),
#: ``MailServerUnavailable`` or any ``OSError`` when the server itself cannot be used.
Send = Callable[[EmailMessage], None]


class MailServerUnavailable(RuntimeError):
    """The SMTP server cannot be used right now (unreachable, dropped the connection, refused
    the session): not the fault of one message, so delivery stops until a later run."""


@dataclass(frozen=True)
class DeliveryCounts:
    sent: int = 0  # messages marked sent, those sent in a digest included
    digests: int = 0  # digest e-mails among the e-mails sent
    deferred: int = 0  # refused for now: queued again for a later attempt
    failed: int = 0  # refused for good, or out of attempts
    withdrawn: int = 0  # text messages whose returnee no longer consents: never sent

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed + self.withdrawn

    def __add__(self, other: DeliveryCounts) -> DeliveryCounts:
        return DeliveryCounts(
            sent=self.sent + other.sent,
            digests=self.digests + other.digests,
            deferred=self.deferred + other.deferred,
            failed=self.failed + other.failed,
            withdrawn=self.withdrawn + other.withdrawn,
        )


@dataclass(frozen=True)
class _Pending:
    id: int
    key: str
    to_address: str
    subject: str
    body_text: str
    attempts: int
    language: str
    kind: str
    daily_digest: bool
    channel: Channel
    returnee_id: int | None


@dataclass(frozen=True)
class _Refusal:
    error: str
    permanent: bool  # this message will never go through as it is
    server: bool  # the server failed, not the message: stop the batch


_PENDING_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.key,
    OutboxMessage.to_address,
    OutboxMessage.subject,
    OutboxMessage.body_text,
    OutboxMessage.attempts,
    OutboxMessage.language,
    OutboxMessage.kind,
    OutboxMessage.daily_digest,
    OutboxMessage.channel,
    OutboxMessage.returnee_id,
)


def deliver_outbox(
    *,
    batch_size: int,
    now: dt.datetime | None = None,
    send: Send | None = None,
    sms_gateway: SmsGateway | None = None,
) -> DeliveryCounts:
    """Send the queued messages due at ``now`` (default: the current time) until ``batch_size``
    of them are handled (a digest may take the count past it).

    A recipient with more than ``OUTBOX_DIGEST_AFTER`` due messages of one kind (the outbox's
    ``kind``, see ``core.outbox.message_key``) gets them in one digest e-mail, and they are
    all marked sent. Messages held for a recipient's daily digest (their choice, see
    ``core.inbox``) go out together, whatever their kinds and number, in one digest e-mail.
    A refusal with a 4xx code, or a server that cannot be reached, keeps the message queued with
    one more attempt and the next one ``OUTBOX_RETRY_SECONDS`` later, doubling each time up to
    ``OUTBOX_RETRY_MAX_SECONDS``; a 5xx refusal, a message that cannot be encoded, or the
    ``OUTBOX_MAX_ATTEMPTS``-th attempt marks it ``failed`` with the reason in ``last_error``.

    Unlike other services it **commits**, after every message, because a send cannot be rolled
    back (see the module's docstring): call it with nothing else pending in the session.
    ``send`` replaces the SMTP connection made from the configuration (``SMTP_*``), which is
    otherwise opened once and reused for the whole batch.

    Raises ``MailServerUnavailable`` (after recording the attempt of the message it was
    sending) when the server cannot be used, so that the caller retries later rather than
    burning one attempt of every queued message.

    Text messages go through ``sms_gateway``, by default the one ``SMS_GATEWAY`` configures;
    with none they are left queued (see the module's docstring).
    """
    now = now or now_utc()
    config = current_app.config
    counts = DeliveryCounts()
    gateway = sms_gateway or gateway_from_config(config)
    channels = {Channel.EMAIL, Channel.SMS} if gateway else {Channel.EMAIL}
    with ExitStack() as stack:
        if send is None:
            send = stack.enter_context(SmtpSender.from_config(config))
        try:
            while counts.handled < batch_size:
                unit = _claim_next(
                    now, digest_after=int(config["OUTBOX_DIGEST_AFTER"]), channels=channels
                )
                if not unit:
                    break
                if unit[0].channel == Channel.SMS and gateway is not None:
                    done, gateway_ok = _deliver_sms(unit[0], gateway, now, config)
                    counts += done
                    if not gateway_ok:
                        channels = {Channel.EMAIL}  # the gateway is down: texts wait
                    continue
                counts += _deliver(unit, send, now, config)
        finally:
            log.info(
                "outbox: %d sent (%d digests), %d deferred, %d failed, %d withdrawn",
                counts.sent,
                counts.digests,
                counts.deferred,
                counts.failed,
                counts.withdrawn,
            )
            if gateway is None:
                _log_waiting_sms(now)
    return counts


def _log_waiting_sms(now: dt.datetime) -> None:
    waiting = db.session.scalar(
        sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel == Channel.SMS,
        )
    )
    if waiting:
        log.warning("outbox: %d text messages wait: no SMS gateway is configured", waiting)


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` of the message with outbox ``key``: the same for every send of it."""
    readable = ".".join(part for part in re.split(r"[^A-Za-z0-9_-]+", key) if part)
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"<{readable}.{digest}@{domain}>"


def _claim_next(
    now: dt.datetime, *, digest_after: int, channels: Collection[Channel] = (Channel.EMAIL,)
) -> list[_Pending]:
    """Lock the next due message of ``channels``, with the recipient's other due messages of its
    kind when they are more than ``digest_after`` together (a digest), or, for a message held
    for the daily digest, with every other one held for the recipient's; empty when nothing is
    due. A text message is always alone."""
    due: tuple[sa.ColumnElement[bool], ...] = (
        OutboxMessage.status == OutboxStatus.QUEUED,
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.channel.in_(sorted(channels))
        if len(channels) == 1
        else sa.true(),  # both: no condition, the index on status and time serves as it is
    )
    first = db.session.execute(
        sa.select(*_PENDING_COLUMNS)
        .where(*due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if first is None:
        return []
    unit = [_Pending(*first)]
    if first.channel == Channel.SMS:
        return unit
    due = (*due, OutboxMessage.channel == Channel.EMAIL)
    if first.daily_digest:
        held = db.session.execute(
            sa.select(*_PENDING_COLUMNS)
            .where(
                *due,
                OutboxMessage.to_address == first.to_address,
                OutboxMessage.daily_digest,
                OutboxMessage.id != first.id,
            )
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        ).all()
        return sorted(unit + [_Pending(*row) for row in held], key=lambda p: p.id)
    same_kind = db.session.scalars(
        sa.select(OutboxMessage.id).where(
            *due,
            OutboxMessage.to_address == first.to_address,
            OutboxMessage.kind == first.kind,
            OutboxMessage.id != first.id,
        )
    ).all()
    if len(same_kind) + 1 > digest_after:
        locked = db.session.execute(
            sa.select(*_PENDING_COLUMNS)
            .where(*due, OutboxMessage.id.in_(same_kind))
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        ).all()
        if len(locked) + 1 > digest_after:
            unit += [_Pending(*row) for row in locked]
    return sorted(unit, key=lambda p: p.id)


def _deliver(
    unit: list[_Pending], send: Send, now: dt.datetime, config: Mapping[str, Any]
) -> DeliveryCounts:
    ids = [p.id for p in unit]
    if db.session.get_bind().dialect.name == "sqlite":
        # One deliverer at a time on SQLite, and no row locks to keep: end the transaction
        # now rather than hold SQLite's single write lock through the send (the web's writes
        # would wait for the mail server, then fail with "database is locked").
        db.session.commit()
    try:
        send(_digest(unit, config) if len(unit) > 1 else _email(unit[0], config))
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        counts = _record_refusal(unit, refusal, now, config)
        db.session.commit()
        if refusal.server:
            log.warning("outbox: the mail server is unavailable; stopped at message %d", ids[0])
            raise MailServerUnavailable(refusal.error) from exc
        return counts
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            attempts=OutboxMessage.attempts + 1,
            last_error="",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return DeliveryCounts(sent=len(unit), digests=1 if len(unit) > 1 else 0)


def _deliver_sms(
    pending: _Pending, gateway: SmsGateway, now: dt.datetime, config: Mapping[str, Any]
) -> tuple[DeliveryCounts, bool]:
    """Send one text message if its returnee still consents (else it is withdrawn); the
    counts, and whether the gateway can take more now."""
    permitted = pending.returnee_id is not None and (
        (pending.returnee_id, pending.to_address)
        in sms_permitted([(pending.returnee_id, pending.to_address)])
    )
    if not permitted:
        _mark(pending.id, status=OutboxStatus.WITHDRAWN, last_error="no consent to SMS any more")
        db.session.commit()
        return DeliveryCounts(withdrawn=1), True
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.commit()  # as for e-mails: no lock to keep, release SQLite's write lock
    try:
        gateway.send(pending.to_address, pending.body_text)
    except SmsRefused as exc:
        refusal = _Refusal(exc.error, permanent=exc.permanent, server=not exc.permanent)
        counts = _record_refusal([pending], refusal, now, config)
        db.session.commit()
        if refusal.server:
            log.warning("outbox: the SMS gateway is unavailable; stopped at message %d", pending.id)
        return counts, not refusal.server
    _mark(
        pending.id,
        status=OutboxStatus.SENT,
        sent_at=now,
        attempts=OutboxMessage.attempts + 1,
        last_error="",
    )
    db.session.commit()
    return DeliveryCounts(sent=1), True


def _mark(message_id: int, **values: Any) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _refusal(exc: Exception) -> _Refusal | None:
    """How a failed send counts; ``None`` for an error that is no delivery failure (a bug)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))  # one recipient per message
        return _Refusal(_reply_text(code, reply), permanent=code >= 500, server=False)
    if isinstance(exc, smtplib.SMTPDataError):
        code = exc.smtp_code
        return _Refusal(_reply_text(code, exc.smtp_error), permanent=code >= 500, server=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError | ValueError | UnicodeError):
        # an address or header this message cannot be sent with (newline, SMTPUTF8 needed)
        return _Refusal(_error_text(exc), permanent=True, server=False)
    if isinstance(exc, MailServerUnavailable | OSError):  # smtplib.SMTPException is an OSError
        return _Refusal(_error_text(exc), permanent=False, server=True)
    return None


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return f"{code} {text}"[:500]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _record_refusal(
    unit: list[_Pending], refusal: _Refusal, now: dt.datetime, config: Mapping[str, Any]
) -> DeliveryCounts:
    max_attempts = int(config["OUTBOX_MAX_ATTEMPTS"])
    deferred: list[int] = []
    failed: list[int] = []
    for pending in unit:
        attempts = pending.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": refusal.error}
        if refusal.permanent or attempts >= max_attempts:
            values["status"] = OutboxStatus.FAILED
            failed.append(pending.id)
        else:
            values["next_attempt_at"] = now + retry_delay(attempts, config)
            deferred.append(pending.id)
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == pending.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if failed:
        log.warning("outbox: messages %s failed for good", failed)
    if deferred:
        log.info("outbox: messages %s deferred", deferred)
    return DeliveryCounts(deferred=len(deferred), failed=len(failed))


def retry_delay(attempts: int, config: Mapping[str, Any]) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling, capped."""
    first = int(config["OUTBOX_RETRY_SECONDS"])
    cap = int(config["OUTBOX_RETRY_MAX_SECONDS"])
    return dt.timedelta(seconds=min(first * 2 ** (attempts - 1), cap))


# --- the e-mails ------------------------------------------------------------------------------


def _new_email(
    config: Mapping[str, Any], to_address: str, subject: str, key: str, body: str
) -> EmailMessage:
    """A plain-text e-mail from ``MAIL_FROM`` whose Message-ID is made from ``key``."""
    sender = str(config["MAIL_FROM"])
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    email = EmailMessage()
    email["From"] = sender
    email["To"] = to_address
    email["Subject"] = subject
    email["Date"] = format_datetime(now_utc())
    email["Message-ID"] = message_id(key, domain)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    email.set_content(body)
    return email


def _email(pending: _Pending, config: Mapping[str, Any]) -> EmailMessage:
    return _new_email(config, pending.to_address, pending.subject, pending.key, pending.body_text)


def _digest(unit: list[_Pending], config: Mapping[str, Any]) -> EmailMessage:
    """One e-mail for several messages: their subjects first, then each message in full; in
    the language of the latest of them (the recipient's, when it was queued)."""
    keys = "\n".join(p.key for p in unit)
    with force_locale(unit[-1].language):
        subject = ngettext(
            "Reintegration Hub: %(num)d notification",
            "Reintegration Hub: %(num)d notifications",
            len(unit),
        )
        body = render_template("notifications/digest.txt", messages=unit)
    return _new_email(
        config,
        unit[0].to_address,
        subject,
        f"digest:{hashlib.sha256(keys.encode()).hexdigest()[:16]}",
        body,
    )


class SmtpSender:
    """Sends through one SMTP connection, opened on first use and again after it dropped."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSender:
        return cls(
            str(config["SMTP_HOST"]),
            int(config["SMTP_PORT"]),
            timeout=float(config["SMTP_TIMEOUT_SECONDS"]),
            username=config["SMTP_USERNAME"],
            password=config["SMTP_PASSWORD"],
            starttls=bool(config["SMTP_STARTTLS"]),
        )

    def __call__(self, email: EmailMessage) -> None:
        smtp = self._smtp or self._connect()
        try:
            smtp.send_message(email)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
            raise  # smtplib reset the session: the connection is still good
        except Exception:
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
            except BaseException:
                smtp.close()
                raise
        except OSError as exc:  # refused, timed out, TLS or log-in refused
            raise MailServerUnavailable(_error_text(exc)) from exc
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except OSError:
                smtp.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- recipients ------------------------------------------------------------------------------

#: Addresses a statement looks up at most (SQLite binds each one).
_ADDRESSES_PER_SELECT = 5000


def languages_of(addresses: Collection[str]) -> dict[str, str]:
    """The language each (lower-cased) address reads: its account's language; for the focal
    point of a partner without an account, the partner's contact language. Addresses with
    neither are left out (the outbox writes to them in English). Two statements per 5,000
    addresses."""
    wanted = sorted(addresses)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _ADDRESSES_PER_SELECT):
        chunk = wanted[start : start + _ADDRESSES_PER_SELECT]
        focal_point = sa.func.lower(Partner.focal_point_email)
        partners = db.session.execute(
            sa.select(focal_point, Partner.contact_language)
            .where(focal_point.in_(chunk), Partner.contact_language != "")
            .order_by(Partner.id.desc())  # several partners, one address: the oldest one's
        )
        found.update((address, language) for address, language in partners)
        accounts = db.session.execute(
            sa.select(User.email, User.preferred_language).where(User.email.in_(chunk))
        )
        found.update((address, language) for address, language in accounts)
    return found


def accounts_of(addresses: Collection[str]) -> dict[str, int]:
    """The active account of each (lower-cased) address that has one, by address: whom a
    message to the address is an in-app notice for. One statement per 5,000 addresses."""
    wanted = sorted(addresses)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _ADDRESSES_PER_SELECT):
        chunk = wanted[start : start + _ADDRESSES_PER_SELECT]
        found.update(
            (address, user_id)
            for address, user_id in db.session.execute(
                sa.select(User.email, User.id).where(User.email.in_(chunk), User.is_active)
            )
        )
    return found


# --- administration ---------------------------------------------------------------------------


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Only administrators manage e-mail delivery."))


def retry_failed(message_id: int, *, actor: Actor) -> OutboxMessage:
    """Queue a failed message again, due now, with a fresh count of attempts."""
    _require_admin(actor)
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(_l("No such message."))
    if message.status != OutboxStatus.FAILED:
        raise Conflict(_l("Only a failed message can be sent again."))
    changes = {"status": [message.status.value, "queued"], "attempts": [message.attempts, 0]}
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.QUEUED, 0, now_utc()
    record_audit("outbox.retry", message, actor=actor, changes=changes)
    return message


def failed_messages(*, actor: Actor, limit: int = 100) -> list[OutboxMessage]:
    """Messages that failed for good, the most recent first."""
    _require_admin(actor)
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.FAILED)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def recent_messages(*, actor: Actor, limit: int = 50) -> list[OutboxMessage]:
    """The messages queued most recently, whatever their status."""
    _require_admin(actor)
    return list(
        db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit))
    )


def count_by_status(*, actor: Actor) -> dict[OutboxStatus, int]:
    """How many messages are queued, sent and failed (every status, zero included)."""
    _require_admin(actor)
    rows = db.session.execute(
        sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
    ).all()
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in OutboxStatus}
