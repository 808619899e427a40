"""Rules for returnee cases: registration, edits, consent, lifecycle, duplicates, scope.

Every read of a case goes through ``scoped``/``get_scoped`` (``Returnee.visible_to``); the case
page read is audited (``case.view``). Names and dates of birth never leave the case page: other
answers carry the case number only, and the audit trail records that personal fields changed,
never their values.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from rapidfuzz import fuzz
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload

from partners import referrals
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import search, sms
from reintegration_hub.cases.drill import CaseDrill, drill_conditions
from reintegration_hub.cases.labels import STATUS_LABELS
from reintegration_hub.cases.models import (
    CaseNumberCounter,
    CaseStatus,
    ClosureReason,
    Consent,
    Dependant,
    DependantRelation,
    LegalStatus,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.authz import get_scoped, scoped, sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.i18n import country_codes, language_codes
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory
from reintegration_hub.extensions import db
from reintegration_hub.followups.actions import arrival_recorded
from reintegration_hub.followups.ownership import follow_owner
from reintegration_hub.followups.scheduling import cancel_case_milestones, reschedule_case
from reintegration_hub.plans.models import Plan, PlanLine
from reintegration_hub.programmes import caps
from reintegration_hub.programmes.models import Grant

#: The case page warns when the departure deadline is this close (or passed).
DEADLINE_WARNING_DAYS = 5
#: rapidfuzz token_sort_ratio at or above which two names are the same person's.
DUPLICATE_NAME_SCORE = 85

#: Roles that register and edit cases; case managers and programme managers only read.
EDITOR_ROLES = frozenset({Role.COUNSELLOR, Role.ADMIN})
#: Roles that move a case along its lifecycle.
STATUS_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN})

#: The lifecycle. Plan transitions are reached by the plan services; any open case may close.
ALLOWED_TRANSITIONS: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.REGISTERED: frozenset({CaseStatus.ASSESSED, CaseStatus.CLOSED}),
    CaseStatus.ASSESSED: frozenset({CaseStatus.PLAN_DRAFT, CaseStatus.CLOSED}),
    CaseStatus.PLAN_DRAFT: frozenset({CaseStatus.PLAN_SUBMITTED, CaseStatus.CLOSED}),
    CaseStatus.PLAN_SUBMITTED: frozenset(
        {CaseStatus.PLAN_APPROVED, CaseStatus.PLAN_DRAFT, CaseStatus.CLOSED}
    ),
    CaseStatus.PLAN_APPROVED: frozenset({CaseStatus.IN_DELIVERY, CaseStatus.CLOSED}),
    CaseStatus.IN_DELIVERY: frozenset({CaseStatus.MONITORING, CaseStatus.CLOSED}),
    CaseStatus.MONITORING: frozenset({CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset(),
}
#: The transitions people make by hand today (pages and API); the rest belong to plan services.
MANUAL_TARGETS = frozenset({CaseStatus.ASSESSED, CaseStatus.CLOSED})


@dataclass(frozen=True, kw_only=True)
class CaseDetails:
    """Everything about the returnee that registration and edits set."""

    first_name: str
    last_name: str
    date_of_birth: dt.date
    sex: Sex
    nationality: str
    return_country_code: str
    legal_status: LegalStatus
    return_region: str = ""
    return_city: str = ""
    languages: Sequence[str] = ()
    contact_after_return: str = ""
    mobile_number: str = ""  # normalised to E.164 by the rules (``cases.sms``)
    return_decision_on: dt.date | None = None
    departure_deadline_on: dt.date | None = None
    origin_office_id: int | None = None
    case_manager_id: int | None = None
    grant_id: int | None = None
    departed_on: dt.date | None = None
    arrived_on: dt.date | None = None


@dataclass(frozen=True)
class DependantInput:
    relation: DependantRelation
    date_of_birth: dt.date
    accompanying: bool = True


@dataclass(frozen=True)
class ConsentInput:
    share_with_origin_office: bool
    share_with_partners: bool
    given_on: dt.date
    sms_contact: bool = False


@dataclass(frozen=True)
class DuplicateMatch:
    """A possible duplicate: its number and id only (never its names or office)."""

    case_id: int
    case_number: str
    can_open: bool


class PossibleDuplicate(Conflict):
    """Registration stopped: the person may have a case already. Confirm to register anyway."""

    def __init__(self, matches: Sequence[DuplicateMatch]) -> None:
        numbers = ", ".join(m.case_number for m in matches)
        message = _l("This person may already have a case: %(numbers)s.", numbers=numbers)
        super().__init__(message, field_errors={"confirm_duplicate": [message]})
        self.matches = list(matches)


# --- helpers ---------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    """Lower case, accents stripped, punctuation dropped, single spaces: ``"Ņina  Bērziņa"`` ->
    ``"nina berzina"``."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", stripped.casefold()).split())


