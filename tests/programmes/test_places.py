"""Who approves a grant's plans, its reintegration places, and the priority list."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseStatus, ClosureReason, Returnee
from reintegration_hub.core.errors import Conflict, NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan, PlanStatus
from reintegration_hub.programmes import places, services
from reintegration_hub.programmes.models import Grant
from tests.cases.helpers import counsellor, details, host_office
from tests.factories import user_with_role
from tests.plans.helpers import World, single_mother, submitted_plan, world
from tests.programmes.helpers import grant, host_manager, riga_grant, terms
from tests.queries import counted_statements

DEPARTED = dt.date(2026, 3, 1)


@pytest.fixture
def w(app: object) -> World:
    return world()


def _feasible(w: World, case: Returnee) -> Plan:
    """``case``'s plan submitted with one option and confirmed by the Tbilisi case manager."""
    w.case = case
    plan = submitted_plan(w, w.option())
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    return plan


def _on(case: Returnee, funded: Grant) -> Returnee:
    case.grant_id, case.departed_on = funded.id, DEPARTED
    db.session.flush()
    return case


def _another_case(w: World, name: str) -> Returnee:
    case = single_mother(w.counsellor, w.tbilisi, first_name=name)
    case.case_manager_id = w.case_manager.id
    return case


# --- who approves -----------------------------------------------------------------------------


def test_the_host_office_holding_the_grant_approves_when_the_grant_says_so(w: World) -> None:
    riga_manager = host_manager(w.riga)
    plan = _feasible(w, _on(w.case, riga_grant(w.riga)))

    assert plans.review_queue(actor=w.programme_manager).total == 0
    assert [p.id for p in plans.review_queue(actor=riga_manager).items] == [plan.id]
    with pytest.raises(PermissionDenied) as refused:
        plans.approve_plan(plan.id, actor=w.programme_manager)
    assert w.riga.name in str(refused.value)

    plans.approve_plan(plan.id, actor=riga_manager)
    assert plan.status == PlanStatus.APPROVED
    assert plan.approved_by_id == riga_manager.id


