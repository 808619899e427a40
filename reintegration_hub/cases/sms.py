"""Text messages to returnees: their mobile number, their consent, their language, opting out.

A returnee is sent text messages only with a mobile number on the case (E.164, normalised by
``normalise_mobile``) and a consent in force that allows them (``Consent.sms_contact``). Each
message is an outbox row (``core.outbox``, channel ``sms``), queued by ``queue_returnee_sms``
(one message) or by the follow-up sweep through ``queue_milestone_sms`` (the reminders of the
milestones that involve the returnee, ``RETURNEE_MILESTONES``), and sent by the outbox's flow;
the consent is read again just before the send (``sms_permitted``).

Texts are written in the returnee's language: the first of ``Returnee.languages`` that the SMS
catalogues have (``SMS_LANGUAGES``: ``translations/<lang>/LC_MESSAGES/sms.po``, a catalogue
apart from the interface's, so that a language with SMS texts only, Georgian or Armenian, does
not become an interface language), else English. A text stays within ``MAX_SEGMENTS`` SMS.

Opting out: a reply that is only a stop word (``STOP`` and its usual English equivalents, and
the catalogues' translations of ``STOP``) through the gateway's webhook (``record_sms_reply``),
or the case's staff on the case page (``opt_out_sms``). Either is a new consent row with SMS off
(the history shows it), and the case's text messages not yet sent are withdrawn.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from functools import cache
from pathlib import Path

import phonenumbers
import sqlalchemy as sa
from babel.dates import format_date
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from flask_babel import lazy_gettext as _l

from reintegration_hub.cases.models import Consent, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, PermissionDenied
from reintegration_hub.core.outbox import (
    Channel,
    MessageKey,
    OutboxMessage,
    OutboxStatus,
    OutgoingMessage,
    message_key,
    queue_messages,
)
from reintegration_hub.core.roles import Actor, Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneKind
from reintegration_hub.notifications.sms import sms_segments

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
#: a text to a returnee takes at most this many SMS (UCS-2: 134 characters, GSM-7: 306)
MAX_SEGMENTS = 2
#: the roles that may stop a case's text messages from its page
OPT_OUT_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN})
#: replies that stop the messages in any language (those carriers and gateways know)
STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"}
)
#: the longest reply read (longer ones are never a stop word)
MAX_REPLY = 1600
#: who records a reply's opt-out in the audit trail
SMS_REPLY = SystemActor("sms-reply")


def sms_message(text: str) -> str:
    """Marks ``text`` for the SMS catalogues (``pybabel extract -k sms_message``)."""
    return text


#: the word that stops the messages, as each text tells it (translated: "СТОП")
STOP = sms_message("STOP")
#: the reminder of each milestone that involves the returnee, by its kind
MILESTONE_TEXTS: dict[MilestoneKind, str] = {
    MilestoneKind.FIRST_CONTACT: sms_message(
        "IOM: your case manager will call you by %(date)s about your reintegration support. "
        "Reply %(stop)s to stop SMS."
    ),
    MilestoneKind.MONITORING_VISIT: sms_message(
        "IOM: your follow-up visit is due by %(date)s; your case manager will contact you. "
        "Reply %(stop)s to stop SMS."
    ),
    MilestoneKind.SUSTAINABILITY_SURVEY: sms_message(
        "IOM: a short survey on your reintegration is due by %(date)s; your case manager will "
        "contact you. Reply %(stop)s to stop SMS."
    ),
}
RETURNEE_MILESTONES = tuple(MILESTONE_TEXTS)


# --- numbers ---------------------------------------------------------------------------------


class BadNumber(ValueError):
    """Not a mobile number that can be sent text messages."""


def normalise_mobile(text: str, region: str) -> str:
    """``text`` as an E.164 number (``"+995555123456"``), read with ``region`` (ISO 3166, the
    country of return) as the country of a number written without its country code; ``""``
    for an empty text. Raises ``BadNumber`` for a text that is no valid number there, or a
    fixed line."""
    text = text.strip()
    if not text:
        return ""
    if len(text) > 32 or not re.fullmatch(r"[0-9+()./\- ]+", text):
        raise BadNumber(text)
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(text) from exc
    if not phonenumbers.is_valid_number(number):
        raise BadNumber(text)
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        raise BadNumber(text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mobile_error(text: str, region: str) -> str | None:
    """The form's message for a number ``normalise_mobile`` refuses, else ``None``."""
    try:
        normalise_mobile(text, region)
    except BadNumber:
        return str(
            _l(
                "Not a mobile number: give it with its country code (+995 555 12 34 56) or as "
                "dialled in the country of return."
            )
        )
    return None