def days_to_deadline(case: Returnee, today: dt.date | None = None) -> int | None:
    return case.days_to_departure_deadline(today)


def deadline_is_near(case: Returnee, today: dt.date | None = None) -> bool:
    """The case is open, not yet departed, and the departure deadline is within five days."""
    left = case.days_to_departure_deadline(today)
    return (
        left is not None
        and left <= DEADLINE_WARNING_DAYS
        and case.departed_on is None
        and case.status != CaseStatus.CLOSED
    )


def _refuse_anonymised(case: Returnee) -> None:
    if case.anonymised_at is not None:
        raise Conflict(_l("This case was anonymised after its retention period: it cannot change."))


def _require_role(actor: Actor, allowed: Iterable[Role]) -> None:
    if actor.role not in set(allowed):
        raise PermissionDenied(_l("Your role cannot change cases."))


def _validate(
    details: CaseDetails,
    dependants: Sequence[DependantInput],
    *,
    host_office_id: int,
    registered_on: dt.date,
) -> CaseDetails:
    """The case's details, cleaned; InvalidInput with every field error. The programme's
    rules (grant period, largest household, departure window) come from ``programmes.caps``."""
    errors: dict[str, list[Any]] = {}
    today = now_utc().date()
    first, last = details.first_name.strip(), details.last_name.strip()
    if not first or len(first) > 120:
        errors["first_name"] = [_l("Give a first name of at most 120 characters.")]
    if not last or len(last) > 120:
        errors["last_name"] = [_l("Give a last name of at most 120 characters.")]
    if details.date_of_birth > today or details.date_of_birth.year < 1900:
        errors["date_of_birth"] = [_l("The date of birth is not plausible.")]
    nationality = details.nationality.upper()
    if nationality not in country_codes():
        errors["nationality"] = [_l("Not an ISO 3166 country code.")]
    return_country = details.return_country_code.upper()
    if return_country not in country_codes():
        errors["return_country_code"] = [_l("Not an ISO 3166 country code.")]
    languages = list(dict.fromkeys(code.lower() for code in details.languages))
    if any(code not in language_codes() for code in languages):
        errors["languages"] = [_l("Use ISO 639-1 language codes.")]
    if len(details.contact_after_return) > 500:
        errors["contact_after_return"] = [_l("At most 500 characters.")]
    mobile = ""
    if (problem := sms.mobile_error(details.mobile_number, return_country)) is not None:
        errors["mobile_number"] = [problem]
    else:
        mobile = sms.normalise_mobile(details.mobile_number, return_country)
    if details.departure_deadline_on is not None and details.return_decision_on is None:
        errors["return_decision_on"] = [_l("Give the return decision date.")]
    if details.departed_on and details.arrived_on and details.arrived_on < details.departed_on:
        errors["arrived_on"] = [_l("Arrival cannot be before departure.")]
    elif details.arrived_on and details.arrived_on > today:
        errors["arrived_on"] = [_l("The date cannot be in the future.")]
    if any(d.date_of_birth > today for d in dependants):
        errors["dependants"] = [_l("A dependant's date of birth is in the future.")]
    if details.origin_office_id is not None:
        office = db.session.get(Office, details.origin_office_id)
        if office is None or office.kind != OfficeKind.ORIGIN:
            errors["origin_office_id"] = [_l("Choose an office in the country of return.")]
        elif office.country_code != return_country:
            errors["origin_office_id"] = [_l("The origin office is not in the return country.")]
    if details.case_manager_id is not None:
        manager = db.session.get(User, details.case_manager_id)
        if (
            manager is None
            or manager.role != Role.CASE_MANAGER
            or manager.office_id != details.origin_office_id
        ):
            errors["case_manager_id"] = [_l("Choose a case manager of the origin office.")]
    facts = caps.CaseFacts(
        grant_id=details.grant_id,
        return_country_code=return_country,
        host_office_id=host_office_id,
        dependants=len(dependants),
        return_decision_on=details.return_decision_on,
        departure_deadline_on=details.departure_deadline_on,
        departed_on=details.departed_on,
        registered_on=registered_on,
    )
    for name, messages in caps.case_errors(facts).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        raise InvalidInput(_l("Some case details are not valid."), field_errors=errors)
    return CaseDetails(
        **{
            **details.__dict__,
            "first_name": first,
            "last_name": last,
            "nationality": nationality,
            "return_country_code": return_country,
            "languages": languages,
            "return_region": details.return_region.strip(),
            "return_city": details.return_city.strip(),
            "contact_after_return": details.contact_after_return.strip(),
            "mobile_number": mobile,
        }
    )


