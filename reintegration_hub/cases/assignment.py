"""Reassignment and transfer: a case changes hands when its staff change.

A case has a counsellor at its host office and, once the origin office takes it on, a case
manager at its origin office. The supervisor of the office concerned (``followups.ownership``)
or an administrator gives one case, or many at once, to another member of staff:

- a **counsellor of the case's host office**, or of **another host office** when the case is
  transferred there (``transfer``: the case's host office becomes the counsellor's office);
- a **case manager of the case's origin office** (a case without an origin office yet takes the
  case manager's office, which must be in the country of return).

Who may: an administrator; the supervisor of the case's host office for counsellors and
transfers; the supervisor of its origin office (of the case manager's office, while the case
has none) for case managers. A case out of the actor's scope answers NotFound.

All or nothing: a batch where one case cannot go to that person is refused as a whole, naming
the cases in the way. For each case that changes: its owner columns, its open milestones
follow the new offices (``follow_owner``: the next sweep's reminders and escalations go to the
new owner and their office's supervisor), the partners' contact on its open referrals becomes
the new case manager, one audit row (``case.reassign`` or ``case.transfer``); and one e-mail
(outbox) tells the new owner which cases are theirs now. A few statements whatever the size of
the batch (up to ``MAX_CASES``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from partners.models import Referral, ReferralStatus
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import MessageKey, app_path, message_key, queue_message
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.actions import clean_text
from reintegration_hub.followups.ownership import follow_owner, supervises
from reintegration_hub.plans.models import Plan, PlanLine

#: Cases one reassignment takes at most (the case list's "all that match" included).
MAX_CASES = 500
#: Case numbers an error message or an e-mail lists before "and N more".
LISTED = 20
#: Who may be given cases.
ASSIGNEE_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER})
#: Referrals whose partner still writes to the case manager.
LIVE_REFERRALS = (ReferralStatus.SENT, ReferralStatus.ACCEPTED)


class Change(enum.StrEnum):
    REASSIGN = "reassign"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class AssignmentResult:
    owner: User
    change: Change
    changed: list[Returnee]
    unchanged: list[Returnee]  # theirs already


def _numbers(cases: Sequence[Returnee]) -> str:
    shown = ", ".join(case.case_number for case in cases[:LISTED])
    more = len(cases) - LISTED
    return shown if more <= 0 else _l("%(numbers)s and %(num)d more", numbers=shown, num=more)


def _refuse(field: str, message: Any) -> None:
    raise InvalidInput(message, field_errors={field: [message]})


def _owner(user_id: int, transfer: bool) -> User:
    owner = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
    if owner is None or not owner.is_active or owner.role not in ASSIGNEE_ROLES:
        _refuse("user_id", _l("Choose an active counsellor or case manager."))
    assert owner is not None
    if transfer and owner.role != Role.COUNSELLOR:
        _refuse("user_id", _l("A transferred case goes to a counsellor of its new host office."))
    if transfer and (owner.office.kind != OfficeKind.HOST or not owner.office.is_active):
        _refuse("user_id", _l("A case is transferred to an active host office."))
    return owner


def _check(cases: Sequence[Returnee], owner: User, transfer: bool, actor: Actor) -> Change:
    """Which change this is; InvalidInput naming the cases that cannot go to ``owner``,
    PermissionDenied naming those ``actor`` may not give away."""
    misfits: list[Returnee] = []
    refused: list[Returnee] = []
    for case in cases:
        if owner.role == Role.COUNSELLOR:
            fits = (
                (owner.office_id != case.host_office_id)
                if transfer
                else (owner.office_id == case.host_office_id)
            )
            deciding_office = case.host_office_id
        else:
            origin = case.origin_office_id
            fits = owner.office_id == origin or (
                origin is None
                and owner.office.kind == OfficeKind.ORIGIN
                and owner.office.country_code == case.return_country_code
            )
            deciding_office = origin if origin is not None else owner.office_id
        if not fits:
            misfits.append(case)
        elif actor.role != Role.ADMIN and not supervises(actor, deciding_office):
            refused.append(case)
    if misfits:
        if transfer:
            message = _l("%(numbers)s are at that office already.", numbers=_numbers(misfits))
        elif owner.role == Role.COUNSELLOR:
            message = _l(
                "%(numbers)s are followed by another host office: choose one of its counsellors, "
                "or transfer them to %(office)s.",
                numbers=_numbers(misfits),
                office=owner.office.name,
            )
        else:
            message = _l(
                "%(numbers)s are followed by another origin office: choose one of its case "
                "managers.",
                numbers=_numbers(misfits),
            )
        _refuse("user_id", message)
    if refused:
        raise PermissionDenied(
            _l(
                "Only the office's supervisor or an administrator may give away %(numbers)s.",
                numbers=_numbers(refused),
            )
        )
    return Change.TRANSFER if transfer else Change.REASSIGN


def assign_cases(
    case_ids: Sequence[int], *, user_id: int, transfer: bool = False, note: str = "", actor: Actor
) -> AssignmentResult:
    """Give the cases ``case_ids`` to the counsellor or case manager ``user_id`` (``transfer``:
    a counsellor of another host office, whose office takes the cases). See the module
    docstring for who may and what follows."""
    if actor.role not in {Role.ADMIN, *ASSIGNEE_ROLES}:
        raise PermissionDenied(
            _l("Only an office's supervisor or an administrator reassigns cases.")
        )
    ids = sorted(set(case_ids))
    if not ids:
        _refuse("case_ids", _l("Choose at least one case."))
    if len(ids) > MAX_CASES:
        _refuse("case_ids", _l("Choose at most %(num)d cases at a time.", num=MAX_CASES))
    if not 0 < ids[0] <= ids[-1] < 2**31:  # no row has such an id
        raise NotFound(_l("Not found."))
    note = clean_text(note, "note")
    owner = _owner(user_id, transfer)
    cases = list(
        db.session.scalars(
            scoped(sa.select(Returnee).where(Returnee.id.in_(ids)), Returnee, actor).order_by(
                Returnee.id
            )
        )
    )
    if len(cases) != len(ids):
        raise NotFound(_l("Not found."))
    change = _check(cases, owner, transfer, actor)
    column = "counsellor_id" if owner.role == Role.COUNSELLOR else "case_manager_id"
    changed: list[Returnee] = []
    audit: list[dict[str, Any]] = []
    now = now_utc()
    for case in cases:
        changes: dict[str, list[Any]] = {}
        if getattr(case, column) != owner.id:
            changes[column] = [getattr(case, column), owner.id]
        if change == Change.TRANSFER:
            changes["host_office_id"] = [case.host_office_id, owner.office_id]
        elif column == "case_manager_id" and case.origin_office_id != owner.office_id:
            changes["origin_office_id"] = [case.origin_office_id, owner.office_id]
        if not changes:
            continue
        for name, (_before, after) in changes.items():
            setattr(case, name, after)
        changed.append(case)
        audit.append(
            {
                "at": now,
                "actor_id": actor.id,
                "actor_label": actor.audit_label,
                "action": f"case.{change.value}",
                "object_type": "Returnee",
                "object_id": str(case.id),
                "office_id": case.host_office_id,
                "changes": changes | ({"note": [None, note]} if note else {}),
            }
        )
    if changed:
        db.session.flush()
        first_entry = db.session.scalars(
            sa.insert(AuditEntry).returning(AuditEntry.id, sort_by_parameter_order=True), audit
        ).first()
        follow_owner(case.id for case in changed)
        if column == "case_manager_id":
            _redirect_referrals([case.id for case in changed], owner)
        _tell(
            owner,
            change,
            changed,
            note,
            key=message_key("case-assign:{}:{}", first_entry, owner.id),
        )
    unchanged = [case for case in cases if case not in changed]
    return AssignmentResult(owner=owner, change=change, changed=changed, unchanged=unchanged)


def _redirect_referrals(case_ids: list[int], owner: User) -> None:
    """The partners of the cases' open referrals write to the new case manager from now on."""
    lines = (
        sa.select(PlanLine.referral_id)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .where(Plan.returnee_id.in_(case_ids), PlanLine.referral_id.is_not(None))
    )
    db.session.execute(
        sa.update(Referral)
        .where(Referral.id.in_(lines), Referral.status.in_(LIVE_REFERRALS))
        .values(contact_name=owner.full_name, contact_email=owner.email)
        .execution_options(synchronize_session=False)
    )


