"""Who approves a grant's plans, its reintegration places, and the priority list that ranks
the returnees waiting for one.

Reintegration assistance is rationed: the Latvian programme funds about 140 reintegrations for
about 280 returns, and the most vulnerable are selected first. A plan is approved only while
its grant has a place left; the priority list shows the order in which the waiting cases
should get the places.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import CaseStatus, Returnee, VulnerabilityEntry
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.errors import Conflict, PermissionDenied
from reintegration_hub.core.paging import Page, count_rows, page_number
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan, PlanStatus
from reintegration_hub.programmes.models import Grant, PlanApprover
from reintegration_hub.programmes.services import (
    Places,
    case_return_day,
    holds_a_place,
    managed_grant,
    places_of,
    places_used,
)

#: How much each vulnerability weighs in the priority list: 3 for harm that needs protection
#: now (trafficking, torture, an unaccompanied child, serious illness), 2 for lasting needs
#: (disability, pregnancy, a single parent of two or more children), 1 for the others.
SEVERITY: dict[VulnerabilityCategory, int] = {
    VulnerabilityCategory.TRAFFICKING_VICTIM: 3,
    VulnerabilityCategory.TORTURE_VICTIM: 3,
    VulnerabilityCategory.UNACCOMPANIED_MINOR: 3,
    VulnerabilityCategory.SERIOUS_ILLNESS: 3,
    VulnerabilityCategory.DISABILITY: 2,
    VulnerabilityCategory.PREGNANT: 2,
    VulnerabilityCategory.SINGLE_PARENT: 2,
    VulnerabilityCategory.ELDERLY: 1,
    VulnerabilityCategory.LARGE_FAMILY: 1,
}
PAGE_SIZE = 100


def tiers() -> list[tuple[int, list[VulnerabilityCategory]]]:
    """The categories by weight, heaviest first (for the page that explains the ranking)."""
    weights = sorted(set(SEVERITY.values()), reverse=True)
    return [(w, [c for c, weight in SEVERITY.items() if weight == w]) for w in weights]


def priority_path(grant_id: int) -> str:
    """The priority list's address, also outside a request (a refusal names the page)."""
    return current_app.url_map.bind("").build("programmes.priority", {"grant_id": grant_id})


# --- approval -------------------------------------------------------------------------------


def may_approve(grant: Grant | None, actor: Actor) -> bool:
    """Administrators approve any plan; a programme manager the plans their office approves:
    the home office's, unless the grant lets the host office holding it approve."""
    if actor.role == Role.ADMIN:
        return True
    if actor.role != Role.PROGRAMME_MANAGER:
        return False
    if grant is None or grant.plans_approved_by == PlanApprover.HOME_OFFICE:
        return actor.office_kind == OfficeKind.HOME
    return actor.office_id == grant.office_id


def check_plan_approval(case: Returnee, *, actor: Actor) -> None:
    """Refuse approving ``case``'s plan when the grant says another office approves
    (PermissionDenied), or when the grant's places are all used and the case holds none yet
    (Conflict, naming the priority list). The grant row stays locked until the caller's
    transaction ends, so two approvals never take the last place twice."""
    grant = None
    if case.grant_id is not None:
        grant = db.session.scalars(
            sa.select(Grant).where(Grant.id == case.grant_id).with_for_update()
        ).one()
    if not may_approve(grant, actor):
        if grant is not None and grant.plans_approved_by == PlanApprover.GRANT_OFFICE:
            office = db.session.get(Office, grant.office_id)
            message = _l(
                "%(office)s approves the plans of grant %(number)s.",
                office=office.name if office else "",
                number=grant.number,
            )
        else:
            message = _l("The home office's programme managers approve this plan.")
        raise PermissionDenied(message)
    if grant is None or grant.reintegration_places is None:
        return
    holds = db.session.scalar(
        sa.select(sa.func.count(Plan.id))
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .where(Returnee.id == case.id, holds_a_place())
    )
    used = places_used([grant.id]).get(grant.id, 0)
    if not holds and used >= grant.reintegration_places:
        raise Conflict(
            _l(
                "All %(funded)d reintegration places of grant %(number)s are used. The "
                "priority list (%(path)s) ranks the returnees waiting for a place; return "
                "this plan, or fund more places in the grant.",
                funded=grant.reintegration_places,
                number=grant.number,
                path=priority_path(grant.id),
            )
        )


