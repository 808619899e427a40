"""Plan rules: the cap, eligibility, pricing, holds on submit, review, approval and referrals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from partners.capacity import free_places
from partners.models import HoldStatus, Referral, ReferralStatus
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.extensions import db
from reintegration_hub.plans import services
from reintegration_hub.plans.models import PlanRevision, PlanStatus
from reintegration_hub.programmes.models import BudgetCapRule, Grant
from tests.clock import TODAY
from tests.plans.helpers import World, other_counsellor, submitted_plan, world


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_the_seeded_eu_rule_caps_a_single_mother_of_two_at_4000_euros(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)

    cap = services.family_cap(w.case)
    assert (cap.adults, cap.dependants) == (1, 2)
    assert cap.rule.name == "EU Reintegration Programme (voluntary return)"
    assert plan.cap_eur_minor == 2 * 100000 + 200000
    assert w.case.status == CaseStatus.PLAN_DRAFT


def test_a_grant_rule_wins_over_the_default_and_adult_dependants_count_as_adults(
    w: World,
) -> None:
    grant = Grant(
        number="G-1",
        title="National programme",
        start_on=dt.date(2026, 1, 1),
        end_on=dt.date(2027, 12, 31),
        currency="EUR",
        total_budget_minor=10**8,
    )
    db.session.add(grant)
    db.session.flush()
    db.session.add(
        BudgetCapRule(
            name="National", grant_id=grant.id, per_adult_minor=300000, per_dependant_minor=50000
        )
    )
    w.case.grant_id = grant.id
    w.case.dependants[0].date_of_birth = dt.date(1970, 1, 1)  # now an adult dependant
    db.session.flush()

    cap = services.family_cap(w.case)

    assert (cap.adults, cap.dependants, cap.amount_minor) == (2, 1, 650000)


def test_lines_are_priced_in_euros_at_the_recorded_rate_and_totalled(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    lari = w.option(cost_minor=150000, currency="GEL")  # GEL 1,500.00
    euro = w.option(cost_minor=40000)

    line = services.add_line(plan.id, lari.id, quantity=2, actor=w.counsellor)
    services.add_line(plan.id, euro.id, actor=w.counsellor)

    assert (line.currency, line.eur_rate, line.total_eur_minor) == ("GEL", Decimal("0.34"), 102000)
    assert plan.total_eur_minor == 102000 + 40000
    services.update_line(line.id, quantity=1, notes="One course", actor=w.counsellor)
    assert plan.total_eur_minor == 51000 + 40000


def test_an_option_that_does_not_fit_is_refused_with_the_reason(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    for_men = w.option(sexes=["male"])

    with pytest.raises(InvalidInput) as refused:
        services.add_line(plan.id, for_men.id, actor=w.counsellor)

    assert "option_id" in refused.value.field_errors
    assert not plan.lines


def test_an_option_of_another_country_or_twice_is_refused(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    option = w.option()
    services.add_line(plan.id, option.id, actor=w.counsellor)

    with pytest.raises(Conflict):
        services.add_line(plan.id, option.id, actor=w.counsellor)
    armenian = w.option(country_code="AM")
    with pytest.raises(Conflict):
        services.add_line(plan.id, armenian.id, actor=w.counsellor)


def test_over_the_cap_submission_needs_a_justification(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    services.add_line(plan.id, w.option(cost_minor=450000).id, actor=w.counsellor)

    with pytest.raises(InvalidInput) as refused:
        services.submit_plan(plan.id, justification="too short", actor=w.counsellor)
    assert "justification" in refused.value.field_errors
    assert plan.status == PlanStatus.DRAFT

    services.submit_plan(
        plan.id,
        justification="Two small children need childcare during the course.",
        actor=w.counsellor,
    )
    assert plan.status == PlanStatus.SUBMITTED
    assert plan.over_cap_justification.startswith("Two small children")


def test_submitting_holds_places_and_joins_the_waitlist_when_full(w: World) -> None:
    roomy, full = w.option(capacity_places=3), w.option(capacity_places=0)

    plan = submitted_plan(w, roomy, full)

    by_option = {line.option_id: line for line in plan.lines}
    assert by_option[roomy.id].hold.status == HoldStatus.HELD
    assert by_option[full.id].hold.status == HoldStatus.WAITLISTED
    assert free_places(roomy.id) == 2
    assert services.waitlist_positions(plan) == {by_option[full.id].id: 1}
    assert w.case.status == CaseStatus.PLAN_SUBMITTED
    queued = db.session.scalars(sa.select(OutboxMessage)).one()
    assert queued.to_address == w.case_manager.email
    assert w.case.case_number in queued.body_text


def test_removing_a_line_gives_its_place_back(w: World) -> None:
    option = w.option(capacity_places=1)
    plan = submitted_plan(w, option)
    services.return_plan(plan.id, comment="Choose a closer course", actor=w.case_manager)
    assert free_places(option.id) == 0

    services.remove_line(plan.lines[0].id, actor=w.counsellor)

    assert free_places(option.id) == 1
    assert plan.total_eur_minor == 0


def test_a_plan_under_review_cannot_be_edited(w: World) -> None:
    plan = submitted_plan(w, w.option())

    with pytest.raises(Conflict):
        services.add_line(plan.id, w.option().id, actor=w.counsellor)


def test_submission_needs_a_line_an_origin_office_and_consent(w: World) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    with pytest.raises(Conflict):
        services.submit_plan(plan.id, actor=w.counsellor)
    services.add_line(plan.id, w.option().id, actor=w.counsellor)
    w.case.shares_with_origin = False
    with pytest.raises(Conflict):
        services.submit_plan(plan.id, actor=w.counsellor)


def test_the_case_manager_returns_with_comments_then_confirms_and_the_pm_approves(
    w: World,
) -> None:
    option = w.option(capacity_places=5, lead_time_days=10)
    plan = submitted_plan(w, option)

    with pytest.raises(InvalidInput):
        services.return_plan(plan.id, comment=" ", actor=w.case_manager)
    services.return_plan(plan.id, comment="Start after the school term", actor=w.case_manager)
    assert (plan.status, w.case.status) == (PlanStatus.RETURNED, CaseStatus.PLAN_DRAFT)
    services.submit_plan(plan.id, actor=w.counsellor)
    with pytest.raises(Conflict):  # the programme manager waits for the feasibility check
        services.approve_plan(plan.id, actor=w.programme_manager)
    services.confirm_feasibility(plan.id, actor=w.case_manager)
    services.approve_plan(plan.id, comment="Approved", actor=w.programme_manager)

    assert (plan.status, w.case.status) == (PlanStatus.APPROVED, CaseStatus.PLAN_APPROVED)
    referral = db.session.get(Referral, plan.lines[0].referral_id)
    assert referral is not None
    assert referral.status == ReferralStatus.SENT
    assert (referral.case_number, referral.first_name) == (w.case.case_number, "Nino")
    assert referral.contact_email == w.case_manager.email
    assert referral.hold_id == plan.lines[0].hold_id
    assert referral.starts_on == TODAY + dt.timedelta(days=10)
    assert "Single parent" in referral.vulnerability_note  # consent shares with partners
    actions = db.session.scalars(
        sa.select(PlanRevision.action)
        .where(PlanRevision.plan_id == plan.id)
        .order_by(PlanRevision.version)
    ).all()
    assert actions == ["create", "add_line", "submit", "return", "submit", "confirm", "approve"]
    assert plan.version == len(actions)


def test_the_partner_learns_no_vulnerability_without_consent_to_share_with_partners(
    w: World,
) -> None:
    w.case.consents[0].share_with_partners = False
    plan = submitted_plan(w, w.option())
    services.confirm_feasibility(plan.id, actor=w.case_manager)
    services.approve_plan(plan.id, actor=w.programme_manager)

    referral = db.session.get(Referral, plan.lines[0].referral_id)
    assert referral is not None
    assert referral.vulnerability_note == ""


def test_a_waitlisted_line_blocks_approval(w: World) -> None:
    plan = submitted_plan(w, w.option(capacity_places=0))
    services.confirm_feasibility(plan.id, actor=w.case_manager)

    with pytest.raises(Conflict):
        services.approve_plan(plan.id, actor=w.programme_manager)
    assert plan.status == PlanStatus.FEASIBLE


def test_roles_and_scope(w: World) -> None:
    plan = submitted_plan(w, w.option())

    with pytest.raises(PermissionDenied):
        services.confirm_feasibility(plan.id, actor=w.counsellor)
    with pytest.raises(PermissionDenied):
        services.approve_plan(plan.id, actor=w.case_manager)
    with pytest.raises(NotFound):
        services.plan_for_case(w.case.id, actor=other_counsellor())
    with pytest.raises(NotFound):
        services.start_plan(w.case.id, actor=other_counsellor("LV", "Daugavpils"))


def test_every_plan_change_is_audited(w: World) -> None:
    submitted_plan(w, w.option())

    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"plan.create", "plan.add_line", "plan.submit", "place.hold"} <= actions