def _tell(
    owner: User, change: Change, cases: list[Returnee], note: str, *, key: MessageKey
) -> None:
    base = current_app.config["PUBLIC_BASE_URL"]
    mine: dict[str, Any] = (
        {"counsellor_id": owner.id}
        if owner.role == Role.COUNSELLOR
        else {"case_manager_id": owner.id}
    )
    subject = ngettext(
        "Case %(number)s is yours now",
        "%(num)d cases are yours now",
        len(cases),
        number=cases[0].case_number,
    )
    queue_message(
        key,
        owner.email,
        subject,
        "cases_assigned.txt",
        owner=owner,
        transfer=change == Change.TRANSFER,
        cases=[
            (case.case_number, base + url_for("cases.show", case_id=case.id))
            for case in cases[:LISTED]
        ],
        more=max(len(cases) - LISTED, 0),
        all_url=base + url_for("cases.index", **mine),
        work_url=base + url_for("followups.index"),
        note=note,
        user_id=owner.id,
        app_link=app_path("cases.show", case_id=cases[0].id)
        if len(cases) == 1
        else app_path("cases.index", **mine),
    )


def assignable_staff(*, actor: Actor) -> list[User]:
    """The counsellors and case managers ``actor`` may give cases to: every active one for an
    administrator; for a supervisor, those of their own office, and the counsellors of the
    other host offices (a transfer). Ordered by office and name."""
    stmt = (
        sa.select(User)
        .join(Office, Office.id == User.office_id)
        .where(User.is_active, Office.is_active, User.role.in_(list(ASSIGNEE_ROLES)))
        .order_by(Office.name, User.full_name)
    )
    if actor.role == Role.ADMIN:
        return list(db.session.scalars(stmt))
    if not supervises(actor, actor.office_id):
        return []
    own_office = User.office_id == actor.office_id
    if actor.role == Role.COUNSELLOR:  # and the counsellors a case may be transferred to
        own_office = sa.or_(
            own_office, sa.and_(User.role == Role.COUNSELLOR, Office.kind == OfficeKind.HOST)
        )
    return list(db.session.scalars(stmt.where(own_office)))


def may_reassign(actor: Actor) -> bool:
    """Whether ``actor`` reassigns any case at all (to show the controls)."""
    return actor.role == Role.ADMIN or (
        actor.role in ASSIGNEE_ROLES and supervises(actor, actor.office_id)
    )
