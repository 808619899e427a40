"""Marketplace rules: partners, support options, freshness and capacity.

Who may change what: administrators everything; origin-office case managers the partners and
options of their own country; everyone else only reads (``visible_to`` on the models decides what).
System actors (flows, CLI, demo) act everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from partners import events
from partners.labels import STATUS_LABELS
from partners.models import (
    MAX_PAYMENT_MONTHS,
    CapacityPeriod,
    CostBasis,
    DeliveryMode,
    HoldStatus,
    OptionCapacity,
    OptionStatus,
    Partner,
    PartnerPerformance,
    PaymentSchedule,
    PlaceHold,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
    VettingStatus,
    listing_fresh_since,
)
from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.authz import scoped, sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.i18n import currency_codes, language_codes
from reintegration_hub.core.money import eur_per_unit, to_eur_minor
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.core.sql import insert_ignore
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory
from reintegration_hub.extensions import db

#: Roles that maintain partners and options (case managers only in their own country).
MANAGING_ROLES = frozenset({Role.ADMIN, Role.CASE_MANAGER})

#: Which status an option may move to from each status. Archived is final.
STATUS_TRANSITIONS: dict[OptionStatus, frozenset[OptionStatus]] = {
    OptionStatus.DRAFT: frozenset({OptionStatus.PUBLISHED, OptionStatus.ARCHIVED}),
    OptionStatus.PUBLISHED: frozenset(
        {OptionStatus.TEMPORARILY_CLOSED, OptionStatus.DRAFT, OptionStatus.ARCHIVED}
    ),
    OptionStatus.TEMPORARILY_CLOSED: frozenset(
        {OptionStatus.PUBLISHED, OptionStatus.DRAFT, OptionStatus.ARCHIVED}
    ),
    OptionStatus.ARCHIVED: frozenset(),
}

#: Holds that still claim a place or a waitlist position.
OPEN_HOLD_STATUSES = frozenset({HoldStatus.HELD, HoldStatus.WAITLISTED})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_offices = sa.table(
    "offices", sa.column("id"), sa.column("kind"), sa.column("country_code"), sa.column("name")
)


# --- access ---------------------------------------------------------------------------------


def _is_system(actor: Actor) -> bool:
    return actor.role is None


def _sees_everything(actor: Actor) -> bool:
    return _is_system(actor) or sees_all_offices(actor)


def _check_manager(actor: Actor) -> None:
    if not _is_system(actor) and actor.role not in MANAGING_ROLES:
        raise PermissionDenied(
            _l("Only case managers and administrators maintain the marketplace.")
        )


def _visible(stmt: sa.Select[Any], model: Any, actor: Actor) -> sa.Select[Any]:
    return stmt if _is_system(actor) else scoped(stmt, model, actor)


def get_partner(partner_id: int, *, actor: Actor) -> Partner:
    """The partner if ``actor`` may see it; ``NotFound`` otherwise (never says which)."""
    stmt = _visible(sa.select(Partner).where(Partner.id == partner_id), Partner, actor)
    partner = db.session.scalars(stmt).one_or_none()
    if partner is None:
        raise NotFound(_l("Partner not found."))
    return partner


def partner_performance(partner_id: int) -> PartnerPerformance | None:
    """The partner's figures of the last monitoring refresh (of a partner the caller may see);
    None before the first refresh."""
    return db.session.get(PartnerPerformance, partner_id)


def partners_performance(partner_ids: Iterable[int]) -> dict[int, PartnerPerformance]:
    """The figures of the last monitoring refresh of these partners (one statement), by id."""
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(PartnerPerformance).where(PartnerPerformance.partner_id.in_(ids))
    )
    return {row.partner_id: row for row in rows}


def get_option(option_id: int, *, actor: Actor) -> SupportOption:
    """The option if ``actor`` may see it; ``NotFound`` otherwise (never says which)."""
    stmt = _visible(
        sa.select(SupportOption).where(SupportOption.id == option_id), SupportOption, actor
    )
    option = db.session.scalars(stmt).unique().one_or_none()
    if option is None:
        raise NotFound(_l("Support option not found."))
    return option


def _managed_partner(partner_id: int, actor: Actor) -> Partner:
    partner = get_partner(partner_id, actor=actor)
    _check_manager(actor)
    return partner


def _managed_option(option_id: int, actor: Actor) -> SupportOption:
    option = get_option(option_id, actor=actor)
    _check_manager(actor)
    return option


def can_manage(obj: Partner | SupportOption, actor: Actor) -> bool:
    """Whether ``actor`` may change ``obj`` (pages use it to show edit buttons)."""
    if _is_system(actor) or actor.role == Role.ADMIN:
        return True
    return actor.role == Role.CASE_MANAGER and obj.country_code == actor.country_code


def partners_stmt(
    *, actor: Actor, vetting_status: VettingStatus | None = None, country_code: str | None = None
) -> sa.Select[Any]:
    """The partners ``actor`` may see, by country and name (pages and the API paginate it)."""
    stmt = _visible(sa.select(Partner), Partner, actor)
    if vetting_status is not None:
        stmt = stmt.where(Partner.vetting_status == vetting_status)
    if country_code:
        stmt = stmt.where(Partner.country_code == country_code.upper())
    return stmt.order_by(Partner.country_code, Partner.name, Partner.id)


def list_partners(
    *, actor: Actor, vetting_status: VettingStatus | None = None, country_code: str | None = None
) -> Sequence[Partner]:
    stmt = partners_stmt(actor=actor, vetting_status=vetting_status, country_code=country_code)
    return db.session.scalars(stmt).all()


def options_stmt(*, actor: Actor, partner_id: int | None = None) -> sa.Select[Any]:
    """The options ``actor`` may see, newest first (pages and the API paginate it)."""
    stmt = _visible(sa.select(SupportOption), SupportOption, actor)
    if partner_id is not None:
        stmt = stmt.where(SupportOption.partner_id == partner_id)
    return stmt.order_by(SupportOption.id.desc())


def list_options(*, actor: Actor, partner_id: int | None = None) -> Sequence[SupportOption]:
    """The options with their texts and locations loaded (two extra queries, not one per row)."""
    stmt = options_stmt(actor=actor, partner_id=partner_id).options(
        selectinload(SupportOption.texts), selectinload(SupportOption.locations)
    )
    return db.session.scalars(stmt).unique().all()


def count_options(partner_ids: Sequence[int], *, actor: Actor) -> dict[int, int]:
    """How many options ``actor`` may see per partner, in one grouped query."""
    if not partner_ids:
        return {}
    stmt = (
        _visible(sa.select(SupportOption.partner_id, sa.func.count()), SupportOption, actor)
        .where(SupportOption.partner_id.in_(partner_ids))
        .group_by(SupportOption.partner_id)
    )
    return {partner_id: count for partner_id, count in db.session.execute(stmt).all()}


def listed_for(actor: Actor, as_of: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """The options a marketplace search shows ``actor`` at ``as_of`` (a SQL condition).

    Counsellors (and anyone else who does not maintain options) see only listed options:
    published, within their validity dates, from an approved partner with a valid agreement,
    and verified within ``LISTING_STALE_DAYS`` + ``LISTING_STALE_GRACE_DAYS``. Case managers and
    partners see their own country's published options, stale or not (they must re-verify them);
    administrators, programme managers and system actors every published option.
    """
    as_of = as_of or now_utc()
    if actor.role == Role.COUNSELLOR:
        return SupportOption.listed_condition(as_of.date(), listing_fresh_since(as_of))
    published = SupportOption.status == OptionStatus.PUBLISHED
    if actor.role in {Role.CASE_MANAGER, Role.PARTNER}:
        return sa.and_(published, SupportOption.country_code == actor.country_code)
    return published


# --- validation helpers ---------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[Any]] = {}

    def add(self, name: str, message: Any) -> None:
        self.fields.setdefault(name, []).append(message)

    def raise_if_any(self, message: Any) -> None:
        if self.fields:
            raise InvalidInput(message, field_errors=self.fields)


def _clean_list(values: Iterable[str] | None) -> list[str]:
    seen: list[str] = []
    for value in values or ():
        value = str(value).strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def _check_codes(
    errors: _Errors, name: str, values: Sequence[str], allowed: Iterable[str], label: Any
) -> None:
    unknown = [v for v in values if v not in set(allowed)]
    if unknown:
        errors.add(name, _l("%(what)s not known: %(codes)s.", what=label, codes=", ".join(unknown)))


# --- partners -------------------------------------------------------------------------------


@dataclass
class PartnerInput:
    name: str
    focal_point_email: str
    legal_status: str = ""
    description: str = ""
    regions: Sequence[str] = ()
    languages: Sequence[str] = ()
    contact_language: str = ""  # of e-mails to a focal point without an account
    focal_point_name: str = ""
    phone: str = ""
    website: str = ""
    agreement_number: str = ""
    agreement_valid_from: dt.date | None = None
    agreement_valid_until: dt.date | None = None


def _validate_partner(data: PartnerInput, office_id: int, partner_id: int | None) -> None:
    errors = _Errors()
    if not data.name.strip():
        errors.add("name", _l("Give the organisation's name."))
    if not _EMAIL.match(data.focal_point_email.strip()):
        errors.add("focal_point_email", _l("Give the e-mail address referrals go to."))
    _check_codes(
        errors, "languages", _clean_list(data.languages), language_codes(), _l("Languages")
    )
    contact_language = data.contact_language.strip().lower()
    if contact_language and contact_language not in language_codes():
        errors.add("contact_language", _l("Choose a language by its ISO 639-1 code."))
    if (
        data.agreement_valid_from
        and data.agreement_valid_until
        and data.agreement_valid_until < data.agreement_valid_from
    ):
        errors.add("agreement_valid_until", _l("The agreement cannot end before it starts."))
    duplicate = sa.select(Partner.id).where(
        Partner.office_id == office_id, sa.func.lower(Partner.name) == data.name.strip().lower()
    )
    if partner_id is not None:
        duplicate = duplicate.where(Partner.id != partner_id)
    errors.raise_if_any(_l("Some partner details are not valid."))
    if db.session.scalar(duplicate) is not None:
        message = _l("This office already has a partner with this name.")
        raise Conflict(message, field_errors={"name": [message]})


def _apply_partner(partner: Partner, data: PartnerInput) -> None:
    partner.name = data.name.strip()
    partner.legal_status = data.legal_status.strip()
    partner.description = data.description.strip()
    partner.regions = _clean_list(data.regions)
    partner.languages = _clean_list(data.languages)
    partner.contact_language = data.contact_language.strip().lower()
    partner.focal_point_name = data.focal_point_name.strip()
    partner.focal_point_email = data.focal_point_email.strip().lower()
    partner.phone = data.phone.strip()
    partner.website = data.website.strip()
    partner.agreement_number = data.agreement_number.strip()
    partner.agreement_valid_from = data.agreement_valid_from
    partner.agreement_valid_until = data.agreement_valid_until


def origin_offices() -> list[tuple[int, str]]:
    """``(id, name)`` of the offices in countries of return, by name (to choose from)."""
    rows = db.session.execute(
        sa.select(_offices.c.id, _offices.c.name)
        .where(_offices.c.kind == OfficeKind.ORIGIN.value)
        .order_by(_offices.c.name)
    )
    return [(int(row.id), str(row.name)) for row in rows]


def _origin_office(office_id: int | None, actor: Actor) -> tuple[int, str]:
    """The origin office a new partner belongs to: the case manager's own, or the one chosen."""
    if actor.role == Role.CASE_MANAGER and (office_id is None or office_id == actor.office_id):
        office_id = actor.office_id
    if office_id is None:
        message = _l("Choose the office of the country the partner works in.")
        raise InvalidInput(message, field_errors={"office_id": [message]})
    row = db.session.execute(
        sa.select(_offices.c.kind, _offices.c.country_code).where(_offices.c.id == office_id)
    ).one_or_none()
    if row is None or row.kind != OfficeKind.ORIGIN.value:
        message = _l("Partners belong to an office in a country of return.")
        raise InvalidInput(message, field_errors={"office_id": [message]})
    if actor.role == Role.CASE_MANAGER and row.country_code != actor.country_code:
        message = _l("You maintain partners of your own country only.")
        raise InvalidInput(message, field_errors={"office_id": [message]})
    return office_id, str(row.country_code)


