"""Rules for grants: period, budget, co-financing shares that add up, targets, the office that
holds the grant, who approves its plans and the reintegration places it funds.

Who manages a grant: administrators and the home office's programme managers manage every
grant; a host office's programme managers manage the grants their office holds (a national
programme such as the Latvian AMIF grant of IOM Riga). ``Grant.visible_to`` says the same for
``scoped``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.authz import get_scoped, scoped, sees_all_offices
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.i18n import currency_codes
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.core.sql import utc_day
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan, PlanLine
from reintegration_hub.programmes.models import (
    Grant,
    GrantFundingSource,
    GrantTarget,
    PlanApprover,
    TargetIndicator,
)

FULL_SHARE_BP = 10_000
MAX_FUNDING_SOURCES = 10
#: The largest budget, in minor units (a thousand billion in major units).
MAX_BUDGET_MINOR = 10**14
#: The largest target or number of places a grant may state.
MAX_COUNT = 10_000_000
#: Grant periods fall between these days.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
#: Who sets up programmes: grants, cap rules, exchange rates.
MANAGER_ROLES = frozenset({Role.ADMIN, Role.PROGRAMME_MANAGER})
Errors = dict[str, list[Any]]


# --- input shared by the programme rules ----------------------------------------------------


def clean_text(
    value: str, name: str, errors: Errors, *, max_length: int, required: bool = True
) -> str:
    """``value`` stripped; a missing, over-long or control-character text is an error of field
    ``name`` (NUL and lone surrogates never reach the database)."""
    text = value.strip()
    if any(unicodedata.category(c) in {"Cc", "Cs"} for c in text):
        errors.setdefault(name, []).append(_l("Remove the control characters from this text."))
    elif required and not text:
        errors.setdefault(name, []).append(_l("This field is required."))
    elif len(text) > max_length:
        errors.setdefault(name, []).append(_l("At most %(count)d characters.", count=max_length))
    return text


def check_count(value: int | None, name: str, errors: Errors, *, maximum: int = MAX_COUNT) -> None:
    if value is not None and not 0 <= value <= maximum:
        errors.setdefault(name, []).append(
            _l("Give a whole number from 0 to %(max)d.", max=maximum)
        )


def require_manager(actor: Actor) -> None:
    """Administrators, programme managers, and system processes (the CLI, the demo)."""
    if actor.role is not None and actor.role not in MANAGER_ROLES:
        raise PermissionDenied(_l("Only administrators and programme managers set up programmes."))


def manages_every_grant(actor: Actor) -> bool:
    """Administrators, the home office's programme managers and system processes (the demo)."""
    return actor.role is None or (actor.role in MANAGER_ROLES and sees_all_offices(actor))


def managed_grant(grant_id: int, *, actor: Actor) -> Grant:
    """A grant ``actor`` manages (NotFound otherwise, like any object out of scope)."""
    require_manager(actor)
    grant: Grant = get_scoped(Grant, grant_id, actor)
    return grant


# --- grants ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GrantTerms:
    """What creating or editing a grant sets."""

    number: str
    title: str
    start_on: dt.date
    end_on: dt.date
    currency: str
    total_budget_minor: int
    funding_shares: Mapping[str, int]  # name: basis points (7500 = 75 %)
    targets: Mapping[TargetIndicator, int] = field(default_factory=dict)
    office_id: int | None = None  # the host office holding the grant; None: the home office
    plans_approved_by: PlanApprover = PlanApprover.HOME_OFFICE
    reintegration_places: int | None = None  # None: not limited


def _validate_terms(terms: GrantTerms, actor: Actor) -> GrantTerms:
    errors: Errors = {}
    number = clean_text(terms.number, "number", errors, max_length=64)
    title = clean_text(terms.title, "title", errors, max_length=200)
    if not EARLIEST_DAY <= terms.start_on <= LATEST_DAY:
        errors["start_on"] = [_l("Give a date in the years 2000 to 2099.")]
    if not EARLIEST_DAY <= terms.end_on <= LATEST_DAY:
        errors["end_on"] = [_l("Give a date in the years 2000 to 2099.")]
    elif terms.end_on < terms.start_on:
        errors["end_on"] = [_l("The grant cannot end before it starts.")]
    currency = terms.currency.strip().upper()
    if currency not in currency_codes():
        errors["currency"] = [_l("Not an ISO 4217 currency code.")]
    if not 0 <= terms.total_budget_minor <= MAX_BUDGET_MINOR:
        errors["total_budget_minor"] = [_l("The budget must be positive and plausible.")]
    shares: dict[str, int] = {}
    for raw_name, share in terms.funding_shares.items():
        name = clean_text(raw_name, "funding_shares", errors, max_length=120)
        if name.casefold() in {n.casefold() for n in shares}:
            errors.setdefault("funding_shares", []).append(
                _l("Name each co-financing source once.")
            )
        shares[name] = share
    if (
        not shares
        or len(shares) > MAX_FUNDING_SOURCES
        or sum(shares.values()) != FULL_SHARE_BP
        or any(not 0 < v <= FULL_SHARE_BP for v in shares.values())
    ):
        errors.setdefault("funding_shares", []).append(
            _l("Co-financing shares must be positive and add up to 100%.")
        )
    for value in terms.targets.values():
        check_count(value, "targets", errors)
    check_count(terms.reintegration_places, "reintegration_places", errors)
    _check_holding_office(terms, actor, errors)
    if errors:
        raise InvalidInput(_l("Some grant details are not valid."), field_errors=errors)
    return replace(terms, number=number, title=title, currency=currency, funding_shares=shares)