def _apply(case: Returnee, details: CaseDetails) -> None:
    for name, value in details.__dict__.items():
        setattr(case, name, list(value) if name == "languages" else value)
    keys = search.search_keys(
        first_name=details.first_name,
        last_name=details.last_name,
        contact_after_return=details.contact_after_return,
        mobile_number=details.mobile_number,
    )
    for name, value in keys.items():
        setattr(case, name, value)


def _vulnerability_map(
    vulnerabilities: Mapping[VulnerabilityCategory, str],
) -> dict[VulnerabilityCategory, str]:
    cleaned = {VulnerabilityCategory(k): (v or "").strip() for k, v in vulnerabilities.items()}
    if any(len(notes) > 1000 for notes in cleaned.values()):
        raise InvalidInput(
            _l("Some case details are not valid."),
            field_errors={"vulnerabilities": [_l("Notes are at most 1000 characters.")]},
        )
    return cleaned


def allocate_case_number(country_code: str, year: int) -> str:
    """The next number for ``country_code`` and ``year``, e.g. ``LV-2026-00042``.

    One statement that inserts the counter or increments it (``INSERT .. ON CONFLICT DO UPDATE
    .. RETURNING``): the row lock it takes holds until the caller's transaction ends, so two
    registrations on PostgreSQL never get the same number.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: sa.Table = CaseNumberCounter.__table__  # type: ignore[assignment]
    stmt = (
        insert(table)
        .values(country_code=country_code, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=[table.c.country_code, table.c.year],
            set_={"last_value": table.c.last_value + 1},
        )
        .returning(table.c.last_value)
    )
    value = db.session.execute(stmt).scalar_one()
    return f"{country_code}-{year}-{value:05d}"


# --- duplicates ------------------------------------------------------------------------------


def find_duplicates(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    nationality: str,
    actor: Actor,
    exclude_case_id: int | None = None,
) -> list[DuplicateMatch]:
    """Cases in ANY office with the same date of birth and nationality and a close name;
    anonymised cases never match.

    The indexed prefilter (date of birth, nationality) runs in SQL; names are compared here
    with rapidfuzz on accent-stripped, lower-cased full names. Only case numbers and ids come
    back, plus whether ``actor`` may open the case.
    """
    stmt = sa.select(Returnee.id, Returnee.case_number, Returnee.first_name, Returnee.last_name)
    stmt = stmt.where(
        Returnee.date_of_birth == date_of_birth,
        Returnee.nationality == nationality.upper(),
        Returnee.anonymised_at.is_(None),  # nobody to match any more (cases.retention)
    )
    if exclude_case_id is not None:
        stmt = stmt.where(Returnee.id != exclude_case_id)
    wanted = normalise_name(f"{first_name} {last_name}")
    hits = [
        (row.id, row.case_number)
        for row in db.session.execute(stmt.order_by(Returnee.id))
        if fuzz.token_sort_ratio(wanted, normalise_name(f"{row.first_name} {row.last_name}"))
        >= DUPLICATE_NAME_SCORE
    ]
    if not hits:
        return []
    ids = [case_id for case_id, _ in hits]
    visible = set(
        db.session.scalars(
            scoped(sa.select(Returnee.id).where(Returnee.id.in_(ids)), Returnee, actor)
        )
    )
    return [DuplicateMatch(case_id, number, case_id in visible) for case_id, number in hits]


# --- registration and edits ------------------------------------------------------------------


def register_case(
    details: CaseDetails,
    *,
    dependants: Sequence[DependantInput] = (),
    vulnerabilities: Mapping[VulnerabilityCategory, str] | None = None,
    consent: ConsentInput | None = None,
    confirm_duplicate: bool = False,
    actor: Actor,
) -> Returnee:
    """Register a returnee at the counsellor's host office, with a new case number.

    Raises ``PossibleDuplicate`` (409) when the person may have a case in any office, unless
    ``confirm_duplicate``.
    """
    if actor.role != Role.COUNSELLOR or actor.office_id is None or actor.id is None:
        raise PermissionDenied(_l("Only counsellors of a host office register cases."))
    host_office = db.session.get(Office, actor.office_id)
    if host_office is None or host_office.kind != OfficeKind.HOST:
        raise PermissionDenied(_l("Only counsellors of a host office register cases."))
    details = _validate(
        details, dependants, host_office_id=host_office.id, registered_on=now_utc().date()
    )
    vulnerability_notes = _vulnerability_map(vulnerabilities or {})
    if consent is not None and consent.given_on > now_utc().date():
        raise InvalidInput(
            _l("Some case details are not valid."),
            field_errors={"consent_given_on": [_l("Consent cannot be given in the future.")]},
        )
    if not confirm_duplicate:
        matches = find_duplicates(
            first_name=details.first_name,
            last_name=details.last_name,
            date_of_birth=details.date_of_birth,
            nationality=details.nationality,
            actor=actor,
        )
        if matches:
            raise PossibleDuplicate(matches)
    case_number = allocate_case_number(host_office.country_code, now_utc().year)
    case = Returnee(
        case_number=case_number,
        case_number_tail=search.case_number_tail(case_number),
        host_office_id=host_office.id,
        counsellor_id=actor.id,
        status=CaseStatus.REGISTERED,
        shares_with_origin=bool(consent and consent.share_with_origin_office),
    )
    _apply(case, details)
    case.dependants = [
        Dependant(relation=d.relation, date_of_birth=d.date_of_birth, accompanying=d.accompanying)
        for d in dependants
    ]
    case.vulnerabilities = [
        VulnerabilityEntry(category=category, notes=notes)
        for category, notes in vulnerability_notes.items()
    ]
    record_audit(
        "case.register",
        case,
        actor=actor,
        changes={
            **pending_changes(case),
            "dependants": [None, len(dependants)],
            "vulnerabilities": [None, sorted(vulnerability_notes)],
            "duplicate_confirmed": [None, confirm_duplicate],
        },
    )
    if consent is not None:
        _add_consent(case, consent, actor=actor)
    return case


def update_case(
    case_id: int,
    details: CaseDetails,
    *,
    dependants: Sequence[DependantInput] | None = None,
    vulnerabilities: Mapping[VulnerabilityCategory, str] | None = None,
    actor: Actor,
) -> Returnee:
    """Replace a case's details; ``dependants``/``vulnerabilities`` replace the lists if given."""
    _require_role(actor, EDITOR_ROLES)
    case: Returnee = get_scoped(Returnee, case_id, actor)
    _refuse_anonymised(case)
    kept = [DependantInput(d.relation, d.date_of_birth, d.accompanying) for d in case.dependants]
    details = _validate(
        details,
        kept if dependants is None else dependants,
        host_office_id=case.host_office_id,
        registered_on=case.created_at.date(),
    )
    wanted = _vulnerability_map(vulnerabilities or {})
    _apply(case, details)
    changes = pending_changes(case)
    if dependants is not None:
        before = [(d.relation.value, d.date_of_birth, d.accompanying) for d in case.dependants]
        after = [(d.relation.value, d.date_of_birth, d.accompanying) for d in dependants]
        if before != after:
            case.dependants = [
                Dependant(
                    relation=d.relation, date_of_birth=d.date_of_birth, accompanying=d.accompanying
                )
                for d in dependants
            ]
            changes["dependants"] = [len(before), len(after)]
    if vulnerabilities is not None:
        current = {v.category: v for v in case.vulnerabilities}
        before_cats = sorted(current)
        notes_changed = False
        for category, entry in list(current.items()):
            if category not in wanted:
                case.vulnerabilities.remove(entry)
            elif entry.notes != wanted[category]:
                entry.notes = wanted[category]
                notes_changed = True
        for category, notes in wanted.items():
            if category not in current:
                case.vulnerabilities.append(VulnerabilityEntry(category=category, notes=notes))
        if sorted(wanted) != before_cats or notes_changed:
            changes["vulnerabilities"] = [before_cats, sorted(wanted)]
    if changes:
        record_audit("case.update", case, actor=actor, changes=changes)
    if "departed_on" in changes:  # the return date the milestones count from
        reschedule_case(case, actor=actor)
    if "origin_office_id" in changes:  # its milestones follow to the new origin office
        follow_owner([case.id])
    if "arrived_on" in changes:  # the same as when the origin office records the arrival
        arrival_recorded(case, actor=actor)
    return case