def create_partner(data: PartnerInput, *, office_id: int | None = None, actor: Actor) -> Partner:
    """A new partner, pending vetting, of ``office_id`` (case managers: their own office)."""
    _check_manager(actor)
    office_id, country_code = _origin_office(office_id, actor)
    _validate_partner(data, office_id, None)
    partner = Partner(
        office_id=office_id, country_code=country_code, vetting_status=VettingStatus.PENDING
    )
    _apply_partner(partner, data)
    record_audit("partner.create", partner, actor=actor)
    return partner


def update_partner(partner_id: int, data: PartnerInput, *, actor: Actor) -> Partner:
    partner = _managed_partner(partner_id, actor)
    _validate_partner(data, partner.office_id, partner.id)
    _apply_partner(partner, data)
    record_audit("partner.update", partner, actor=actor)
    return partner


def set_vetting_status(
    partner_id: int, status: VettingStatus, *, reason: str = "", actor: Actor
) -> Partner:
    """Approve, suspend (a reason is required) or return a partner to pending.

    Suspending (or returning to pending) closes every published option of the partner
    (``temporarily_closed``), each audited. Approving again reopens nothing: a case manager
    checks and republishes the options one by one.
    """
    partner = _managed_partner(partner_id, actor)
    reason = reason.strip()
    if status == VettingStatus.SUSPENDED and not reason:
        message = _l("Say why the partner is suspended.")
        raise InvalidInput(message, field_errors={"reason": [message]})
    partner.vetting_status = status
    partner.suspension_reason = reason if status == VettingStatus.SUSPENDED else ""
    record_audit(f"partner.{status.value}", partner, actor=actor)
    if status != VettingStatus.APPROVED:
        for option in partner.options:
            if option.status == OptionStatus.PUBLISHED:
                option.status = OptionStatus.TEMPORARILY_CLOSED
                record_audit("option.closed_with_partner", option, actor=actor)
    return partner