# --- texts -----------------------------------------------------------------------------------


@cache
def _catalogue(language: str) -> Catalog | None:
    path = TRANSLATIONS / language / "LC_MESSAGES" / "sms.po"
    if not path.is_file():
        return None
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=language)


@cache
def sms_languages() -> tuple[str, ...]:
    """English and every language with an SMS catalogue (``translations/*/LC_MESSAGES``)."""
    found = sorted(p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/sms.po"))
    return ("en", *found)


def sms_language(languages: Iterable[str]) -> str:
    """The first of ``languages`` (ISO 639-1) with SMS texts, else English."""
    return next((code for code in languages if code in sms_languages()), "en")


def translate(text: str, language: str) -> str:
    """``text`` (an ``sms_message``) in ``language``; English when it has no translation."""
    catalogue = _catalogue(language) if language != "en" else None
    found = catalogue.get(text) if catalogue is not None else None
    return str(found.string) if found is not None and found.string else text


def stop_word(language: str) -> str:
    return translate(STOP, language)


def milestone_text(kind: MilestoneKind, due_on: dt.date, language: str) -> str:
    """The reminder of a milestone of ``kind`` due on ``due_on``, in ``language``."""
    return translate(MILESTONE_TEXTS[kind], language) % {
        "date": format_date(due_on, format="short", locale=language),
        "stop": stop_word(language),
    }


def _fold(text: str) -> str:
    """Upper and lower case, accents, spaces and punctuation around a word folded away."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "", bare.casefold())


@cache
def _stop_words() -> frozenset[str]:
    return frozenset(STOP_WORDS | {_fold(stop_word(language)) for language in sms_languages()})


def is_stop_reply(text: str) -> bool:
    """Whether a reply asks to stop the messages: it is a stop word alone (``"Stop."``,
    ``"стоп"``, ``"STOP ALL"`` folded to ``stopall``)."""
    return len(text) <= MAX_REPLY and _fold(text) in _stop_words()


# --- consent ---------------------------------------------------------------------------------


def _reachable() -> sa.Select[tuple[int, str, list[str]]]:
    """The returnees who may be sent text messages now: their id, number and languages (the
    consent in force found per returnee through ``ix_consents_returnee_latest``)."""
    latest = (
        sa.select(sa.func.max(Consent.id))
        .where(Consent.returnee_id == Returnee.id)
        .correlate(Returnee)
        .scalar_subquery()
    )
    return (
        sa.select(Returnee.id, Returnee.mobile_number, Returnee.languages)
        .join(Consent, Consent.id == latest)
        .where(
            Returnee.mobile_number != "",
            Returnee.anonymised_at.is_(None),
            Consent.sms_contact.is_(True),
        )
    )


def sms_permitted(pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Of (returnee id, number) pairs, those whose returnee consents now to text messages on
    that very number (``core.outbox``'s check before a send)."""
    ids = sorted({returnee_id for returnee_id, _ in pairs})
    found = {
        (returnee_id, number)
        for returnee_id, number, _ in db.session.execute(
            _reachable().where(Returnee.id.in_(ids))
        ).tuples()
    }
    return found & set(pairs)


def queue_returnee_sms(
    returnee_id: int,
    *,
    key: MessageKey,
    text_for_language: Callable[[str], str],
    notice_id: int | None = None,
) -> bool:
    """Queue one text message to a returnee, once per ``key`` (``core.outbox.message_key``,
    e.g. ``message_key("sms:feedback:{}", delivery_id)``): ``text_for_language(language)``
    writes it in the language chosen for the returnee (``sms_language``; give the SMS
    catalogues' translations with ``translate``). ``False`` when nothing was queued: no
    number, no consent to SMS, the case anonymised, or the key queued before. Raises
    ``ValueError`` for a text longer than ``MAX_SEGMENTS`` SMS."""
    row = db.session.execute(_reachable().where(Returnee.id == returnee_id)).first()
    if row is None:
        return False
    language = sms_language(row.languages or [])
    text = text_for_language(language)
    _check_length(text)
    return bool(
        queue_messages([_message(key, row.id, row.mobile_number, text, language, notice_id)])
    )


def queue_milestone_sms(notices: Collection[tuple[int, int]]) -> int:
    """For each new reminder (notice id, milestone id) of a milestone that involves the
    returnee (``RETURNEE_MILESTONES``), a text message to the returnee who consents to them
    (the sweep's call, set-based); how many were queued. The key is per milestone: a
    milestone moved and reminded again is texted once."""
    notice_of = {milestone_id: notice_id for notice_id, milestone_id in notices}
    if not notice_of:
        return 0
    reachable = _reachable().subquery()
    rows = db.session.execute(
        sa.select(
            Milestone.id,
            Milestone.kind,
            Milestone.due_on,
            reachable.c.id.label("returnee_id"),
            reachable.c.mobile_number,
            reachable.c.languages,
        )
        .join(reachable, reachable.c.id == Milestone.returnee_id)
        .where(Milestone.id.in_(sorted(notice_of)), Milestone.kind.in_(RETURNEE_MILESTONES))
    ).all()
    messages = []
    for row in rows:
        language = sms_language(row.languages or [])
        messages.append(
            _message(
                message_key("sms:milestone:{}", row.id),
                row.returnee_id,
                row.mobile_number,
                milestone_text(row.kind, row.due_on, language),
                language,
                notice_of[row.id],
            )
        )
    return queue_messages(messages) if messages else 0


def _message(
    key: MessageKey, returnee_id: int, number: str, text: str, language: str, notice: int | None
) -> OutgoingMessage:
    return OutgoingMessage(
        key,
        number,
        "",
        text,
        language,
        notice_id=notice,
        channel=Channel.SMS,
        returnee_id=returnee_id,
    )


def _check_length(text: str) -> None:
    if sms_segments(text).count > MAX_SEGMENTS:
        raise ValueError(f"a text message takes at most {MAX_SEGMENTS} SMS")


# --- opting out ------------------------------------------------------------------------------


def opt_out_sms(case_id: int, *, actor: Actor) -> Consent:
    """Stop a case's text messages (the returnee asked the case's staff): a new consent row
    with SMS off, the sharing as before; the messages not yet sent are withdrawn. Raises
    ``Conflict`` when the consent in force already has SMS off."""
    if actor.role not in OPT_OUT_ROLES:
        raise PermissionDenied(_l("Your role cannot change the case's text messages."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    current = case.consent
    if current is None or not current.sms_contact:
        raise Conflict(_l("The returnee is not sent text messages."))
    return _opt_out(case, current, actor=actor, source="case_page")


def record_sms_reply(from_number: str, text: str) -> int:
    """A reply from ``from_number``: a stop word opts out every case with that number that is
    sent text messages (how many); any other reply, or an unknown number, records nothing."""
    if not is_stop_reply(text):
        return 0
    try:
        number = normalise_mobile(from_number, "")
    except BadNumber:
        return 0
    ids = list(db.session.scalars(sa.select(Returnee.id).where(Returnee.mobile_number == number)))
    reachable = {returnee_id for returnee_id, _ in sms_permitted([(i, number) for i in ids])}
    for case in db.session.scalars(
        sa.select(Returnee).where(Returnee.id.in_(sorted(reachable))).order_by(Returnee.id)
    ):
        current = case.consent
        assert current is not None  # reachable: its consent allows SMS
        _opt_out(case, current, actor=SMS_REPLY, source="reply")
    return len(reachable)


def _opt_out(case: Returnee, current: Consent, *, actor: Actor, source: str) -> Consent:
    row = Consent(
        returnee=case,
        share_with_origin_office=current.share_with_origin_office,
        share_with_partners=current.share_with_partners,
        sms_contact=False,
        given_on=now_utc().date(),
        recorded_by_id=actor.id,
    )
    record_audit(
        "case.sms_opt_out",
        row,
        actor=actor,
        office_id=case.host_office_id,
        changes={
            "returnee_id": [None, case.id],
            "sms_contact": [True, False],
            "by": [None, source],
        },
    )
    withdraw_sms([case.id])
    return row


def withdraw_sms(case_ids: Collection[int]) -> int:
    """Withdraw the queued text messages of these cases (they are never sent); how many."""
    if not case_ids:
        return 0
    result = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.returnee_id.in_(sorted(case_ids)),
            OutboxMessage.channel == Channel.SMS,
            OutboxMessage.status == OutboxStatus.QUEUED,
        )
        .values(status=OutboxStatus.WITHDRAWN, last_error="no consent to SMS any more")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
