"""Who answers for a milestone, who supervises them, and who may act on it.

- **Owner.** A milestone belongs to an office (``Milestone.office_id``): the case's host office
  when the counsellor is responsible, else its origin office (``office_for``). Its owners are
  the users of that office in the role that does the work (``OWNER_ROLES``): counsellors for a
  counsellor's milestone; case managers for a case manager's one and for a partner's (the
  origin case manager follows the partner's delivery and records it when the partner does
  not). Reminders go to the case's own counsellor or case manager; any owner may act, so a
  colleague can step in on the day.
- **Supervisor.** An office's supervisor is the user named on the office
  (``Office.supervisor_id``): an active user of that office in the role it works in (a
  counsellor at a host office, a case manager at an origin office; ``set_office_supervisor``
  checks it). The supervisor is told when the office's milestones are overdue (the sweep's
  first escalation level), may act on any of the office's milestones and reassigns the office's
  cases (``cases.assignment``). Administrators may do all a supervisor may, in every office;
  the home office (programme managers) is told at the second level and acts through them.
- **Completion path.** A milestone has one when some owner can close it: the case is open,
  and for the origin office's milestones the case is shared with the origin office (case
  managers see only those, ``Returnee.visible_to``). The sweep escalates only milestones with
  a completion path (``has_completion_path``, the same rule in SQL): nothing goes to a
  supervisor or the home office that its owner could not have closed. (Closing a case cancels
  its open milestones at once: ``services.cancel_case_milestones``.)

When a case changes hands (reassignment, transfer, a new origin office), ``follow_owner``
moves its open milestones to the offices the rule above names now; the sweep reads the case's
counsellor, case manager and office supervisor when it writes each reminder and escalation,
so those follow from its next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import OPEN_STATUSES, Milestone, Responsible

#: The roles that do a milestone's work, by who is responsible for it.
OWNER_ROLES: dict[Responsible, frozenset[Role]] = {
    Responsible.COUNSELLOR: frozenset({Role.COUNSELLOR}),
    Responsible.CASE_MANAGER: frozenset({Role.CASE_MANAGER}),
    Responsible.PARTNER: frozenset({Role.CASE_MANAGER}),
}
#: The role an office's supervisor has, by the kind of office.
SUPERVISOR_ROLES: dict[OfficeKind, Role] = {
    OfficeKind.HOST: Role.COUNSELLOR,
    OfficeKind.ORIGIN: Role.CASE_MANAGER,
}


def office_for(responsible: Responsible, case: Returnee) -> int:
    """The office a milestone of ``case`` belongs to when ``responsible`` answers for it."""
    if responsible == Responsible.COUNSELLOR or case.origin_office_id is None:
        return case.host_office_id
    return case.origin_office_id


def _office_expr() -> sa.ColumnElement[int]:
    """``office_for`` in SQL, for ``Milestone`` rows (correlated with their case)."""
    of_case = Returnee.id == Milestone.returnee_id
    host = sa.select(Returnee.host_office_id).where(of_case).scalar_subquery()
    origin = (
        sa.select(sa.func.coalesce(Returnee.origin_office_id, Returnee.host_office_id))
        .where(of_case)
        .scalar_subquery()
    )
    return sa.case((Milestone.responsible == Responsible.COUNSELLOR, host), else_=origin)


def follow_owner(case_ids: Iterable[int]) -> int:
    """Move the open milestones of ``case_ids`` to the offices their cases name now (after a
    reassignment or a transfer). One statement; returns how many moved. Their state, dates and
    notices stay: the sweep writes the next reminder or escalation to the new owner."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    office = _office_expr()
    result = db.session.execute(
        sa.update(Milestone)
        .where(
            Milestone.returnee_id.in_(ids),
            Milestone.status.in_(OPEN_STATUSES),
            Milestone.office_id != office,
        )
        .values(office_id=office)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_completion_path() -> sa.ColumnElement[bool]:
    """``Milestone`` rows some owner could close now (see the module docstring): the case is
    open, and the origin office's milestones belong to a case shared with it.

    A scalar subquery on purpose: PostgreSQL runs it as a primary-key lookup for the rows the
    sweep's other conditions leave (a few overdue milestones), where an ``EXISTS`` is planned
    as a join that reads every returnee."""
    path = (
        sa.select(
            sa.and_(
                Returnee.status != CaseStatus.CLOSED,
                sa.or_(
                    Milestone.responsible == Responsible.COUNSELLOR,
                    Returnee.shares_with_origin.is_(True),
                ),
            )
        )
        .where(Returnee.id == Milestone.returnee_id)
        .scalar_subquery()
    )
    return path.is_(True)


# --- supervisors -----------------------------------------------------------------------------


def supervises(actor: Actor, office_id: int | None) -> bool:
    """Whether ``actor`` is the supervisor of ``office_id`` (and still works there)."""
    if actor.id is None or office_id is None or actor.office_id != office_id:
        return False
    found = db.session.scalar(
        sa.select(Office.id).where(Office.id == office_id, Office.supervisor_id == actor.id)
    )
    return found is not None


def may_act(milestone: Milestone, actor: Actor) -> bool:
    """Whether ``actor`` may mark ``milestone`` done, not applicable or moved, or reopen it
    (the caller has checked its scope): its owners, its office's supervisor, administrators."""
    if actor.role == Role.ADMIN:
        return True
    if actor.office_id != milestone.office_id:
        return False
    return actor.role in OWNER_ROLES[milestone.responsible] or supervises(
        actor, milestone.office_id
    )


@dataclass(frozen=True)
class SupervisorRow:
    office: Office
    candidates: Sequence[User]  # who may be its supervisor


def office_supervisors(*, actor: Actor) -> list[SupervisorRow]:
    """Every active host and origin office with its supervisor and the users who may be it.
    Two statements."""
    _admin(actor)
    offices = db.session.scalars(
        sa.select(Office)
        .where(Office.is_active, Office.kind.in_(list(SUPERVISOR_ROLES)))
        .order_by(Office.kind, Office.name)
    ).all()
    users = db.session.scalars(
        sa.select(User)
        .where(User.is_active, User.office_id.in_([office.id for office in offices]))
        .order_by(User.full_name)
    ).all()
    return [
        SupervisorRow(
            office,
            [
                user
                for user in users
                if user.office_id == office.id and user.role == SUPERVISOR_ROLES[office.kind]
            ],
        )
        for office in offices
    ]


def set_office_supervisor(office_id: int, user_id: int | None, *, actor: Actor) -> Office:
    """Name the office's supervisor (``None``: nobody; the first escalation level is then
    skipped for its milestones). Administrators only; the user must be an active user of the
    office in the role it works in."""
    _admin(actor)
    office = db.session.get(Office, office_id)
    if office is None:
        raise NotFound(_l("Not found."))
    wanted = SUPERVISOR_ROLES.get(office.kind)
    if wanted is None:
        raise InvalidInput(
            _l("Only host and origin offices have a supervisor."),
            field_errors={"supervisor_id": [_l("Only host and origin offices have a supervisor.")]},
        )
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is None or not user.is_active or user.office_id != office.id or user.role != wanted:
            message = _l("Choose an active user of this office in the role it works in.")
            raise InvalidInput(message, field_errors={"supervisor_id": [message]})
    if office.supervisor_id != user_id:
        changes = {"supervisor_id": [office.supervisor_id, user_id]}
        office.supervisor_id = user_id
        record_audit("office.supervisor", office, actor=actor, changes=changes)
    return office


def _admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Your role cannot do this."))
