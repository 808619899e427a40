"""The work list: the due and overdue milestones a user answers for or oversees, filtered and
paged (its export narrows the same statement); its filters saved as named lists, a user's own
or shared with their office, the way DHIS2 users keep their working lists; and the field list,
the visits and surveys a case manager has to make, for the page that works offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Responsible,
    SavedWorkList,
)
from reintegration_hub.followups.windows import case_windows


@dataclass(frozen=True, kw_only=True)
class WorkListFilters:
    office_id: int | None = None
    responsible: Responsible | None = None
    kind: MilestoneKind | None = None
    overdue_only: bool = False
    mine: bool = False  # only the milestones the user answers for (``answered_by``)

    def query_args(self) -> dict[str, str]:
        """The work list's query string for these filters (the page's own parameters)."""
        args = {
            "office_id": str(self.office_id) if self.office_id is not None else None,
            "responsible": self.responsible.value if self.responsible else None,
            "kind": self.kind.value if self.kind else None,
            "overdue": "1" if self.overdue_only else None,
            "mine": "1" if self.mine else None,
        }
        return {name: value for name, value in args.items() if value is not None}

    def stored(self) -> dict[str, Any]:
        """The filters as a saved list keeps them (plain JSON values)."""
        return {
            "office_id": self.office_id,
            "responsible": self.responsible.value if self.responsible else None,
            "kind": self.kind.value if self.kind else None,
            "overdue_only": self.overdue_only,
            "mine": self.mine,
        }

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> WorkListFilters:
        responsible, kind = stored.get("responsible"), stored.get("kind")
        return cls(
            office_id=stored.get("office_id"),
            responsible=Responsible(responsible) if responsible else None,
            kind=MilestoneKind(kind) if kind else None,
            overdue_only=bool(stored.get("overdue_only")),
            mine=bool(stored.get("mine")),
        )


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
    if filters.mine:
        mine = answered_by(actor)
        stmt = stmt.where(mine if mine is not None else sa.false())
    return stmt


def work_list(
    filters: WorkListFilters, *, actor: Actor, page: int = 1, page_size: int = 50
) -> Page[Milestone]:
    """The due and overdue milestones ``actor`` answers for or oversees: overdue first, then
    by due date; two statements whatever the page size."""
    stmt = work_list_where(sa.select(Milestone), filters, actor=actor)
    stmt = stmt.options(joinedload(Milestone.returnee)).order_by(*WORK_LIST_ORDER)
    return paginate(stmt, page=page, per_page=page_size)


#: The field list looks this many days ahead: a trip to a region is planned a few weeks early.
FIELD_DAYS_AHEAD = 30
#: At most this many field items (a case manager's month of visits is a few dozen).
FIELD_MAX_ITEMS = 200


@dataclass(frozen=True)
class FieldItem:
    """One visit or survey to make, with only what the offline forms need: the case by its
    pseudonymous number and town, never its name, contact or plan."""

    milestone: Milestone
    window_ends_on: dt.date | None  # the last day a visit or survey may carry
    opens_on: dt.date | None  # the first day of the milestone's own window (None: no arrival)
    closes_before: dt.date | None  # the day its window closes (None: with the case's window)

    @property
    def case(self) -> Returnee:
        return self.milestone.returnee


def field_work(*, actor: Actor, today: dt.date | None = None) -> list[FieldItem]:
    """The open monitoring-visit and survey milestones ``actor`` answers for (``answered_by``,
    within ``scoped``: their own open cases of their office), overdue or due within
    ``FIELD_DAYS_AHEAD`` days, by due date, each with the days a record of it may carry; at
    most ``FIELD_MAX_ITEMS``. Three statements."""
    mine = answered_by(actor)
    if mine is None:
        return []
    horizon = (today or now_utc().date()) + dt.timedelta(days=FIELD_DAYS_AHEAD)
    stmt = scoped(
        sa.select(Milestone).where(
            mine,
            Milestone.kind.in_(
                (MilestoneKind.MONITORING_VISIT, MilestoneKind.SUSTAINABILITY_SURVEY)
            ),
            Milestone.status.in_(
                (MilestoneStatus.UPCOMING, MilestoneStatus.DUE, MilestoneStatus.OVERDUE)
            ),
            Milestone.due_on <= horizon,
        ),
        Milestone,
        actor,
    )
    milestones = db.session.scalars(
        stmt.options(joinedload(Milestone.returnee))
        .order_by(Milestone.due_on, Milestone.id)
        .limit(FIELD_MAX_ITEMS)
    ).all()
    case_ids = {m.returnee_id for m in milestones}
    ends = dict(
        db.session.execute(
            sa.select(Milestone.returnee_id, sa.func.max(Milestone.due_on))
            .where(
                Milestone.returnee_id.in_(case_ids),
                Milestone.kind == MilestoneKind.WINDOW_CLOSES,
            )
            .group_by(Milestone.returnee_id)
        )
        .tuples()
        .all()
    )
    spans = case_windows([m.returnee for m in milestones])
    return [
        FieldItem(m, ends.get(m.returnee_id), *spans.get(m.id, (None, None))) for m in milestones
    ]


def offices_with_milestones(*, actor: Actor) -> Sequence[Office]:
    """The offices a user may filter the work list by (those who see more than one office)."""
    if actor.role not in {Role.PROGRAMME_MANAGER, Role.ADMIN}:
        return []
    return db.session.scalars(
        sa.select(Office).where(Office.is_active.is_(True)).order_by(Office.name)
    ).all()


#: How many lists a user may keep (a working list is a handful, not a history).
SAVED_LISTS_MAX = 30


def saved_lists(*, actor: Actor) -> Sequence[SavedWorkList]:
    """The lists ``actor`` may open: their own, and those shared with their office."""
    return db.session.scalars(
        sa.select(SavedWorkList)
        .where(
            sa.or_(
                SavedWorkList.owner_id == actor.id,
                sa.and_(SavedWorkList.shared, SavedWorkList.office_id == actor.office_id),
            )
        )
        .order_by(SavedWorkList.name, SavedWorkList.id)
    ).all()


def save_list(name: str, filters: WorkListFilters, *, shared: bool, actor: Actor) -> SavedWorkList:
    """Keep ``filters`` as ``actor``'s list ``name`` (replacing their list of that name),
    shared with their office or not."""
    if actor.id is None or actor.office_id is None:
        raise PermissionDenied(_l("Only users keep work lists."))
    name = name.strip()
    if not name:
        message = _l("Name the list.")
        raise InvalidInput(message, field_errors={"name": [message]})
    found = db.session.scalar(
        sa.select(SavedWorkList).where(
            SavedWorkList.owner_id == actor.id, SavedWorkList.name == name
        )
    )
    if found is None:
        kept = db.session.scalar(
            sa.select(sa.func.count()).where(SavedWorkList.owner_id == actor.id)
        )
        if (kept or 0) >= SAVED_LISTS_MAX:
            message = _l("You keep %(max)d lists already: delete one first.", max=SAVED_LISTS_MAX)
            raise InvalidInput(message, field_errors={"name": [message]})
        found = SavedWorkList(owner_id=actor.id, office_id=actor.office_id, name=name)
    found.filters = filters.stored()
    found.shared = shared
    record_audit("work_list.save", found, actor=actor)
    return found


def saved_list(list_id: int, *, actor: Actor) -> SavedWorkList:
    """A list ``actor`` may open; NotFound otherwise."""
    found = next((kept for kept in saved_lists(actor=actor) if kept.id == list_id), None)
    if found is None:
        raise NotFound(_l("No such work list."))
    return found


def delete_list(list_id: int, *, actor: Actor) -> None:
    """Delete a list: its owner's, or an administrator's doing."""
    found = db.session.get(SavedWorkList, list_id)
    if found is None or (found.owner_id != actor.id and actor.role != Role.ADMIN):
        raise NotFound(_l("No such work list."))
    record_audit("work_list.delete", found, actor=actor, changes={})
    db.session.delete(found)
    db.session.flush()


def overdue_count() -> int:
    """Milestones overdue in every office (the metrics' gauge, no actor: a figure, no case).
    One count on the (status, office) index."""
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Milestone)
            .where(Milestone.status == MilestoneStatus.OVERDUE)
        )
        or 0
    )