# --- support options ------------------------------------------------------------------------


@dataclass
class TextInput:
    language: str
    title: str
    description: str = ""


@dataclass
class LocationInput:
    city: str
    region: str = ""
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass
class OptionInput:
    category: SupportCategory
    texts: Sequence[TextInput]
    locations: Sequence[LocationInput] = ()
    service_area: Sequence[str] = ()
    min_age: int | None = None
    max_age: int | None = None
    sexes: Sequence[str] = ()
    vulnerabilities_served: Sequence[str] = ()
    vulnerabilities_required: Sequence[str] = ()
    min_family_size: int | None = None
    max_family_size: int | None = None
    languages_required: Sequence[str] = ()
    eligibility_notes: str = ""
    cost_minor: int = 0
    currency: str = "EUR"
    cost_basis: CostBasis = CostBasis.PER_PERSON
    delivery_mode: DeliveryMode = DeliveryMode.SERVICE
    duration_days: int | None = None
    lead_time_days: int = 0
    delivery_languages: Sequence[str] = ()
    required_documents: Sequence[str] = ()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    capacity_places: int | None = None
    capacity_period: CapacityPeriod = CapacityPeriod.MONTH
    payment_schedule: PaymentSchedule = PaymentSchedule.ONE_OFF
    payment_months: int | None = None  # monthly: how many months (None: per month planned)

    #: the scalar fields copied onto the model as they are
    SCALARS = (
        "category",
        "min_age",
        "max_age",
        "min_family_size",
        "max_family_size",
        "cost_minor",
        "cost_basis",
        "delivery_mode",
        "duration_days",
        "lead_time_days",
        "valid_from",
        "valid_until",
        "capacity_places",
        "capacity_period",
        "payment_schedule",
        "payment_months",
    )
    LISTS = (
        "service_area",
        "sexes",
        "vulnerabilities_served",
        "vulnerabilities_required",
        "languages_required",
        "delivery_languages",
        "required_documents",
    )