def record_consent(case_id: int, consent: ConsentInput, *, actor: Actor) -> Consent:
    """A new consent row (the previous ones stay as history); it is in force from now on, on
    the case's referrals too: a reader it no longer covers (the origin office, the partners)
    sees them by case number only."""
    _require_role(actor, EDITOR_ROLES)
    case: Returnee = get_scoped(Returnee, case_id, actor)
    _refuse_anonymised(case)
    if consent.given_on > now_utc().date():
        raise InvalidInput(
            _l("Consent cannot be given in the future."),
            field_errors={"given_on": [_l("Consent cannot be given in the future.")]},
        )
    return _add_consent(case, consent, actor=actor)


def _add_consent(case: Returnee, consent: ConsentInput, *, actor: Actor) -> Consent:
    row = Consent(
        returnee=case,
        share_with_origin_office=consent.share_with_origin_office,
        share_with_partners=consent.share_with_partners,
        sms_contact=consent.sms_contact,
        given_on=consent.given_on,
        recorded_by_id=actor.id,
    )
    case.shares_with_origin = consent.share_with_origin_office
    record_audit(
        "case.consent",
        row,
        actor=actor,
        office_id=case.host_office_id,
        changes={
            "returnee_id": [None, case.id],
            "share_with_origin_office": [None, consent.share_with_origin_office],
            "share_with_partners": [None, consent.share_with_partners],
            "sms_contact": [None, consent.sms_contact],
            "given_on": [None, consent.given_on.isoformat()],
        },
    )
    if not consent.sms_contact:
        sms.withdraw_sms([case.id])
    lines = db.session.scalars(
        sa.select(PlanLine).join(Plan).where(Plan.returnee_id == case.id)
    ).all()
    if lines:
        referrals.record_consent(
            [line.reference for line in lines],
            office=consent.share_with_origin_office,
            partner=consent.share_with_partners,
            actor=actor,
        )
    return row


