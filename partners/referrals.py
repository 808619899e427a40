"""Closed-loop referrals: one support option asked of its partner for one returnee.

A referral is ``sent`` to the partner's focal point with a signed link; the partner accepts or
declines it (with a coded reason) through the link or, signed in, from the referral inbox.
Unanswered, it expires after ``REFERRAL_EXPIRY_DAYS``. Declined, expired and withdrawn referrals
give their held place back; the origin case manager is told of declines and expiry, the partner
of withdrawals. ``sent -> accepted | declined | expired | withdrawn``,
``accepted -> delivered | withdrawn``. An approved plan amendment may change the quantity and
note of a sent or accepted referral (the partner is told). Declines and expiry are announced to
the rest of the application through ``partners.events``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import joinedload

from partners import events
from partners.capacity import OPEN_HOLD_STATUSES, promote_waitlist, release_hold
from partners.labels import DECLINE_REASON_LABELS
from partners.models import (
    DeclineReason,
    HoldStatus,
    OptionCapacity,
    PlaceHold,
    Referral,
    ReferralStatus,
    SupportOption,
    VettingStatus,
)
from reintegration_hub.core.audit import AuditEntry, record_audit
from reintegration_hub.core.authz import get_scoped, scoped, sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import app_path, message_key, public_url, queue_message
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role, SystemActor
from reintegration_hub.extensions import db

#: Who answers through the e-mailed link (no account): audited under this name.
LINK_ACTOR = SystemActor("referral-link")
#: Referrals still in play: a second send for their reference returns them.
ACTIVE_STATUSES = frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED})
LINK_SALT = "partners.referral-link"  # separates these signatures from other uses of the key
ANSWER_ENDPOINT = "partners.answer_referral"
#: Referrals expired per statement: bounds the parameter lists of the hold updates.
EXPIRY_BATCH = 500

_LIMITS = {
    "reference": 64,
    "case_number": 20,
    "first_name": 120,
    "note_for_partner": 1000,
    "vulnerability_note": 2000,
    "contact_name": 160,
    "contact_email": 254,
    "contact_phone": 40,
}
ANSWER_NOTE_MAX = 1000
#: What a referral tells of the person (beyond its pseudonymous case number): shown only to
#: readers the returnee's consent covers (``shows_person``), blanked by retention.
PERSONAL_FIELDS = ("first_name", "note_for_partner", "vulnerability_note", "answer_note")


@dataclass(frozen=True, kw_only=True)
class ReferralRequest:
    """What the partner is told, copied into the referral when it is sent."""

    option_id: int
    reference: str  # "plan-line:<id>"
    hold_id: int | None
    office_id: int  # origin office (scope of the case managers who follow it)
    case_number: str
    first_name: str
    quantity: int
    starts_on: dt.date | None
    note_for_partner: str
    vulnerability_note: str  # "" unless the consent in force shares it with partners
    contact_name: str
    contact_email: str  # origin case manager: shown to the partner, told of declines/expiry
    contact_phone: str
    # the consent in force: may the origin office, the partner read the personal fields?
    shared_with_office: bool
    shared_with_partner: bool


# --- reading ---------------------------------------------------------------------------------


def service_title(option: SupportOption) -> str:
    """The option's title in the partner's first language that has one, else English (else any
    text there is)."""
    by_language = {t.language: t.title for t in option.texts}
    for language in (*option.partner.languages, "en"):
        if language in by_language:
            return by_language[language]
    return next(iter(by_language.values()), "")


def is_overdue(referral: Referral, now: dt.datetime | None = None) -> bool:
    """Sent and past its expiry: it can no longer be answered, even before ``expire_referrals``
    has marked it expired."""
    return referral.status == ReferralStatus.SENT and referral.expires_at <= (now or now_utc())


def can_answer(referral: Referral, actor: Actor, now: dt.datetime | None = None) -> bool:
    """Whether ``actor`` may accept or decline ``referral`` now (to show the forms or not)."""
    return (
        referral.status == ReferralStatus.SENT
        and not is_overdue(referral, now)
        and actor.role in {None, Role.PARTNER}
    )


def shows_person(referral: Referral, actor: Actor) -> bool:
    """Whether ``actor`` may read the referral's ``PERSONAL_FIELDS`` under the returnee's
    consent in force: the partner's users and the e-mailed link need consent to share with
    partners, the origin office's case managers consent to share with that office; the home
    office and administrators see every case, and so every referral in full."""
    if actor.role in {None, Role.PARTNER}:
        return referral.shared_with_partner
    if actor.role == Role.CASE_MANAGER:
        return referral.shared_with_office
    return sees_all_offices(actor)


class LinkState(enum.StrEnum):
    """What the e-mailed link shows (``link_state``)."""

    PACKET = "packet"  # the referral's packet, and the answer forms while it waits
    STATUS = "status"  # how the referral ended; nothing of the person
    GONE = "gone"  # nothing at all


#: Referrals in play for the partner: their link shows the packet during the answer window.
PACKET_STATUSES = frozenset(
    {ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.DELIVERED}
)


def link_state(referral: Referral, now: dt.datetime | None = None) -> LinkState:
    """What the link shows of ``referral`` now. The packet while the answer window is open
    (until ``expires_at``) and the referral is in play; then, and at once when it was declined,
    withdrawn or expired, only how it ended, for ``REFERRAL_LINK_STATUS_DAYS`` after the window;
    after that nothing, ever: a forwarded or leaked link stops telling anything of the person."""
    now = now or now_utc()
    status_days = dt.timedelta(days=int(current_app.config["REFERRAL_LINK_STATUS_DAYS"]))
    if now >= referral.expires_at + status_days:
        return LinkState.GONE
    if now < referral.expires_at and referral.status in PACKET_STATUSES:
        return LinkState.PACKET
    return LinkState.STATUS


def _with_packet(stmt: sa.Select[tuple[Referral]]) -> sa.Select[tuple[Referral]]:
    return stmt.options(
        joinedload(Referral.partner),
        joinedload(Referral.option).selectinload(SupportOption.texts),
    )


def _visible(actor: Actor, status: ReferralStatus | None) -> sa.Select[Any]:
    stmt = scoped(sa.select(Referral), Referral, actor)
    return stmt if status is None else stmt.where(Referral.status == status)


def referrals_stmt(*, actor: Actor, status: ReferralStatus | None = None) -> sa.Select[Any]:
    """The referrals ``actor`` may see (partner users: their partners'; case managers: their
    office's; administrators and programme managers: all), newest first, with what a list shows
    loaded in a fixed number of queries."""
    return _with_packet(_visible(actor, status).order_by(Referral.id.desc()))


def partner_inbox(
    actor: Actor,
    status: ReferralStatus | None = None,
    *,
    page: int = 1,
    page_size: int = 25,
) -> Page[Referral]:
    """One page of the referrals ``actor`` may see and their total (see ``referrals_stmt``)."""
    return paginate(referrals_stmt(actor=actor, status=status), page=page, per_page=page_size)


def get_referral(referral_id: int, *, actor: Actor) -> Referral:
    """The referral if ``actor`` may see it; NotFound otherwise (missing or out of scope)."""
    referral: Referral = get_scoped(Referral, referral_id, actor)
    return referral


def record_view(referral: Referral, *, actor: Actor) -> None:
    """A read of the referral (its page, or the e-mailed link), audited (``referral.view``):
    the case's access log shows who looked at what was sent about the returnee."""
    record_audit("referral.view", referral, actor=actor, changes={})


# --- the signed link -------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def referral_token(referral: Referral) -> str:
    """The signed token of the referral's link. It never expires by itself: the referral's
    ``expires_at`` decides whether the link can still answer, and ``link_state`` what it
    shows."""
    return str(_serializer().dumps(str(referral.public_id)))


def referral_for_token(token: str) -> Referral:
    """The referral a link's token names; NotFound for a bad or tampered token (never why)."""
    invalid = NotFound(_l("This link is not valid."))
    try:
        public_id = uuid.UUID(str(_serializer().loads(token)))
    except (BadSignature, ValueError, TypeError):
        raise invalid from None
    referral = db.session.scalars(
        _with_packet(sa.select(Referral).where(Referral.public_id == public_id))
    ).first()
    if referral is None:
        raise invalid
    return referral


def referral_link(referral: Referral) -> str:
    """The absolute address of the referral's answer page, built without a request (flows send
    e-mails too): ``PUBLIC_BASE_URL`` followed by the page's path."""
    return public_url(ANSWER_ENDPOINT, token=referral_token(referral))


# --- sending ---------------------------------------------------------------------------------


def _validate_request(request: ReferralRequest) -> dict[str, str]:
    values = {
        name: str(getattr(request, name) or "").strip() for name in _LIMITS if name != "reference"
    }
    values["reference"] = request.reference.strip()
    errors: dict[str, list[Any]] = {}
    for name, limit in _LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = [_l("At most %(limit)d characters.", limit=limit)]
    for name in ("reference", "case_number", "first_name", "contact_email"):
        if not values[name]:
            errors.setdefault(name, []).append(_l("This is required."))
    if values["contact_email"] and "@" not in values["contact_email"]:
        errors.setdefault("contact_email", []).append(_l("Give a valid e-mail address."))
    if request.quantity < 1:
        errors["quantity"] = [_l("At least one.")]
    if errors:
        raise InvalidInput(_l("The referral is incomplete."), field_errors=errors)
    return values


def send_referral(request: ReferralRequest, *, actor: Actor) -> Referral:
    """Refer ``request.reference`` to the option's partner and e-mail its focal point the link.

    No scope check: the plan service that calls it has checked the plan's scope. Idempotent per
    reference: an open (sent or accepted) referral for it is returned, nothing new is written;
    Conflict when that referral asks another option. InvalidInput for a packet that does not
    fit, a hold of another option; Conflict when the partner is not approved.
    """
    values = _validate_request(request)
    existing = db.session.scalars(
        sa.select(Referral)
        .where(Referral.reference == values["reference"], Referral.status.in_(ACTIVE_STATUSES))
        .order_by(Referral.id.desc())
        .limit(1)
    ).first()
    if existing is not None:
        if existing.option_id != request.option_id:
            raise Conflict(_l("An open referral for this reference asks another support option."))
        return existing
    option = db.session.get(SupportOption, request.option_id)
    if option is None:
        raise NotFound(_l("Support option not found."))
    if option.partner.vetting_status != VettingStatus.APPROVED:
        raise Conflict(_l("The partner is not approved: no referral can be sent to it."))
    if request.hold_id is not None:
        hold = db.session.get(PlaceHold, request.hold_id)
        if hold is None or hold.option_id != option.id:
            message = _l("The place hold is not one of this support option.")
            raise InvalidInput(message, field_errors={"hold_id": [message]})
    now = now_utc()
    referral = Referral(
        **values,
        option_id=option.id,
        partner_id=option.partner_id,
        hold_id=request.hold_id,
        office_id=request.office_id,
        quantity=request.quantity,
        starts_on=request.starts_on,
        shared_with_office=request.shared_with_office,
        shared_with_partner=request.shared_with_partner,
        status=ReferralStatus.SENT,
        sent_at=now,
        expires_at=now + dt.timedelta(days=int(current_app.config["REFERRAL_EXPIRY_DAYS"])),
    )
    record_audit("referral.send", referral, actor=actor)
    queue_message(
        message_key("referral:{}:sent", referral.id),
        option.partner.focal_point_email,
        _l("New referral %(case_number)s: please answer", case_number=referral.case_number),
        "referral_sent.txt",
        app_link=app_path("partners.referral", referral_id=referral.id),
        referral=referral,
        partner_name=option.partner.name,
        service=service_title(option),
        link=referral_link(referral),
    )
    return referral


# --- answering -------------------------------------------------------------------------------


def _locked(referral_id: int) -> Referral:
    """The referral, read afresh and locked until the commit (PostgreSQL), so that an answer,
    a withdrawal and the expiry run never both change it (its hold would be released twice)."""
    referral = db.session.get(Referral, referral_id, with_for_update=True, populate_existing=True)
    if referral is None:
        raise NotFound(_l("Referral not found."))
    return referral


def _answerable(referral_id: int, actor: Actor) -> Referral:
    """The referral ``actor`` may answer now. The link (a system actor) answers the referral
    its token named; signed in, only members of the referral's partner answer."""
    if actor.role is not None:
        get_referral(referral_id, actor=actor)
    referral = _locked(referral_id)
    if actor.role not in {None, Role.PARTNER}:
        raise PermissionDenied(_l("Only the partner answers a referral."))
    if referral.status == ReferralStatus.EXPIRED or is_overdue(referral):
        raise Conflict(_l("This referral has expired: it can no longer be answered."))
    if referral.status == ReferralStatus.WITHDRAWN:
        raise Conflict(_l("This referral was withdrawn: it can no longer be answered."))
    if referral.status != ReferralStatus.SENT:
        raise Conflict(_l("This referral has been answered already."))
    return referral


def _clean_note(note: str, *, required: bool = False) -> str:
    note = (note or "").strip()
    if len(note) > ANSWER_NOTE_MAX:
        message = _l("At most %(limit)d characters.", limit=ANSWER_NOTE_MAX)
        raise InvalidInput(message, field_errors={"note": [message]})
    if required and not note:
        message = _l("Say why in the note when the reason is 'other'.")
        raise InvalidInput(message, field_errors={"note": [message]})
    return note


def _record_answer(referral: Referral, status: ReferralStatus, note: str, actor: Actor) -> None:
    referral.status = status
    referral.answer_note = note
    referral.answered_at = now_utc()
    referral.answered_by_id = actor.id


def accept_referral(referral_id: int, *, actor: Actor, note: str = "") -> Referral:
    """The partner takes the referral on: sent -> accepted; the held place stays held.

    Only a member of the referral's partner, or the link (``LINK_ACTOR``). NotFound out of
    scope, PermissionDenied for readers, Conflict once answered, withdrawn or past expiry.
    """
    referral = _answerable(referral_id, actor)
    _record_answer(referral, ReferralStatus.ACCEPTED, _clean_note(note), actor)
    record_audit("referral.accept", referral, actor=actor)
    return referral


def decline_referral(
    referral_id: int, reason: DeclineReason, *, actor: Actor, note: str = ""
) -> Referral:
    """The partner cannot take the referral: sent -> declined with a coded reason (``other``
    needs a note). Its held place is given back and the origin case manager is e-mailed once.
    Same access and conflicts as ``accept_referral``."""
    referral = _answerable(referral_id, actor)
    try:
        reason = DeclineReason(reason)
    except ValueError:
        message = _l("Choose a reason.")
        raise InvalidInput(message, field_errors={"reason": [message]}) from None
    cleaned = _clean_note(note, required=reason == DeclineReason.OTHER)
    _record_answer(referral, ReferralStatus.DECLINED, cleaned, actor)
    referral.decline_reason = reason
    record_audit("referral.decline", referral, actor=actor)
    _release_hold_of(referral, actor)
    _notify_case_manager(referral, "declined")
    events.referrals_closed.send(
        None, referral_ids=[referral.id], status=ReferralStatus.DECLINED, actor=actor
    )
    return referral


def withdraw_referral(referral_id: int, *, actor: Actor) -> Referral:
    """IOM no longer asks for it (the plan line was removed, the case closed): sent or
    accepted -> withdrawn; the held place is given back and the partner is e-mailed.

    No scope check: the plan or case service that calls it has checked its own scope.
    """
    referral = _locked(referral_id)
    if referral.status not in ACTIVE_STATUSES:
        raise Conflict(_l("Only a sent or accepted referral can be withdrawn."))
    referral.status = ReferralStatus.WITHDRAWN
    record_audit("referral.withdraw", referral, actor=actor)
    _release_hold_of(referral, actor)
    queue_message(
        message_key("referral:{}:withdrawn", referral.id),
        referral.partner.focal_point_email,
        _l("Referral %(case_number)s is withdrawn", case_number=referral.case_number),
        "referral_withdrawn.txt",
        app_link=app_path("partners.referral", referral_id=referral.id),
        referral=referral,
        partner_name=referral.partner.name,
        service=service_title(referral.option),
    )
    return referral


def record_consent(references: Iterable[str], *, office: bool, partner: bool, actor: Actor) -> int:
    """The returnee's new consent in force, on every referral made for ``references`` (the
    lines of their plan, whatever the referral's state): whether the origin office and the
    partner may read the personal fields from now on. The referrals stay, and their work. One
    UPDATE, an audit row per referral that changed; how many changed.

    No scope check: the case's consent service that calls it has checked the case's scope.
    """
    changing = db.session.execute(
        sa.select(
            Referral.id,
            Referral.office_id,
            Referral.shared_with_office,
            Referral.shared_with_partner,
        ).where(
            Referral.reference.in_(sorted(set(references))),
            sa.or_(Referral.shared_with_office != office, Referral.shared_with_partner != partner),
        )
    ).all()
    if not changing:
        return 0
    db.session.execute(
        sa.update(Referral)
        .where(Referral.id.in_([row.id for row in changing]))
        .values(shared_with_office=office, shared_with_partner=partner)
        .execution_options(synchronize_session="fetch")
    )
    before: dict[tuple[bool, bool], list[tuple[int, int]]] = defaultdict(list)
    for row in changing:
        before[row.shared_with_office, row.shared_with_partner].append((row.id, row.office_id))
    for (was_office, was_partner), referrals in sorted(before.items()):
        changes = {
            "shared_with_office": [was_office, office],
            "shared_with_partner": [was_partner, partner],
        }
        _audit_rows("referral.consent", "Referral", referrals, changes, actor)
    return len(changing)


def change_referral(
    referral_id: int, *, quantity: int, note_for_partner: str, actor: Actor
) -> Referral:
    """IOM changed what it asks (an approved plan amendment): the quantity and the note of a
    sent or accepted referral are replaced and the partner is e-mailed what changed (an
    accepted referral stays accepted; its held place is unchanged).

    No scope check: the plan service that calls it has checked its own scope. Conflict from
    any other status; InvalidInput for a quantity below one or an over-long note.
    """
    referral = _locked(referral_id)
    if referral.status not in ACTIVE_STATUSES:
        raise Conflict(_l("Only a sent or accepted referral can be changed."))
    note = (note_for_partner or "").strip()
    if quantity < 1 or len(note) > _LIMITS["note_for_partner"]:
        raise InvalidInput(_l("The referral is incomplete."))
    if (referral.quantity, referral.note_for_partner) == (quantity, note):
        return referral
    before = referral.quantity
    referral.quantity, referral.note_for_partner = quantity, note
    entry = record_audit("referral.change", referral, actor=actor)
    queue_message(
        message_key("referral:{}:changed:{}", referral.id, entry.id),
        referral.partner.focal_point_email,
        _l("Referral %(case_number)s is changed", case_number=referral.case_number),
        "referral_changed.txt",
        app_link=app_path("partners.referral", referral_id=referral.id),
        referral=referral,
        partner_name=referral.partner.name,
        service=service_title(referral.option),
        quantity_before=before,
    )
    return referral


def mark_referral_delivered(referral_id: int, *, actor: Actor) -> Referral:
    """The accepted referral's support was delivered: accepted -> delivered.

    No scope check: the delivery service that calls it has checked the plan line's scope.
    Conflict from any other status.
    """
    referral = _locked(referral_id)
    if referral.status != ReferralStatus.ACCEPTED:
        raise Conflict(_l("Only an accepted referral can be marked delivered."))
    referral.status = ReferralStatus.DELIVERED
    record_audit("referral.deliver", referral, actor=actor)
    return referral


def _release_hold_of(referral: Referral, actor: Actor) -> None:
    """Give the referral's place back if its hold still claims one (it may have been released
    by hand already: nothing to do then)."""
    if referral.hold_id is None:
        return
    hold = db.session.get(PlaceHold, referral.hold_id, with_for_update=True, populate_existing=True)
    if hold is not None and hold.status in OPEN_HOLD_STATUSES:
        release_hold(hold, actor=actor, office_id=referral.partner.office_id)


def _notify_case_manager(referral: Referral, event: str) -> None:
    subjects = {
        "declined": _l("Referral %(case_number)s was declined", case_number=referral.case_number),
        "expired": _l(
            "Referral %(case_number)s expired unanswered", case_number=referral.case_number
        ),
    }
    queue_message(
        message_key("referral:{}:" + event, referral.id),
        referral.contact_email,
        subjects[event],
        f"referral_{event}.txt",
        app_link=app_path("partners.referral", referral_id=referral.id),
        referral=referral,
        partner_name=referral.partner.name,
        service=service_title(referral.option),
        reason=DECLINE_REASON_LABELS.get(referral.decline_reason)
        if referral.decline_reason
        else "",
        # the partner's note may name the person: only with consent to share with the office
        note=referral.answer_note if referral.shared_with_office else "",
    )


# --- expiry ----------------------------------------------------------------------------------


def expire_referrals(now: dt.datetime | None = None, *, actor: Actor) -> int:
    """Mark every sent referral whose ``expires_at`` is at or before ``now`` expired, give their
    held places back and e-mail each origin case manager; the number expired.

    Set-based: one UPDATE per batch of referrals, one per batch of holds, one per capacity row
    whose count changes. Idempotent: a second run finds nothing to do; concurrent runs take
    disjoint batches, and a referral being answered right now is left for the next run.
    Needs an app context only.
    """
    now = now or now_utc()
    expired = 0
    while True:
        batch = (
            sa.select(Referral.id)
            .where(Referral.status == ReferralStatus.SENT, Referral.expires_at <= now)
            .order_by(Referral.id)
            .limit(EXPIRY_BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        ids = list(
            db.session.scalars(
                sa.update(Referral)
                .where(Referral.id.in_(batch), Referral.status == ReferralStatus.SENT)
                .values(status=ReferralStatus.EXPIRED)
                .returning(Referral.id)
                .execution_options(synchronize_session="fetch")
            )
        )
        if not ids:
            return expired
        expired += len(ids)
        referrals = db.session.scalars(
            _with_packet(sa.select(Referral).where(Referral.id.in_(ids)).order_by(Referral.id))
        ).all()
        _audit_rows(
            "referral.expire",
            "Referral",
            ((r.id, r.office_id) for r in referrals),
            {"status": [ReferralStatus.SENT.value, ReferralStatus.EXPIRED.value]},
            actor,
        )
        offices = {r.hold_id: r.partner.office_id for r in referrals if r.hold_id is not None}
        _release_holds(offices, actor)
        for referral in referrals:
            _notify_case_manager(referral, "expired")
        events.referrals_closed.send(
            None, referral_ids=ids, status=ReferralStatus.EXPIRED, actor=actor
        )


def _release_holds(offices: dict[int, int], actor: Actor) -> None:
    """Release the open holds among ``offices`` (hold id -> partner office, for the audit):
    one UPDATE per hold status, then one per capacity row that gives places back; the freed
    places go to the waitlists (``promote_waitlist``)."""
    if not offices:
        return
    now = now_utc()
    released: list[tuple[int, int | None, HoldStatus]] = []
    for status in (HoldStatus.HELD, HoldStatus.WAITLISTED):
        rows = db.session.execute(
            sa.update(PlaceHold)
            .where(PlaceHold.id.in_(list(offices)), PlaceHold.status == status)
            .values(status=HoldStatus.RELEASED, closed_at=now)
            .returning(PlaceHold.id, PlaceHold.capacity_id)
            .execution_options(synchronize_session="fetch")
        ).all()
        released += [(row.id, row.capacity_id, status) for row in rows]
    freed = Counter(cap for _id, cap, status in released if status == HoldStatus.HELD and cap)
    for capacity_id, places in sorted(freed.items()):
        changed = db.session.execute(
            sa.update(OptionCapacity)
            .where(OptionCapacity.id == capacity_id, OptionCapacity.places_held >= places)
            .values(places_held=OptionCapacity.places_held - places)
            .returning(OptionCapacity.id)
            .execution_options(synchronize_session="fetch")
        ).first()
        if changed is None:
            raise Conflict(_l("The place counts do not match; nothing was changed."))
    for status in (HoldStatus.HELD, HoldStatus.WAITLISTED):
        _audit_rows(
            "place.release",
            "PlaceHold",
            ((hold_id, offices[hold_id]) for hold_id, _cap, s in released if s == status),
            {"status": [status.value, HoldStatus.RELEASED.value], "closed_at": [None, now]},
            actor,
        )
    for capacity_id, places in sorted(freed.items()):
        promote_waitlist(capacity_id, places, actor=actor)


def _audit_rows(
    action: str,
    object_type: str,
    objects: Iterable[tuple[int, int]],
    changes: dict[str, list[Any]],
    actor: Actor,
) -> None:
    """One audit row per (object id, office id), written in one statement (what
    ``record_audit`` writes for a single object)."""
    plain = {
        name: [v.isoformat() if isinstance(v, dt.datetime) else v for v in pair]
        for name, pair in changes.items()
    }
    now = now_utc()
    rows = [
        {
            "at": now,
            "actor_id": actor.id,
            "actor_label": actor.audit_label,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "office_id": office_id,
            "changes": plain,
        }
        for object_id, office_id in objects
    ]
    if rows:
        db.session.execute(sa.insert(AuditEntry), rows)