def approvable_plans(actor: Actor) -> sa.ColumnElement[bool]:
    """The plans (``Plan``) whose approval is ``actor``'s, by the rule of their case's grant."""
    if actor.role == Role.ADMIN:
        return sa.true()
    if actor.role != Role.PROGRAMME_MANAGER:
        return sa.false()
    by_host = sa.select(Grant.id).where(Grant.plans_approved_by == PlanApprover.GRANT_OFFICE)
    mine = by_host.where(Grant.office_id == actor.office_id)
    if actor.office_kind == OfficeKind.HOME:
        condition = sa.or_(
            Returnee.grant_id.is_(None),
            Returnee.grant_id.not_in(by_host),
            Returnee.grant_id.in_(mine),
        )
    else:
        condition = Returnee.grant_id.in_(mine)
    return sa.exists().where(Returnee.id == Plan.returnee_id, condition)


# --- the priority list ----------------------------------------------------------------------


@dataclass(frozen=True)
class PriorityRow:
    rank: int
    case_id: int
    case_number: str
    host_office: str
    categories: list[VulnerabilityCategory]
    score: int
    return_on: dt.date
    status: CaseStatus
    plan_status: PlanStatus | None
    within_places: bool  # among the first ones for the places left


@dataclass(frozen=True)
class PriorityList:
    grant: Grant
    places: Places
    rows: Page[PriorityRow]


def _waiting(grant_id: int, actor: Actor) -> sa.Select[tuple[int]]:
    """The grant's open cases (in ``actor``'s scope) whose plan holds no place yet."""
    placed = (
        sa.select(Plan.returnee_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .where(Returnee.grant_id == grant_id, holds_a_place())
    )
    stmt = sa.select(Returnee.id).where(
        Returnee.grant_id == grant_id,
        Returnee.status != CaseStatus.CLOSED,
        Returnee.anonymised_at.is_(None),
        Returnee.id.not_in(placed),
    )
    return scoped(stmt, Returnee, actor)


def priority_list(
    grant_id: int, *, actor: Actor, page: int = 1, page_size: int = PAGE_SIZE
) -> PriorityList:
    """The grant's returnees waiting for a place, most vulnerable first: by the summed
    severity of their vulnerability categories (``SEVERITY``), then the number of categories,
    then the earliest return (departure, else deadline, else registration), then the case
    number. Three statements whatever the page size."""
    grant = managed_grant(grant_id, actor=actor)
    page = page_number(page)
    weight = sa.case(SEVERITY, value=VulnerabilityEntry.category, else_=1)
    needs = (
        sa.select(
            VulnerabilityEntry.returnee_id,
            sa.func.sum(weight).label("score"),
            sa.func.count(VulnerabilityEntry.id).label("categories"),
        )
        .join(Returnee, Returnee.id == VulnerabilityEntry.returnee_id)
        .where(Returnee.grant_id == grant.id)  # only the grant's cases, never every case
        .group_by(VulnerabilityEntry.returnee_id)
        .subquery()
    )
    waiting_cases = _waiting(grant.id, actor)
    total = count_rows(waiting_cases)
    waiting = waiting_cases.subquery()
    score = sa.func.coalesce(needs.c.score, 0)
    return_day = case_return_day()
    rows = db.session.execute(
        sa.select(
            Returnee.id,
            Returnee.case_number,
            Office.name,
            score,
            return_day,
            Returnee.status,
            Plan.status,
        )
        .join(waiting, waiting.c.id == Returnee.id)
        .join(Office, Office.id == Returnee.host_office_id)
        .outerjoin(needs, needs.c.returnee_id == Returnee.id)
        .outerjoin(Plan, Plan.returnee_id == Returnee.id)
        .order_by(
            score.desc(),
            sa.func.coalesce(needs.c.categories, 0).desc(),
            return_day,
            Returnee.case_number,
        )
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    categories: dict[int, list[VulnerabilityCategory]] = {}
    for returnee_id, category in db.session.execute(
        sa.select(VulnerabilityEntry.returnee_id, VulnerabilityEntry.category)
        .where(VulnerabilityEntry.returnee_id.in_([r[0] for r in rows]))
        .order_by(VulnerabilityEntry.returnee_id, VulnerabilityEntry.category)
    ):
        categories.setdefault(returnee_id, []).append(category)
    places = places_of([grant])[grant.id]
    first = (page - 1) * page_size + 1
    ranked = [
        PriorityRow(
            rank=first + n,
            case_id=case_id,
            case_number=number,
            host_office=office,
            categories=sorted(categories.get(case_id, []), key=lambda c: (-SEVERITY[c], c.value)),
            score=int(points),
            return_on=_as_date(day),
            status=status,
            plan_status=plan_status,
            within_places=places.left is None or first + n <= places.left,
        )
        for n, (case_id, number, office, points, day, status, plan_status) in enumerate(rows)
    ]
    return PriorityList(grant, places, Page(ranked, int(total), page, page_size))


def _as_date(value: object) -> dt.date:
    """SQLite answers ``date()`` as text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