def validate_option(data: OptionInput) -> None:
    """``InvalidInput`` naming every field of ``data`` that breaks a rule (no database)."""
    errors = _Errors()
    texts = [t for t in data.texts if t.title.strip() or t.description.strip()]
    languages = [t.language for t in texts]
    if not texts:
        errors.add("texts", _l("Give a title in at least one language."))
    if len(set(languages)) != len(languages):
        errors.add("texts", _l("Give one text per language."))
    _check_codes(errors, "texts", languages, language_codes(), _l("Languages"))
    if any(not t.title.strip() for t in texts):
        errors.add("texts", _l("Every text needs a title."))
    for location in data.locations:
        if not location.city.strip():
            errors.add("locations", _l("Every location needs a city."))
        if (location.latitude is None) != (location.longitude is None):
            errors.add("locations", _l("Give both coordinates or neither."))
        if location.latitude is not None and not -90 <= location.latitude <= 90:
            errors.add("locations", _l("Latitude is between -90 and 90."))
        if location.longitude is not None and not -180 <= location.longitude <= 180:
            errors.add("locations", _l("Longitude is between -180 and 180."))
    for low, high, name in (
        ("min_age", "max_age", "max_age"),
        ("min_family_size", "max_family_size", "max_family_size"),
    ):
        lo, hi = getattr(data, low), getattr(data, high)
        for value_name, value in ((low, lo), (high, hi)):
            if value is not None and value < 0:
                errors.add(value_name, _l("Cannot be negative."))
        if lo is not None and hi is not None and hi < lo:
            errors.add(name, _l("The upper limit is below the lower one."))
    if data.min_family_size is not None and data.min_family_size < 1:
        errors.add("min_family_size", _l("A family has at least one person."))
    _check_codes(errors, "sexes", _clean_list(data.sexes), [s.value for s in Sex], _l("Sexes"))
    vulnerabilities = [v.value for v in VulnerabilityCategory]
    for name in ("vulnerabilities_served", "vulnerabilities_required"):
        _check_codes(
            errors, name, _clean_list(getattr(data, name)), vulnerabilities, _l("Categories")
        )
    for name in ("languages_required", "delivery_languages"):
        _check_codes(
            errors, name, _clean_list(getattr(data, name)), language_codes(), _l("Languages")
        )
    if data.currency.upper() not in currency_codes():
        errors.add("currency", _l("Not an ISO 4217 currency code."))
    if data.cost_minor < 0:
        errors.add("cost_minor", _l("Cannot be negative."))
    for name in ("duration_days", "lead_time_days", "capacity_places"):
        value = getattr(data, name)
        if value is not None and value < 0:
            errors.add(name, _l("Cannot be negative."))
    if data.valid_from and data.valid_until and data.valid_until < data.valid_from:
        errors.add("valid_until", _l("The end is before the start."))
    _check_payment(data, errors)
    errors.raise_if_any(_l("Some details of the support option are not valid."))


def _check_payment(data: OptionInput, errors: _Errors) -> None:
    """Paid at once: no number of months. Monthly: for 2 to ``MAX_PAYMENT_MONTHS`` months, or
    (a per-month cost) none, one instalment for each month a plan line asks for."""
    months = data.payment_months
    if data.payment_schedule != PaymentSchedule.MONTHLY:
        if months is not None:
            errors.add("payment_months", _l("Only an option paid monthly has months."))
    elif months is None:
        if data.cost_basis != CostBasis.PER_MONTH:
            errors.add("payment_months", _l("Give the number of monthly payments."))
    elif not 2 <= months <= MAX_PAYMENT_MONTHS:
        errors.add(
            "payment_months",
            _l("Give from 2 to %(max)d monthly payments.", max=MAX_PAYMENT_MONTHS),
        )


def _texts_snapshot(option: SupportOption) -> list[dict[str, str]]:
    return [
        {"language": t.language, "title": t.title, "description": t.description}
        for t in option.texts
    ]


def _locations_snapshot(option: SupportOption) -> list[dict[str, Any]]:
    return [
        {
            "city": loc.city,
            "region": loc.region,
            "address": loc.address,
            "latitude": None if loc.latitude is None else str(loc.latitude),
            "longitude": None if loc.longitude is None else str(loc.longitude),
        }
        for loc in option.locations
    ]