# --- lifecycle -------------------------------------------------------------------------------


def change_case_status(
    case_id: int,
    to_status: CaseStatus,
    *,
    reason: ClosureReason | None = None,
    actor: Actor,
) -> Returnee:
    """Move a case along ``ALLOWED_TRANSITIONS``; closing needs a standard reason.

    The manual targets (assessed, closed) need a role of ``STATUS_ROLES``; the plan states are
    reached through ``advance_case`` by the plan and delivery services.
    """
    if to_status in MANUAL_TARGETS:
        _require_role(actor, STATUS_ROLES)
    case: Returnee = get_scoped(Returnee, case_id, actor)
    _check_transition(case, to_status)
    if to_status == CaseStatus.CLOSED:
        if reason is None:
            raise InvalidInput(
                _l("Give the reason for closing the case."),
                field_errors={"reason": [_l("Give the reason for closing the case.")]},
            )
        case.closure_reason = reason
        case.closed_at = now_utc()
    elif reason is not None:
        raise InvalidInput(
            _l("A reason is only given when closing a case."),
            field_errors={"reason": [_l("A reason is only given when closing a case.")]},
        )
    case.status = to_status
    changes = pending_changes(case)
    if to_status == CaseStatus.CLOSED and (cancelled := cancel_case_milestones(case.id)):
        changes["milestones_cancelled"] = [None, cancelled]
    record_audit("case.status", case, actor=actor, changes=changes)
    return case