def _check_holding_office(terms: GrantTerms, actor: Actor, errors: Errors) -> None:
    if terms.office_id is None:
        if not manages_every_grant(actor):
            errors["office_id"] = [_l("Your office holds the grants you manage.")]
        elif terms.plans_approved_by == PlanApprover.GRANT_OFFICE:
            errors["plans_approved_by"] = [
                _l("Choose the host office that holds the grant to let it approve the plans.")
            ]
        return
    office = db.session.get(Office, terms.office_id)
    if office is None or office.kind != OfficeKind.HOST or not office.is_active:
        errors["office_id"] = [_l("Choose an active host-country office, or the home office.")]
    elif not manages_every_grant(actor) and office.id != actor.office_id:
        errors["office_id"] = [_l("Your office holds the grants you manage.")]


def _check_unique_number(number: str, grant_id: int | None = None) -> None:
    stmt = sa.select(Grant.id).where(sa.func.lower(Grant.number) == number.lower())
    if grant_id is not None:
        stmt = stmt.where(Grant.id != grant_id)
    if db.session.scalar(stmt) is not None:
        message = _l("A grant with this number exists already.")
        raise Conflict(message, field_errors={"number": [message]})


def _shares_and_targets(grant: Grant) -> tuple[dict[str, int], dict[str, int]]:
    return (
        {s.name: s.share_bp for s in grant.funding_sources},
        {t.indicator.value: t.target_value for t in grant.targets},
    )


def create_grant(
    *,
    number: str,
    title: str,
    start_on: dt.date,
    end_on: dt.date,
    currency: str,
    total_budget_minor: int,
    funding_shares: Mapping[str, int],
    targets: Mapping[TargetIndicator, int],
    office_id: int | None = None,
    plans_approved_by: PlanApprover = PlanApprover.HOME_OFFICE,
    reintegration_places: int | None = None,
    actor: Actor,
) -> Grant:
    """A grant whose co-financing shares (basis points) add up to 100 %."""
    require_manager(actor)
    terms = GrantTerms(
        number=number,
        title=title,
        start_on=start_on,
        end_on=end_on,
        currency=currency,
        total_budget_minor=total_budget_minor,
        funding_shares=funding_shares,
        targets=targets,
        office_id=office_id,
        plans_approved_by=plans_approved_by,
        reintegration_places=reintegration_places,
    )
    terms = _validate_terms(terms, actor)
    _check_unique_number(terms.number)
    grant = Grant(
        number=terms.number,
        title=terms.title,
        start_on=terms.start_on,
        end_on=terms.end_on,
        currency=terms.currency,
        total_budget_minor=terms.total_budget_minor,
        office_id=terms.office_id,
        plans_approved_by=terms.plans_approved_by,
        reintegration_places=terms.reintegration_places,
        funding_sources=[
            GrantFundingSource(name=name, share_bp=share)
            for name, share in terms.funding_shares.items()
        ],
        targets=[GrantTarget(indicator=k, target_value=v) for k, v in terms.targets.items()],
    )
    shares, targets_after = _shares_and_targets(grant)
    record_audit(
        "grant.create",
        grant,
        actor=actor,
        changes={
            **pending_changes(grant),
            "funding_shares": [None, shares],
            "targets": [None, targets_after],
        },
    )
    return grant