def _apply_option(option: SupportOption, data: OptionInput, today: dt.date) -> None:
    rate = eur_per_unit(data.currency.upper(), today)  # before any change: the query autoflushes
    for name in OptionInput.SCALARS:
        setattr(option, name, getattr(data, name))
    for name in OptionInput.LISTS:
        setattr(option, name, _clean_list(getattr(data, name)))
    option.eligibility_notes = data.eligibility_notes.strip()
    option.currency = data.currency.upper()
    option.eur_rate = rate
    option.cost_eur_minor = to_eur_minor(option.cost_minor, option.currency, rate)
    wanted = {t.language: t for t in data.texts if t.title.strip()}
    for text in list(option.texts):
        if text.language not in wanted:
            option.texts.remove(text)
    existing = {t.language: t for t in option.texts}
    for language, text_input in wanted.items():
        row = existing.get(language)
        if row is None:
            row = SupportOptionText(language=language)
            option.texts.append(row)
        row.title = text_input.title.strip()
        row.description = text_input.description.strip()
    new_locations = [
        {
            "city": loc.city.strip(),
            "region": loc.region.strip(),
            "address": loc.address.strip(),
            "latitude": loc.latitude,
            "longitude": loc.longitude,
        }
        for loc in data.locations
    ]
    current = [
        {k: getattr(loc, k) for k in ("city", "region", "address", "latitude", "longitude")}
        for loc in option.locations
    ]
    if current != new_locations:
        option.locations.clear()
        option.locations.extend(SupportOptionLocation(**loc) for loc in new_locations)


def _record_option_audit(
    action: str,
    option: SupportOption,
    actor: Actor,
    texts_before: list[dict[str, str]],
    locations_before: list[dict[str, Any]],
) -> None:
    changes: dict[str, Any] = pending_changes(option)
    texts_after, locations_after = _texts_snapshot(option), _locations_snapshot(option)
    if texts_after != texts_before:
        changes["texts"] = [texts_before or None, texts_after]
    if locations_after != locations_before:
        changes["locations"] = [locations_before or None, locations_after]
    record_audit(action, option, actor=actor, changes=changes)


def _check_publishable(option: SupportOption, partner: Partner, today: dt.date) -> None:
    """Only approved partners with a valid agreement have published options, titled in English."""
    if partner.vetting_status != VettingStatus.APPROVED:
        raise Conflict(_l("Only options of approved partners can be published."))
    if not partner.agreement_valid_on(today):
        raise Conflict(_l("The partner has no framework agreement valid today."))
    if not any(t.language == "en" and t.title.strip() for t in option.texts):
        message = _l("Give an English title before publishing.")
        raise Conflict(message, field_errors={"texts": [message]})
    if option.valid_until is not None and option.valid_until < today:
        message = _l("The option's validity has ended.")
        raise Conflict(message, field_errors={"valid_until": [message]})


def create_option(
    partner_id: int,
    data: OptionInput,
    *,
    status: OptionStatus = OptionStatus.DRAFT,
    actor: Actor,
    today: dt.date | None = None,
) -> SupportOption:
    """A new option of the partner, a draft unless ``status`` says published (rules checked)."""
    partner = _managed_partner(partner_id, actor)
    today = today or now_utc().date()
    validate_option(data)
    with db.session.no_autoflush:
        option = SupportOption(
            partner_id=partner.id,
            partner=partner,
            country_code=partner.country_code,
            status=OptionStatus.DRAFT,
            texts=[],
            locations=[],
        )
        _apply_option(option, data, today)
        if status != OptionStatus.DRAFT:
            _check_transition(option, partner, status, today)
            option.status = status
        if status == OptionStatus.PUBLISHED:
            _mark_verified(option, actor)
        _record_option_audit("option.create", option, actor, [], [])
    return option


def update_option(
    option_id: int, data: OptionInput, *, actor: Actor, today: dt.date | None = None
) -> SupportOption:
    """Replace the option's details, texts and locations; audited with before and after."""
    option = _managed_option(option_id, actor)
    today = today or now_utc().date()
    if option.status == OptionStatus.ARCHIVED:
        raise Conflict(_l("An archived option cannot be changed."))
    validate_option(data)
    texts_before, locations_before = _texts_snapshot(option), _locations_snapshot(option)
    with db.session.no_autoflush:
        _apply_option(option, data, today)
        if option.status == OptionStatus.PUBLISHED:
            _check_publishable(option, option.partner, today)
        _record_option_audit("option.update", option, actor, texts_before, locations_before)
    _resize_open_periods(option, today, actor=actor)
    return option


def _check_transition(
    option: SupportOption, partner: Partner, status: OptionStatus, today: dt.date
) -> None:
    if status not in STATUS_TRANSITIONS[option.status]:
        raise Conflict(
            _l(
                "An option cannot go from %(old)s to %(new)s.",
                old=STATUS_LABELS[option.status],
                new=STATUS_LABELS[status],
            )
        )
    if status == OptionStatus.PUBLISHED:
        _check_publishable(option, partner, today)


def set_option_status(
    option_id: int, status: OptionStatus, *, actor: Actor, today: dt.date | None = None
) -> SupportOption:
    """Publish, close for a while, return to draft or archive (``STATUS_TRANSITIONS``).

    Publishing checks the partner is approved with a valid agreement and the option has an
    English title, and counts as a verification.
    """
    option = _managed_option(option_id, actor)
    today = today or now_utc().date()
    _check_transition(option, option.partner, status, today)
    option.status = status
    if status == OptionStatus.PUBLISHED:
        _mark_verified(option, actor)
    record_audit(f"option.{status.value}", option, actor=actor)
    return option


# --- freshness ------------------------------------------------------------------------------


def _mark_verified(option: SupportOption, actor: Actor) -> None:
    option.last_verified_at = now_utc()
    option.verified_by_id = actor.id
    option.stale_since = None