def test_the_home_office_approves_by_default_and_a_host_office_cannot(w: World) -> None:
    riga_manager = host_manager(w.riga)
    plan = _feasible(w, _on(w.case, grant()))

    assert plans.review_queue(actor=riga_manager).total == 0
    with pytest.raises(PermissionDenied):
        plans.approve_plan(plan.id, actor=riga_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    assert plan.status == PlanStatus.APPROVED


def test_a_host_office_programme_manager_sees_only_its_own_cases(w: World) -> None:
    vilnius_manager = host_manager(host_office("LT", "Vilnius"))
    riga_manager = host_manager(w.riga)

    with pytest.raises(NotFound):
        cases.get_case(w.case.id, actor=vilnius_manager)
    assert cases.get_case(w.case.id, actor=riga_manager) is w.case
    assert cases.list_cases(actor=vilnius_manager).total == 0
    assert cases.list_cases(actor=w.programme_manager).total == 1


# --- places -----------------------------------------------------------------------------------


def test_no_plan_is_approved_beyond_the_places_and_the_refusal_names_the_priority_list(
    w: World,
) -> None:
    funded = grant(reintegration_places=1)
    first = _feasible(w, _on(w.case, funded))
    plans.approve_plan(first.id, actor=w.programme_manager)
    second = _feasible(w, _on(_another_case(w, "Eka"), funded))

    with pytest.raises(Conflict) as refused:
        plans.approve_plan(second.id, actor=w.programme_manager)
    message = str(refused.value)
    assert f"/programmes/grants/{funded.id}/priority" in message
    assert "All 1 reintegration places" in message
    assert second.status == PlanStatus.FEASIBLE
    assert services.places_of([funded])[funded.id] == services.Places(1, 1)


def test_a_case_closed_before_any_delivery_gives_its_place_back(w: World) -> None:
    funded = grant(reintegration_places=1)
    first = _feasible(w, _on(w.case, funded))
    plans.approve_plan(first.id, actor=w.programme_manager)
    second = _feasible(w, _on(_another_case(w, "Eka"), funded))

    cases.change_case_status(
        first.returnee_id,
        CaseStatus.CLOSED,
        reason=ClosureReason.WITHDREW,
        actor=w.counsellor,
    )
    assert services.places_of([funded])[funded.id].left == 1
    plans.approve_plan(second.id, actor=w.programme_manager)
    assert second.status == PlanStatus.APPROVED


def test_places_cannot_fall_below_the_plans_approved(w: World) -> None:
    funded = grant(reintegration_places=3)
    plans.approve_plan(_feasible(w, _on(w.case, funded)).id, actor=w.programme_manager)
    with pytest.raises(Conflict) as refused:
        services.update_grant(funded.id, terms(reintegration_places=0), actor=w.programme_manager)
    assert "reintegration_places" in refused.value.field_errors
    services.update_grant(funded.id, terms(reintegration_places=1), actor=w.programme_manager)
    assert services.places_of([funded])[funded.id].left == 0


# --- the priority list ------------------------------------------------------------------------


def _candidate(
    adviser, funded: Grant, name: str, needs: list[VulnerabilityCategory], departed: dt.date
) -> Returnee:
    return cases.register_case(
        details(first_name=name, grant_id=funded.id, departed_on=departed),
        vulnerabilities={category: "" for category in needs},
        confirm_duplicate=True,
        actor=adviser,
    )


def test_the_priority_list_puts_the_most_vulnerable_first(app) -> None:
    adviser = counsellor()
    funded = grant(reintegration_places=2)
    late = dt.date(2026, 5, 1)
    early = dt.date(2026, 2, 1)
    V = VulnerabilityCategory
    none_late = _candidate(adviser, funded, "A", [], late)
    parent = _candidate(adviser, funded, "B", [V.SINGLE_PARENT, V.LARGE_FAMILY], late)
    trafficked = _candidate(adviser, funded, "C", [V.TRAFFICKING_VICTIM], late)
    none_early = _candidate(adviser, funded, "D", [], early)
    elderly_ill = _candidate(adviser, funded, "E", [V.SERIOUS_ILLNESS, V.ELDERLY], late)
    closed = _candidate(adviser, funded, "F", [V.TORTURE_VICTIM], early)
    cases.change_case_status(
        closed.id, CaseStatus.CLOSED, reason=ClosureReason.MOVED_AWAY, actor=adviser
    )

    found = places.priority_list(funded.id, actor=user_with_role(Role.PROGRAMME_MANAGER))

    # 4 points (2 categories), 3 points in 2 categories, 3 in 1, then 0 by return date
    assert [r.case_id for r in found.rows.items] == [
        elderly_ill.id,
        parent.id,
        trafficked.id,
        none_early.id,
        none_late.id,
    ]
    assert [r.rank for r in found.rows.items] == [1, 2, 3, 4, 5]
    assert [r.score for r in found.rows.items] == [4, 3, 3, 0, 0]
    assert [r.within_places for r in found.rows.items] == [True, True, False, False, False]
    assert found.rows.items[0].categories == [V.SERIOUS_ILLNESS, V.ELDERLY]
    assert found.rows.items[3].return_on == early
    assert (found.places.funded, found.places.used, found.places.left) == (2, 0, 2)


def test_the_priority_list_is_the_grants_managers_only(app) -> None:
    riga = host_office()
    held = riga_grant(riga)
    with pytest.raises(NotFound):
        places.priority_list(held.id, actor=host_manager(host_office("LT", "Vilnius")))
    with pytest.raises(PermissionDenied):
        places.priority_list(held.id, actor=counsellor(riga))
    assert places.priority_list(held.id, actor=host_manager(riga)).rows.total == 0


def test_the_priority_list_reads_in_a_fixed_number_of_statements(app) -> None:
    adviser = counsellor()
    funded = grant(reintegration_places=2)
    for n in range(6):
        _candidate(adviser, funded, f"N{n}", [VulnerabilityCategory.PREGNANT], dt.date(2026, 1, 1))
    manager = user_with_role(Role.PROGRAMME_MANAGER)
    db.session.flush()
    with counted_statements() as statements:
        found = places.priority_list(funded.id, actor=manager)
    assert found.rows.total == 6
    # the grant, the count, the page, the categories, the places used
    assert len(statements) <= 5
    assert db.session.scalar(sa.select(sa.func.count(Returnee.id))) == 6


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same grant row
def test_two_approvals_at_once_never_take_the_last_place_twice(
    w: World, make_app, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: SQLite lets one writer in at a time, nothing can race")
    funded = grant(reintegration_places=1)
    plan_ids = [
        _feasible(w, _on(w.case, funded)).id,
        _feasible(w, _on(_another_case(w, "Eka"), funded)).id,
    ]
    manager_id = w.programme_manager.id
    db.session.commit()
    racing = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 2, "max_overflow": 0})
    outcomes: list[str] = []
    start = threading.Barrier(2, timeout=60)

    def approve(plan_id: int) -> None:
        with racing.app_context():  # its own session, on its own connection
            db.session.execute(sa.text("SELECT 1"))
            manager = db.session.get(User, manager_id)
            start.wait()
            try:
                plans.approve_plan(plan_id, actor=manager)
                db.session.commit()
                outcomes.append("approved")
            except Conflict:
                db.session.rollback()
                outcomes.append("refused")
            db.session.remove()

    threads = [threading.Thread(target=approve, args=(plan_id,)) for plan_id in plan_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "refused"]
    db.session.expire_all()
    assert services.places_of([funded])[funded.id] == services.Places(1, 1)