def _check_transition(case: Returnee, to_status: CaseStatus) -> None:
    if to_status not in ALLOWED_TRANSITIONS[case.status]:
        raise Conflict(
            _l(
                "A case cannot go from %(current)s to %(target)s.",
                current=STATUS_LABELS[case.status],
                target=STATUS_LABELS[to_status],
            ),
            field_errors={"status": [_l("This change of status is not allowed.")]},
        )


def advance_case(case: Returnee, to_status: CaseStatus, *, actor: Actor) -> None:
    """Move ``case`` to a plan state (plan drafted, submitted, approved, in delivery) on behalf
    of the plan and delivery services, which have checked the actor's role and scope. Already
    there: nothing happens; otherwise the transition must be allowed."""
    if case.status == to_status:
        return
    _check_transition(case, to_status)
    case.status = to_status
    record_audit("case.status", case, actor=actor)


# --- reads -----------------------------------------------------------------------------------


def view_case(case_id: int, *, actor: Actor) -> Returnee:
    """The case page's read: in scope or NotFound, and audited (``case.view``)."""
    stmt = scoped(
        sa.select(Returnee)
        .where(Returnee.id == case_id)
        .options(
            joinedload(Returnee.host_office),
            joinedload(Returnee.origin_office),
            joinedload(Returnee.counsellor),
            joinedload(Returnee.case_manager),
            selectinload(Returnee.dependants),
            selectinload(Returnee.vulnerabilities),
            selectinload(Returnee.consents).joinedload(Consent.recorded_by),
        ),
        Returnee,
        actor,
    )
    case = db.session.scalars(stmt).unique().one_or_none()
    if case is None:
        raise NotFound(_l("Not found."))
    record_audit("case.view", case, actor=actor, changes={})
    return case


def read_case(case_id: int, *, action: str, actor: Actor) -> Returnee:
    """A case in scope (else NotFound) read by a page that shows it (the visit and survey
    forms), audited under that page's ``action`` on the case, as the case page's read is."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    record_audit(action, case, actor=actor, changes={})
    return case


def get_case(case_id: int, *, actor: Actor) -> Returnee:
    """A case in scope, unaudited: for forms and actions that audit their own change."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return case


def _filter_cases(
    stmt: sa.Select[Any],
    *,
    actor: Actor,
    status: CaseStatus | None,
    return_country_code: str | None,
    host_office_id: int | None,
    number: str | None,
    drill: CaseDrill | None = None,
    counsellor_id: int | None = None,
    case_manager_id: int | None = None,
    q: str | None = None,
) -> sa.Select[Any]:
    stmt = scoped(stmt, Returnee, actor)
    if q and (found := search.search_condition(q)) is not None:
        stmt = stmt.where(found)
    if counsellor_id is not None:
        stmt = stmt.where(Returnee.counsellor_id == counsellor_id)
    if case_manager_id is not None:
        stmt = stmt.where(Returnee.case_manager_id == case_manager_id)
    if drill is not None:
        stmt = stmt.where(*drill_conditions(drill))
    if status is not None:
        stmt = stmt.where(Returnee.status == status)
    if return_country_code:
        stmt = stmt.where(Returnee.return_country_code == return_country_code.upper())
    if host_office_id is not None and sees_all_offices(actor):
        stmt = stmt.where(Returnee.host_office_id == host_office_id)
    if number and number.strip():
        stmt = stmt.where(Returnee.case_number.startswith(number.strip().upper(), autoescape=True))
    return stmt