def verify_option(option_id: int, *, actor: Actor) -> SupportOption:
    """Record that ``actor`` checked the option's details today (HSDS assured_date/assurer)."""
    option = _managed_option(option_id, actor)
    if option.status == OptionStatus.ARCHIVED:
        raise Conflict(_l("An archived option cannot be verified."))
    _mark_verified(option, actor)
    record_audit("option.verify", option, actor=actor)
    return option


@dataclass(frozen=True)
class StaleCounts:
    flagged: int  # newly flagged by this run
    stale: int  # flagged and not re-verified, in all
    hidden: int  # stale beyond the grace period: counsellors no longer see them


def is_stale(option: SupportOption, as_of: dt.datetime | None = None) -> bool:
    """Whether the option is past ``LISTING_STALE_DAYS`` without verification."""
    as_of = as_of or now_utc()
    days = int(current_app.config["LISTING_STALE_DAYS"])
    return option.verified_or_created_at() < as_of - dt.timedelta(days=days)


def is_hidden_as_stale(option: SupportOption, as_of: dt.datetime | None = None) -> bool:
    """Whether counsellors no longer see the option because it is stale beyond the grace."""
    return option.verified_or_created_at() < listing_fresh_since(as_of or now_utc())


def flag_stale_options(as_of: dt.datetime | None = None) -> StaleCounts:
    """Flag (``stale_since``) the live options not verified within ``LISTING_STALE_DAYS``.

    Set-based and idempotent: a second run the same day flags nothing more. The flag itself is
    not audited per option (it is derived from the verification date); verifying clears it.
    """
    as_of = as_of or now_utc()
    cutoff = as_of - dt.timedelta(days=int(current_app.config["LISTING_STALE_DAYS"]))
    verified = sa.func.coalesce(SupportOption.last_verified_at, SupportOption.created_at)
    live = SupportOption.status.in_([OptionStatus.PUBLISHED, OptionStatus.TEMPORARILY_CLOSED])
    result = db.session.execute(
        sa.update(SupportOption)
        .where(live, SupportOption.stale_since.is_(None), verified < cutoff)
        .values(stale_since=as_of)
        .execution_options(synchronize_session=False)
    )
    flagged = int(getattr(result, "rowcount", 0) or 0)
    stale = db.session.scalar(
        sa.select(sa.func.count(SupportOption.id)).where(
            live, SupportOption.stale_since.is_not(None)
        )
    )
    hidden = db.session.scalar(
        sa.select(sa.func.count(SupportOption.id)).where(
            live, SupportOption.stale_since.is_not(None), verified < listing_fresh_since(as_of)
        )
    )
    db.session.expire_all()
    return StaleCounts(flagged=flagged, stale=int(stale or 0), hidden=int(hidden or 0))


# --- capacity -------------------------------------------------------------------------------


