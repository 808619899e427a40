"""The work list: the due and overdue milestones a user answers for or oversees, filtered and
paged (its export, in ``monitoring``, narrows the same statement)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Responsible,
)


@dataclass(frozen=True, kw_only=True)
class WorkListFilters:
    office_id: int | None = None
    responsible: Responsible | None = None
    kind: MilestoneKind | None = None
    overdue_only: bool = False


#: The work list's order: overdue first, then by due date.
WORK_LIST_ORDER = (
    sa.case((Milestone.status == MilestoneStatus.OVERDUE, 0), else_=1),
    Milestone.due_on,
    Milestone.id,
)


#: The milestones each role answers for, and the case column naming the user who does.
MILESTONE_DUTIES: dict[Role, tuple[frozenset[Responsible], Any]] = {
    Role.COUNSELLOR: (frozenset({Responsible.COUNSELLOR}), Returnee.counsellor_id),
    Role.CASE_MANAGER: (
        frozenset({Responsible.CASE_MANAGER, Responsible.PARTNER}),
        Returnee.case_manager_id,
    ),
}


def answered_by(actor: Actor) -> sa.ColumnElement[bool] | None:
    """The milestones of open cases that ``actor`` answers for (their home page's to-do list
    and their calendar feed): a counsellor's on their own cases, a case manager's (theirs and
    their partners') on their own cases, a partner user's all of the lines referred to them
    (within ``scoped``); ``None`` for a role that answers for none. Use it under ``scoped``."""
    open_cases = sa.select(Returnee.id).where(Returnee.status != CaseStatus.CLOSED)
    if actor.role == Role.PARTNER:
        duties = frozenset({Responsible.PARTNER})
    elif actor.role in MILESTONE_DUTIES:
        duties, owner = MILESTONE_DUTIES[actor.role]
        open_cases = open_cases.where(owner == actor.id)
    else:
        return None
    return sa.and_(Milestone.responsible.in_(duties), Milestone.returnee_id.in_(open_cases))


def work_list_where(
    stmt: sa.Select[Any], filters: WorkListFilters, *, actor: Actor
) -> sa.Select[Any]:
    """``stmt`` (selecting from ``milestones``) narrowed to the work list: the due and overdue
    milestones ``actor`` sees, under ``filters``. The page and its export both use it."""
    states = [MilestoneStatus.OVERDUE]
    if not filters.overdue_only:
        states.append(MilestoneStatus.DUE)
    stmt = scoped(stmt.where(Milestone.status.in_(states)), Milestone, actor)
    if filters.office_id is not None:
        stmt = stmt.where(Milestone.office_id == filters.office_id)
    if filters.responsible is not None:
        stmt = stmt.where(Milestone.responsible == filters.responsible)
    if filters.kind is not None:
        stmt = stmt.where(Milestone.kind == filters.kind)
    return stmt


def work_list(
    filters: WorkListFilters, *, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[Milestone]:
    """The due and overdue milestones ``actor`` answers for or oversees: overdue first, then
    by due date; two statements whatever the page size."""
    stmt = work_list_where(sa.select(Milestone), filters, actor=actor)
    stmt = stmt.options(joinedload(Milestone.returnee)).order_by(*WORK_LIST_ORDER)
    return paginate(stmt, page=page, per_page=page_size)


def offices_with_milestones(*, actor: Actor) -> Sequence[Office]:
    """The offices a user may filter the work list by (those who see more than one office)."""
    if actor.role not in {Role.PROGRAMME_MANAGER, Role.ADMIN}:
        return []
    return db.session.scalars(
        sa.select(Office).where(Office.is_active.is_(True)).order_by(Office.name)
    ).all()