def case_list_statement(
    *,
    actor: Actor,
    status: CaseStatus | None = None,
    return_country_code: str | None = None,
    host_office_id: int | None = None,
    number: str | None = None,
    drill: CaseDrill | None = None,
    counsellor_id: int | None = None,
    case_manager_id: int | None = None,
    q: str | None = None,
) -> sa.Select[Any]:
    """The cases ``actor`` may see, filtered, newest first; offices load in the same query.

    ``host_office_id`` filters only for those who see every office (others see one anyway);
    ``number`` matches case numbers that start with it; ``drill`` adds a monitoring figure's
    filters (``cases.drill``), within the same scope; ``counsellor_id`` and
    ``case_manager_id`` keep one person's cases (to reassign them); ``q`` is the search box
    (a name in any script or with typos, a date of birth, part of a case number or a phone
    number: ``cases.search``).
    """
    stmt = _filter_cases(
        sa.select(Returnee),
        actor=actor,
        status=status,
        return_country_code=return_country_code,
        host_office_id=host_office_id,
        number=number,
        drill=drill,
        counsellor_id=counsellor_id,
        case_manager_id=case_manager_id,
        q=q,
    )
    options = (joinedload(Returnee.host_office), joinedload(Returnee.origin_office))
    return stmt.options(*options).order_by(Returnee.id.desc())


def list_cases(
    *,
    actor: Actor,
    page: int = 1,
    page_size: int = 25,
    status: CaseStatus | None = None,
    return_country_code: str | None = None,
    host_office_id: int | None = None,
    number: str | None = None,
    drill: CaseDrill | None = None,
    counsellor_id: int | None = None,
    case_manager_id: int | None = None,
    q: str | None = None,
) -> Page[Returnee]:
    """One page of the case list and the total: two queries whatever the page size."""
    filters: dict[str, Any] = {
        "actor": actor,
        "status": status,
        "return_country_code": return_country_code,
        "host_office_id": host_office_id,
        "number": number,
        "drill": drill,
        "counsellor_id": counsellor_id,
        "case_manager_id": case_manager_id,
        "q": q,
    }
    return paginate(case_list_statement(**filters), page=page, per_page=page_size)


def origin_offices(country_code: str | None = None) -> Sequence[Office]:
    """Active origin offices (to pick one for a case), optionally of one country."""
    stmt = sa.select(Office).where(Office.is_active, Office.kind == OfficeKind.ORIGIN)
    if country_code:
        stmt = stmt.where(Office.country_code == country_code.upper())
    return db.session.scalars(stmt.order_by(Office.name)).all()


def case_managers() -> Sequence[User]:
    stmt = (
        sa.select(User)
        .where(User.is_active, User.role == Role.CASE_MANAGER)
        .order_by(User.full_name)
    )
    return db.session.scalars(stmt).all()


def grants() -> Sequence[Grant]:
    return db.session.scalars(sa.select(Grant).order_by(Grant.number)).all()


def host_offices() -> Sequence[Office]:
    stmt = sa.select(Office).where(Office.kind == OfficeKind.HOST).order_by(Office.name)
    return db.session.scalars(stmt).all()


def matching_case_ids(
    *, actor: Actor, limit: int, drill: CaseDrill | None = None, **filters: Any
) -> list[int]:
    """The ids of the cases the list shows under ``filters`` (its "every case that matches"),
    at most ``limit``, newest first."""
    stmt = _filter_cases(
        sa.select(Returnee.id),
        actor=actor,
        drill=drill,
        **{"status": None, "return_country_code": None, "host_office_id": None, "number": None}
        | filters,
    )
    return list(db.session.scalars(stmt.order_by(Returnee.id.desc()).limit(limit)))


@dataclass(frozen=True)
class PeopleFilter:
    counsellors: Sequence[User]
    case_managers: Sequence[User]


def people_filter(*, actor: Actor) -> PeopleFilter:
    """The staff the case list filters by: every counsellor and case manager for those who see
    every office, the colleagues of one's own office otherwise."""

    def staff(role: Role) -> Sequence[User]:
        stmt = sa.select(User).where(User.role == role).order_by(User.full_name)
        if not sees_all_offices(actor):
            if actor.role != role:
                return []
            stmt = stmt.where(User.office_id == actor.office_id)
        return db.session.scalars(stmt).all()

    return PeopleFilter(staff(Role.COUNSELLOR), staff(Role.CASE_MANAGER))