def period_bounds(period: CapacityPeriod, on: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the capacity period containing ``on``."""
    if period == CapacityPeriod.YEAR:
        return dt.date(on.year, 1, 1), dt.date(on.year, 12, 31)
    first_month = on.month if period == CapacityPeriod.MONTH else 3 * ((on.month - 1) // 3) + 1
    months = 1 if period == CapacityPeriod.MONTH else 3
    start = dt.date(on.year, first_month, 1)
    next_month = first_month + months
    end = dt.date(on.year + (next_month - 1) // 12, (next_month - 1) % 12 + 1, 1)
    return start, end - dt.timedelta(days=1)


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    status: HoldStatus
    waitlist_position: int | None = None  # 1 = next in line
    period_start: dt.date | None = None
    free_places: int | None = None  # after this hold; None = unlimited


def _capacity_row(option: SupportOption, on: dt.date) -> int:
    """The id of the option's capacity row for the period of ``on``, created if missing."""
    assert option.capacity_places is not None
    start, end = period_bounds(option.capacity_period, on)
    insert_ignore(
        OptionCapacity.__table__,
        [
            {
                "option_id": option.id,
                "period_start": start,
                "period_end": end,
                "places_total": option.capacity_places,
                "places_held": 0,
                "places_used": 0,
                "waitlist_last": 0,
            }
        ],
        ["option_id", "period_start"],
    )
    capacity_id = db.session.scalar(
        sa.select(OptionCapacity.id).where(
            OptionCapacity.option_id == option.id, OptionCapacity.period_start == start
        )
    )
    assert capacity_id is not None
    return capacity_id


def _resize_open_periods(option: SupportOption, today: dt.date, *, actor: Actor) -> None:
    """Apply a new number of places to the current and future periods, never below what is
    already held or used (the holds stay valid); places added go to the waitlists at once."""
    if option.capacity_places is None or option.id is None:
        return
    booked = OptionCapacity.places_held + OptionCapacity.places_used
    db.session.execute(
        sa.update(OptionCapacity)
        .where(OptionCapacity.option_id == option.id, OptionCapacity.period_end >= today)
        .values(
            places_total=sa.case(
                (booked > option.capacity_places, booked), else_=option.capacity_places
            )
        )
        .execution_options(synchronize_session=False)
    )
    periods = db.session.scalars(
        sa.select(OptionCapacity.id)
        .where(OptionCapacity.option_id == option.id, OptionCapacity.period_end >= today)
        .order_by(OptionCapacity.period_start)
    ).all()
    for capacity_id in periods:
        promote_waitlist(capacity_id, option.capacity_places, actor=actor)


def _waitlist_position(hold: PlaceHold) -> int:
    return 1 + int(
        db.session.scalar(
            sa.select(sa.func.count(PlaceHold.id)).where(
                PlaceHold.capacity_id == hold.capacity_id,
                PlaceHold.status == HoldStatus.WAITLISTED,
                PlaceHold.waitlist_number < hold.waitlist_number,
            )
        )
        or 0
    )


def _open_hold(option_id: int, reference: str) -> PlaceHold | None:
    return db.session.scalars(
        sa.select(PlaceHold)
        .where(
            PlaceHold.option_id == option_id,
            PlaceHold.reference == reference,
            PlaceHold.status.in_([HoldStatus.HELD, HoldStatus.WAITLISTED]),
        )
        .order_by(PlaceHold.id.desc())
        .limit(1)
    ).first()


def hold_place(
    option_id: int, reference: str, *, actor: Actor, on: dt.date | None = None
) -> HoldResult:
    """Hold a place of a published option for ``reference`` in the period of ``on``.

    Never overbooks: the place is taken by one conditional UPDATE
    (``places_held + places_used < places_total``) of the period's row, which is created with
    ``INSERT ... ON CONFLICT DO NOTHING``. When the period is full the reference joins its
    waitlist and the result carries its position. Idempotent per reference: an open hold or
    waitlist entry is returned again, and a waitlisted reference that asks again takes a place
    if one is free (a freed place normally goes to the waitlist at once: ``promote_waitlist``).
    """
    reference = reference.strip()
    if not reference or len(reference) > 64:
        message = _l("Give a reference of at most 64 characters.")
        raise InvalidInput(message, field_errors={"reference": [message]})
    option = get_option(option_id, actor=actor)
    if option.status != OptionStatus.PUBLISHED:
        raise Conflict(_l("Places can only be held on published options."))
    on = on or now_utc().date()
    existing = _open_hold(option.id, reference)
    if existing is not None and existing.status == HoldStatus.HELD:
        return _result(existing, option, on)
    if option.capacity_places is None:
        hold = PlaceHold(option_id=option.id, reference=reference, status=HoldStatus.HELD)
        record_audit("place.hold", hold, actor=actor, office_id=option.partner.office_id)
        return _result(hold, option, on)
    capacity_id = _capacity_row(option, on)
    taken = db.session.execute(
        sa.update(OptionCapacity)
        .where(
            OptionCapacity.id == capacity_id,
            OptionCapacity.places_held + OptionCapacity.places_used < OptionCapacity.places_total,
        )
        .values(places_held=OptionCapacity.places_held + 1)
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        hold = existing or PlaceHold(option_id=option.id, reference=reference)
        hold.status, hold.capacity_id, hold.waitlist_number = HoldStatus.HELD, capacity_id, None
        record_audit("place.hold", hold, actor=actor, office_id=option.partner.office_id)
        return _result(hold, option, on)
    if existing is not None:
        return _result(existing, option, on)
    number = db.session.scalar(
        sa.update(OptionCapacity)
        .where(OptionCapacity.id == capacity_id)
        .values(waitlist_last=OptionCapacity.waitlist_last + 1)
        .returning(OptionCapacity.waitlist_last)
        .execution_options(synchronize_session=False)
    )
    hold = PlaceHold(
        option_id=option.id,
        reference=reference,
        capacity_id=capacity_id,
        status=HoldStatus.WAITLISTED,
        waitlist_number=number,
    )
    record_audit("place.waitlist", hold, actor=actor, office_id=option.partner.office_id)
    return _result(hold, option, on)


def _result(hold: PlaceHold, option: SupportOption, on: dt.date) -> HoldResult:
    position = _waitlist_position(hold) if hold.status == HoldStatus.WAITLISTED else None
    return HoldResult(
        hold_id=hold.id,
        status=hold.status,
        waitlist_position=position,
        period_start=period_bounds(option.capacity_period, on)[0]
        if option.capacity_places is not None
        else None,
        free_places=free_places(option.id, on),
    )


def _hold(hold_id: int, actor: Actor) -> tuple[PlaceHold, SupportOption]:
    hold = db.session.get(PlaceHold, hold_id)
    if hold is None:
        raise NotFound(_l("Hold not found."))
    try:
        option = get_option(hold.option_id, actor=actor)
    except NotFound:
        raise NotFound(_l("Hold not found.")) from None
    return hold, option


def release_place(hold_id: int, *, actor: Actor) -> PlaceHold:
    """Give a held place back (or leave the waitlist). A freed place goes at once to the
    earliest waitlisted hold of the period (``promote_waitlist``)."""
    hold, option = _hold(hold_id, actor)
    return release_hold(hold, actor=actor, office_id=option.partner.office_id)


def release_hold(hold: PlaceHold, *, actor: Actor, office_id: int) -> PlaceHold:
    """``release_place`` without its scope check, for callers that decided access their own way
    (a referral declined through its e-mailed link); ``office_id`` is the partner's office, for
    the audit row. Conflict when the hold is closed already."""
    if hold.status not in OPEN_HOLD_STATUSES:
        raise Conflict(_l("This hold is closed already."))
    freed = hold.status == HoldStatus.HELD and hold.capacity_id is not None
    if freed:
        assert hold.capacity_id is not None
        _change_counts(hold.capacity_id, held=-1, used=0)
    hold.status, hold.closed_at = HoldStatus.RELEASED, now_utc()
    record_audit("place.release", hold, actor=actor, office_id=office_id)
    if freed:
        assert hold.capacity_id is not None
        promote_waitlist(hold.capacity_id, 1, actor=actor)
    return hold


def promote_waitlist(capacity_id: int, places: int, *, actor: Actor) -> list[int]:
    """Give up to ``places`` free places of the period ``capacity_id`` to its earliest
    waitlisted holds, in the caller's transaction; the ids of the holds promoted (in waitlist
    order). Each is audited (``place.promote``) and ``events.places_promoted`` is sent.

    Called right after the caller updated the period's row (a release, a resize), which locks
    that row until the commit on PostgreSQL: two places freed at the same moment are given one
    after the other, the second seeing the first's promotion, so no hold is promoted twice and
    nobody jumps the queue (a concurrent ``hold_place`` waits on the same row). The waitlisted
    rows are claimed ``FOR UPDATE SKIP LOCKED``: one being withdrawn right now is passed over
    rather than waited for. The place is taken by the same conditional UPDATE of the counts
    as ``hold_place``, so the period can never be overbooked.
    """
    row = db.session.execute(
        sa.select(
            OptionCapacity.places_total, OptionCapacity.places_held, OptionCapacity.places_used
        ).where(OptionCapacity.id == capacity_id)
    ).one()
    wanted = min(places, row.places_total - row.places_held - row.places_used)
    if wanted <= 0:
        return []
    holds = db.session.scalars(
        sa.select(PlaceHold)
        .where(PlaceHold.capacity_id == capacity_id, PlaceHold.status == HoldStatus.WAITLISTED)
        .order_by(PlaceHold.waitlist_number, PlaceHold.id)
        .limit(wanted)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    if not holds:
        return []
    taken = db.session.execute(
        sa.update(OptionCapacity)
        .where(
            OptionCapacity.id == capacity_id,
            OptionCapacity.places_held + OptionCapacity.places_used + len(holds)
            <= OptionCapacity.places_total,
        )
        .values(places_held=OptionCapacity.places_held + len(holds))
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise Conflict(_l("The place counts do not match; nothing was changed."))
    office_id = db.session.scalar(
        sa.select(Partner.office_id)
        .join(SupportOption, SupportOption.partner_id == Partner.id)
        .where(SupportOption.id == holds[0].option_id)
    )
    now = now_utc()
    for hold in holds:
        hold.status, hold.waitlist_number, hold.promoted_at = HoldStatus.HELD, None, now
        record_audit("place.promote", hold, actor=actor, office_id=office_id)
    promoted = [hold.id for hold in holds]
    events.places_promoted.send(None, hold_ids=promoted, actor=actor)
    return promoted


def consume_place(hold_id: int, *, actor: Actor) -> PlaceHold:
    """The held place is used (the support is delivered or starts): held -> used."""
    hold, option = _hold(hold_id, actor)
    if hold.status != HoldStatus.HELD:
        raise Conflict(_l("Only a held place can be used."))
    if hold.capacity_id is not None:
        _change_counts(hold.capacity_id, held=-1, used=1)
    hold.status, hold.closed_at = HoldStatus.CONSUMED, now_utc()
    record_audit("place.consume", hold, actor=actor, office_id=option.partner.office_id)
    return hold


def _change_counts(capacity_id: int, *, held: int, used: int) -> None:
    changed = db.session.execute(
        sa.update(OptionCapacity)
        .where(OptionCapacity.id == capacity_id, OptionCapacity.places_held + held >= 0)
        .values(
            places_held=OptionCapacity.places_held + held,
            places_used=OptionCapacity.places_used + used,
        )
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        raise Conflict(_l("The place counts do not match; nothing was changed."))


def free_places(option_id: int, on: dt.date | None = None) -> int | None:
    """Free places of the option in the period of ``on``; ``None`` when unlimited."""
    on = on or now_utc().date()
    option = db.session.get(SupportOption, option_id)
    if option is None:
        raise NotFound(_l("Support option not found."))
    if option.capacity_places is None:
        return None
    start, _end = period_bounds(option.capacity_period, on)
    row = db.session.execute(
        sa.select(
            OptionCapacity.places_total, OptionCapacity.places_held, OptionCapacity.places_used
        ).where(OptionCapacity.option_id == option_id, OptionCapacity.period_start == start)
    ).one_or_none()
    if row is None:
        return option.capacity_places
    return max(0, row.places_total - row.places_held - row.places_used)


def waitlist(option_id: int, *, actor: Actor, on: dt.date | None = None) -> Sequence[PlaceHold]:
    """The open holds and waitlist entries of the option's period of ``on``, in order."""
    option = get_option(option_id, actor=actor)
    on = on or now_utc().date()
    start, _end = period_bounds(option.capacity_period, on)
    return db.session.scalars(
        sa.select(PlaceHold)
        .outerjoin(OptionCapacity, OptionCapacity.id == PlaceHold.capacity_id)
        .where(
            PlaceHold.option_id == option.id,
            PlaceHold.status.in_([HoldStatus.HELD, HoldStatus.WAITLISTED]),
            sa.or_(PlaceHold.capacity_id.is_(None), OptionCapacity.period_start == start),
        )
        .order_by(PlaceHold.status, PlaceHold.waitlist_number, PlaceHold.id)
    ).all()