def update_grant(grant_id: int, terms: GrantTerms, *, actor: Actor) -> Grant:
    """Change a grant's terms. Its period must still cover the return dates of its cases, and
    its places the plans approved already."""
    grant = managed_grant(grant_id, actor=actor)
    terms = _validate_terms(terms, actor)
    _check_unique_number(terms.number, grant.id)
    _check_cases_fit(grant, terms)
    shares_before, targets_before = _shares_and_targets(grant)
    grant.number, grant.title = terms.number, terms.title
    grant.start_on, grant.end_on = terms.start_on, terms.end_on
    grant.currency, grant.total_budget_minor = terms.currency, terms.total_budget_minor
    grant.office_id, grant.plans_approved_by = terms.office_id, terms.plans_approved_by
    grant.reintegration_places = terms.reintegration_places
    changes = pending_changes(grant)  # before the flush below
    sources = {s.name: s for s in grant.funding_sources}
    for name, source in sources.items():
        if name not in terms.funding_shares:
            grant.funding_sources.remove(source)
    db.session.flush()  # a renamed source's old row goes before the new one is inserted
    for name, share in terms.funding_shares.items():
        if name in sources:
            sources[name].share_bp = share
        else:
            grant.funding_sources.append(GrantFundingSource(name=name, share_bp=share))
    targets = {t.indicator: t for t in grant.targets}
    for indicator, target in targets.items():
        if indicator not in terms.targets:
            grant.targets.remove(target)
    for indicator, value in terms.targets.items():
        if indicator in targets:
            targets[indicator].target_value = value
        else:
            grant.targets.append(GrantTarget(indicator=indicator, target_value=value))
    shares_after = dict(terms.funding_shares)
    targets_after = {k.value: v for k, v in terms.targets.items()}
    if shares_after != shares_before:
        changes["funding_shares"] = [shares_before, shares_after]
    if targets_after != targets_before:
        changes["targets"] = [targets_before, targets_after]
    if changes:
        record_audit("grant.update", grant, actor=actor, changes=changes)
    return grant


def case_return_day() -> sa.ColumnElement[dt.date]:
    """The day a case's grant must cover: the departure, else the voluntary departure
    deadline, else the day the case was registered."""
    return sa.func.coalesce(
        Returnee.departed_on, Returnee.departure_deadline_on, utc_day(Returnee.created_at)
    )


def _check_cases_fit(grant: Grant, terms: GrantTerms) -> None:
    day = case_return_day()
    outside = db.session.scalars(
        sa.select(Returnee.case_number)
        .where(Returnee.grant_id == grant.id, ~day.between(terms.start_on, terms.end_on))
        .order_by(Returnee.id)
        .limit(3)
    ).all()
    if outside:
        message = _l(
            "Cases of this grant return outside that period (%(numbers)s): move them to "
            "another grant first.",
            numbers=", ".join(outside),
        )
        raise Conflict(message, field_errors={"start_on": [message], "end_on": [message]})
    if terms.reintegration_places is not None:
        used = places_used([grant.id]).get(grant.id, 0)
        if terms.reintegration_places < used:
            message = _l(
                "%(count)d plans of this grant are approved already: fund at least as many places.",
                count=used,
            )
            raise Conflict(message, field_errors={"reintegration_places": [message]})


def list_grants(*, actor: Actor) -> Sequence[Grant]:
    """The grants ``actor`` manages, newest first, with their co-financing and targets."""
    stmt = (
        scoped(sa.select(Grant), Grant, actor)
        .options(
            selectinload(Grant.funding_sources),
            selectinload(Grant.targets),
            selectinload(Grant.office),
        )
        .order_by(Grant.start_on.desc(), Grant.number)
    )
    return db.session.scalars(stmt).all()


def holding_offices(*, actor: Actor) -> Sequence[Office]:
    """The host offices that may hold a grant ``actor`` sets up (their own, for a host
    office's programme manager)."""
    stmt = sa.select(Office).where(Office.kind == OfficeKind.HOST, Office.is_active)
    if not manages_every_grant(actor):
        stmt = stmt.where(Office.id == actor.office_id)
    return db.session.scalars(stmt.order_by(Office.name)).all()


# --- reintegration places -------------------------------------------------------------------


def holds_a_place() -> sa.ColumnElement[bool]:
    """Whether a case (``Returnee``, joined to its ``Plan``) holds one of its grant's places:
    its plan was approved, and it is open or something was delivered before it closed (a
    case closed before any delivery gives its place back)."""
    delivered = sa.exists().where(PlanLine.plan_id == Plan.id, Delivery.plan_line_id == PlanLine.id)
    return sa.and_(
        Plan.approved_at.is_not(None), sa.or_(Returnee.status != CaseStatus.CLOSED, delivered)
    )


def places_used(grant_ids: Sequence[int]) -> dict[int, int]:
    """``{grant id: places used}`` for the grants named, in one statement."""
    if not grant_ids:
        return {}
    rows = db.session.execute(
        sa.select(Returnee.grant_id, sa.func.count(Plan.id))
        .join(Plan, Plan.returnee_id == Returnee.id)
        .where(Returnee.grant_id.in_(list(grant_ids)), holds_a_place())
        .group_by(Returnee.grant_id)
    ).tuples()
    return {int(grant_id): int(count) for grant_id, count in rows if grant_id is not None}


@dataclass(frozen=True)
class Places:
    """A grant's reintegration places: funded (None: not limited), used and left."""

    funded: int | None
    used: int

    @property
    def left(self) -> int | None:
        return None if self.funded is None else max(self.funded - self.used, 0)


def places_of(grants: Sequence[Grant]) -> dict[int, Places]:
    used = places_used([g.id for g in grants])
    return {g.id: Places(g.reintegration_places, used.get(g.id, 0)) for g in grants}
