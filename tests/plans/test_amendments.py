"""A plan's real year after approval: declines and expiry replaced and referred again, amendments
within or over the approved total and the cap, partial deliveries, returns, withdrawals, stale
versions, the visit that asks for a revision, and waitlisted lines that get a freed place."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.capacity import free_places
from partners.models import DeclineReason, HoldStatus, Referral, ReferralStatus
from partners.referrals import LINK_ACTOR, accept_referral, decline_referral, expire_referrals
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus, VisitMode
from reintegration_hub.followups.visits import VisitInput, record_visit
from reintegration_hub.plans import amendments, services
from reintegration_hub.plans.models import (
    AmendmentStatus,
    LineStatus,
    Plan,
    PlanLine,
    PlanRevision,
    PlanStatus,
)
from tests.database import racing_app
from tests.plans.helpers import (
    World,
    another_case,
    approved_plan,
    other_counsellor,
    submitted_plan,
    world,
)


@pytest.fixture
def w(app: object) -> World:
    return world()


def referral_of(line: PlanLine) -> Referral:
    referral = db.session.get(Referral, line.referral_id)
    assert referral is not None
    return referral


def decline(line: PlanLine, reason: DeclineReason = DeclineReason.LOCATION) -> None:
    decline_referral(
        line.referral_id, reason, note="We only cover flats in Tbilisi", actor=LINK_ACTOR
    )


def delivery_milestone(line: PlanLine) -> Milestone:
    return db.session.scalars(sa.select(Milestone).where(Milestone.plan_line_id == line.id)).one()


def mails_to(address: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.to_address == address)
            .order_by(OutboxMessage.id)
        )
    )


def actions(plan: Plan) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(PlanRevision.action)
            .where(PlanRevision.plan_id == plan.id)
            .order_by(PlanRevision.version)
        )
    )


def test_a_decline_is_replaced_and_the_replacement_referred_and_accepted(w: World) -> None:
    rent = w.option(cost_minor=20400, capacity_places=3)  # EUR 204
    course = w.option(cost_minor=50000)
    plan = approved_plan(w, rent, course)
    rent_line, course_line = plan.lines
    assert plan.total_eur_minor == 70400
    assert free_places(rent.id) == 2

    decline(rent_line)

    assert rent_line.status == LineStatus.DECLINED
    assert plan.total_eur_minor == 50000  # the declined EUR 204 no longer counts
    assert plan.approved_total_eur_minor == 70400
    assert free_places(rent.id) == 3  # its place went back to capacity
    assert delivery_milestone(rent_line).status == MilestoneStatus.CANCELLED
    told = mails_to(w.counsellor.email)[-1]
    assert w.case.case_number in told.subject
    assert "We only cover flats in Tbilisi" in told.body_text
    assert actions(plan)[-1] == "line_declined"

    flat = w.option(cost_minor=19000)  # a landlord in Kutaisi: like for like, within the total
    replacement = amendments.replace_line(rent_line.id, option_id=flat.id, actor=w.counsellor)
    assert (replacement.status, replacement.replaces_id) == (LineStatus.PROPOSED, rent_line.id)
    assert replacement.quantity == rent_line.quantity
    amendment = plan.open_amendment
    assert amendment is not None
    assert (amendment.number, amendment.status) == (1, AmendmentStatus.DRAFT)
    assert plan.total_eur_minor == 50000  # proposed lines count once in effect
    assert amendments.proposed_total(plan, amendment) == 69000
    with pytest.raises(Conflict):  # replaced once
        amendments.replace_line(rent_line.id, actor=w.counsellor)

    amendments.submit_amendment(plan.id, actor=w.counsellor)
    assert replacement.hold is not None
    assert replacement.hold.status == HoldStatus.HELD
    assert amendment.needs_approval is False
    assert w.case.case_number in mails_to(w.case_manager.email)[-1].subject
    with pytest.raises(PermissionDenied):
        amendments.confirm_amendment(plan.id, actor=w.counsellor)

    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    assert amendment.status == AmendmentStatus.APPROVED
    assert replacement.status == LineStatus.ACTIVE
    new_referral = referral_of(replacement)
    assert (new_referral.status, new_referral.option_id) == (ReferralStatus.SENT, flat.id)
    assert new_referral.reference == f"plan-line:{replacement.id}"
    assert delivery_milestone(replacement).status == MilestoneStatus.UPCOMING
    assert plan.total_eur_minor == 69000
    assert amendments.replacements(plan) == {rent_line.id: replacement}
    assert rent_line.status == LineStatus.DECLINED  # its history stays
    assert referral_of(rent_line).status == ReferralStatus.DECLINED

    accept_referral(new_referral.id, actor=LINK_ACTOR)
    assert new_referral.status == ReferralStatus.ACCEPTED
    assert referral_of(course_line).status == ReferralStatus.SENT  # untouched


def test_an_expired_referral_is_referred_to_the_same_partner_again(w: World) -> None:
    option = w.option(cost_minor=30000)
    plan = approved_plan(w, option)
    line = plan.lines[0]

    expire_referrals(now_utc() + dt.timedelta(days=30), actor=SystemActor("test"))

    assert line.status == LineStatus.EXPIRED
    assert plan.total_eur_minor == 0
    again = amendments.replace_line(line.id, actor=w.counsellor)
    assert again.option_id == option.id
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    first, second = referral_of(line), referral_of(again)
    assert (first.status, second.status) == (ReferralStatus.EXPIRED, ReferralStatus.SENT)
    assert first.partner_id == second.partner_id
    assert first.id != second.id
    assert plan.total_eur_minor == 30000


def test_a_replacement_that_is_declined_too_is_replaced_again(w: World) -> None:
    plan = approved_plan(w, w.option(cost_minor=20000))
    first = plan.lines[0]
    decline(first)
    second = amendments.replace_line(first.id, option_id=w.option().id, actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    decline(second, DeclineReason.NO_CAPACITY)

    assert second.status == LineStatus.DECLINED
    third = amendments.replace_line(second.id, option_id=w.option().id, actor=w.counsellor)
    assert third.replaces_id == second.id
    assert plan.open_amendment is not None
    assert plan.open_amendment.number == 2


def test_an_amendment_over_the_cap_needs_a_justification_and_the_programme_manager(
    w: World,
) -> None:
    plan = approved_plan(w, w.option(cost_minor=300000))  # cap EUR 4,000
    expensive = w.option(cost_minor=150000)

    line = amendments.add_support(plan.id, expensive.id, actor=w.counsellor)
    with pytest.raises(InvalidInput) as refused:
        amendments.submit_amendment(plan.id, justification="too short", actor=w.counsellor)
    assert "justification" in refused.value.field_errors

    amendment = amendments.submit_amendment(
        plan.id,
        justification="The family's house burnt down: they need tools and rent together.",
        actor=w.counsellor,
    )
    assert amendment.needs_approval is True
    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    assert amendment.status == AmendmentStatus.FEASIBLE
    assert line.status == LineStatus.PROPOSED
    assert line.referral_id is None
    assert plan.total_eur_minor == 300000
    with pytest.raises(PermissionDenied):
        amendments.approve_amendment(plan.id, actor=w.case_manager)

    amendments.approve_amendment(plan.id, actor=w.programme_manager)

    assert amendment.status == AmendmentStatus.APPROVED
    assert line.status == LineStatus.ACTIVE
    assert referral_of(line).status == ReferralStatus.SENT
    assert plan.total_eur_minor == plan.approved_total_eur_minor == 450000
    assert actions(plan)[-3:] == ["amend_submit", "amend_confirm", "amend_approve"]


def test_raising_the_approved_total_within_the_cap_needs_approval_too(w: World) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    amendments.add_support(plan.id, w.option(cost_minor=10000).id, actor=w.counsellor)
    amendment = amendments.submit_amendment(plan.id, actor=w.counsellor)

    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    assert amendment.needs_approval is True
    assert amendment.status == AmendmentStatus.FEASIBLE


def test_the_returnee_withdraws_a_line_the_case_manager_alone_confirms(w: World) -> None:
    course, rent = w.option(cost_minor=50000, capacity_places=1), w.option(cost_minor=20000)
    plan = approved_plan(w, course, rent)
    course_line, rent_line = plan.lines
    partner_address = course.partner.focal_point_email

    amendments.take_out_line(
        course_line.id, reason="She found a job and leaves the course", actor=w.counsellor
    )
    assert course_line.status == LineStatus.ACTIVE  # until the amendment is in effect
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendment = amendments.confirm_amendment(plan.id, actor=w.case_manager)

    assert amendment.status == AmendmentStatus.APPROVED
    assert not amendment.needs_approval
    assert course_line.status == LineStatus.CANCELLED
    assert referral_of(course_line).status == ReferralStatus.WITHDRAWN
    assert free_places(course.id) == 1
    assert delivery_milestone(course_line).status == MilestoneStatus.CANCELLED
    assert "withdraws" in mails_to(partner_address)[-1].body_text
    assert plan.total_eur_minor == 20000
    assert plan.approved_total_eur_minor == 70000  # the programme manager's figure stays
    assert referral_of(rent_line).status == ReferralStatus.SENT


def test_a_delivered_line_is_reduced_to_what_was_delivered_never_cancelled(w: World) -> None:
    rent = w.option(cost_minor=20400)  # a month's rent, six months planned
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    line = services.add_line(plan.id, rent.id, quantity=6, actor=w.counsellor)
    services.submit_plan(plan.id, actor=w.counsellor)
    services.confirm_feasibility(plan.id, actor=w.case_manager)
    services.approve_plan(plan.id, actor=w.programme_manager)
    referral = referral_of(line)
    accept_referral(referral.id, actor=LINK_ACTOR)
    db.session.add(  # two months paid (an instalment, as the deliveries allow)
        Delivery(
            plan_line_id=line.id,
            delivered_on=dt.date.today(),  # noqa: DTZ011
            amount_minor=40800,
            currency="EUR",
            eur_rate=Decimal(1),
            amount_eur_minor=40800,
            certificate_key="a" * 32,
            certificate_name="handover.pdf",
            certificate_type="application/pdf",
            certificate_size=100,
            certificate_sha256="0" * 64,
        )
    )
    db.session.flush()

    with pytest.raises(Conflict) as refused:
        amendments.take_out_line(line.id, reason="She moved to Batumi", actor=w.counsellor)
    assert "(2)" in str(refused.value)
    with pytest.raises(InvalidInput) as too_low:
        amendments.change_line(line.id, quantity=1, notes="", actor=w.counsellor)
    assert "quantity" in too_low.value.field_errors
    amendments.change_line(
        line.id, quantity=2, notes="", reason="She moved to Batumi", actor=w.counsellor
    )
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    assert (line.status, line.quantity, line.total_eur_minor) == (LineStatus.ACTIVE, 2, 40800)
    assert (referral.quantity, referral.status) == (2, ReferralStatus.DELIVERED)
    assert delivery_milestone(line).status == MilestoneStatus.DONE
    changed = mails_to(rent.partner.focal_point_email)[-1]
    assert "6, now 2" in changed.body_text
    with pytest.raises(InvalidInput) as more:  # delivered in full: more is a new referral
        amendments.change_line(line.id, quantity=3, notes="", actor=w.counsellor)
    assert "new line" in str(more.value)


def test_a_returned_amendment_is_revised_and_resubmitted_or_withdrawn(w: World) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    extra = w.option(cost_minor=20000, capacity_places=1)
    line = amendments.add_support(plan.id, extra.id, actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    assert free_places(extra.id) == 0

    with pytest.raises(InvalidInput):
        amendments.return_amendment(plan.id, comment=" ", actor=w.case_manager)
    amendment = amendments.return_amendment(
        plan.id, comment="This supplier does not deliver to Kutaisi", actor=w.case_manager
    )

    assert amendment.status == AmendmentStatus.RETURNED
    assert "does not deliver to Kutaisi" in mails_to(w.counsellor.email)[-1].body_text
    amendments.change_line(line.id, quantity=2, notes="Two sets", actor=w.counsellor)
    amendments.withdraw_amendment(plan.id, actor=w.counsellor)

    assert amendment.status == AmendmentStatus.WITHDRAWN
    assert line not in plan.lines
    assert free_places(extra.id) == 1  # its held place went back
    assert plan.open_amendment is None
    nxt = amendments.open_amendment(plan.id, reason="Try another supplier", actor=w.counsellor)
    assert nxt.number == 2


def test_a_plan_changed_meanwhile_is_refused_rather_than_overwritten(w: World) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    seen = plan.version
    amendments.change_line(plan.lines[0].id, quantity=2, notes="", actor=w.counsellor)

    with pytest.raises(Conflict) as stale:
        amendments.take_out_line(plan.lines[0].id, expected_version=seen, actor=w.counsellor)

    assert f"version {plan.version}" in str(stale.value)
    assert w.counsellor.audit_label in str(stale.value)


def test_an_amendment_under_review_cannot_be_changed_and_draft_edits_refuse_approved_plans(
    w: World,
) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    with pytest.raises(Conflict):
        services.add_line(plan.id, w.option().id, actor=w.counsellor)
    amendments.change_line(plan.lines[0].id, quantity=2, notes="", actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)

    with pytest.raises(Conflict) as refused:
        amendments.add_support(plan.id, w.option().id, actor=w.counsellor)
    assert "Amendment 1" in str(refused.value)
    with pytest.raises(Conflict):
        amendments.submit_amendment(plan.id, actor=w.counsellor)
    empty = approved_plan(w, w.option(), case=another_case(w))
    amendments.open_amendment(empty.id, actor=w.counsellor)
    with pytest.raises(Conflict) as nothing:
        amendments.submit_amendment(empty.id, actor=w.counsellor)
    assert "changes nothing" in str(nothing.value)


def test_lines_not_touched_keep_their_referrals_deliveries_and_milestones(w: World) -> None:
    plan = approved_plan(w, w.option(), w.option())
    before = {
        line.id: (line.referral_id, line.hold_id, delivery_milestone(line).id)
        for line in plan.lines
    }
    milestones = db.session.scalar(sa.select(sa.func.count(Milestone.id)))

    new = amendments.add_support(plan.id, w.option(cost_minor=10000).id, actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendments.confirm_amendment(plan.id, actor=w.case_manager)  # above the approved total
    amendments.approve_amendment(plan.id, actor=w.programme_manager)

    after = {
        line.id: (line.referral_id, line.hold_id, delivery_milestone(line).id)
        for line in plan.lines
        if line.id in before
    }
    assert after == before
    assert db.session.scalar(sa.select(sa.func.count(Milestone.id))) == milestones + 1
    assert delivery_milestone(new).due_on >= dt.date.today()  # noqa: DTZ011


def test_a_visit_that_needs_a_plan_revision_opens_a_draft_amendment(w: World) -> None:
    plan = approved_plan(w, w.option())
    today = dt.date.today()  # noqa: DTZ011
    w.case.departed_on = today - dt.timedelta(days=100)
    w.case.arrived_on = today - dt.timedelta(days=99)

    visit = record_visit(
        w.case.id,
        VisitInput(
            visited_on=today,
            mode=VisitMode.IN_PERSON,
            findings="The workshop burnt down",
            next_steps="Replace the tools",
            plan_revision_needed=True,
        ),
        actor=w.case_manager,
    )

    amendment = plan.open_amendment
    assert amendment is not None
    assert (amendment.status, amendment.visit_id) == (AmendmentStatus.DRAFT, visit.id)
    told = mails_to(w.counsellor.email)[-1]
    assert "Replace the tools" in told.body_text
    assert "amendment 1" in told.body_text.lower()
    record_visit(  # a second visit: the same draft, the counsellor told again
        w.case.id,
        VisitInput(visited_on=today, mode=VisitMode.PHONE, plan_revision_needed=True),
        actor=w.case_manager,
    )
    assert [a.number for a in plan.amendments] == [1]
    assert len([m for m in mails_to(w.counsellor.email) if "revision" in m.subject]) == 2


def test_a_freed_place_goes_to_the_waitlisted_line_whose_counsellor_is_told(w: World) -> None:
    option = w.option(capacity_places=1)
    first = approved_plan(w, option)
    waiting = submitted_plan(w, option, case=another_case(w))
    waiting_line = waiting.lines[0]
    assert waiting_line.hold is not None
    assert waiting_line.hold.status == HoldStatus.WAITLISTED
    services.confirm_feasibility(waiting.id, actor=w.case_manager)
    with pytest.raises(Conflict):
        services.approve_plan(waiting.id, actor=w.programme_manager)

    decline(first.lines[0], DeclineReason.NO_CAPACITY)

    assert waiting_line.hold.status == HoldStatus.HELD
    assert waiting_line.hold.promoted_at is not None
    assert actions(waiting)[-1] == "place_promoted"
    told = [m for m in mails_to(w.counsellor.email) if "place is free" in m.subject]
    assert len(told) == 1
    assert waiting.returnee.case_number in told[0].subject
    services.approve_plan(waiting.id, actor=w.programme_manager)
    assert waiting.status == PlanStatus.APPROVED


def test_roles_scope_and_hostile_text(w: World) -> None:
    plan = approved_plan(w, w.option())
    line = plan.lines[0]
    decline(line)

    with pytest.raises(PermissionDenied):
        amendments.replace_line(line.id, actor=w.case_manager)
    with pytest.raises(NotFound):
        amendments.replace_line(line.id, actor=other_counsellor())
    with pytest.raises(NotFound):
        amendments.take_out_line(2**40, actor=w.counsellor)
    for hostile in ("nul\x00byte", "lone \ud800 surrogate", "x" * 1001):
        with pytest.raises(InvalidInput) as refused:
            amendments.open_amendment(plan.id, reason=hostile, actor=w.counsellor)
        assert "reason" in refused.value.field_errors
    assert plan.open_amendment is None
    with pytest.raises(InvalidInput):
        amendments.replace_line(line.id, quantity=10**6, actor=w.counsellor)
    active = approved_plan(w, w.option(), case=another_case(w)).lines[0]
    with pytest.raises(Conflict):  # an active line is changed or cancelled, not replaced
        amendments.replace_line(active.id, actor=w.counsellor)


def test_every_amendment_step_is_audited(w: World) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    amendments.change_line(plan.lines[0].id, quantity=1, notes="Mornings", actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    amendments.confirm_amendment(plan.id, actor=w.case_manager)

    audited = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {
        "plan.amend_open",
        "plan.amend_change_line",
        "plan.amend_submit",
        "plan.amend_confirm_apply",
        "referral.change",
    } <= audited


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_two_places_freed_at_the_same_moment_promote_two_waitlisted_lines_once_each(
    w: World, make_app: Callable[..., Flask]
) -> None:
    workers_app = racing_app(make_app)

    for round_number in range(3):
        option = w.option(capacity_places=2)
        holders = [
            approved_plan(w, option, case=another_case(w, f"Holder{round_number}{n}"))
            for n in range(2)
        ]
        waiting = [
            submitted_plan(w, option, case=another_case(w, f"Waiting{round_number}{n}"))
            for n in range(3)
        ]
        referral_ids = [plan.lines[0].referral_id for plan in holders]
        db.session.commit()
        start = threading.Barrier(2)

        def answer(referral_id: int) -> None:
            with workers_app.app_context():
                try:
                    start.wait(timeout=30)  # both declines at the same moment  # noqa: B023
                    decline_referral(referral_id, DeclineReason.NO_CAPACITY, actor=LINK_ACTOR)
                    db.session.commit()
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(answer, referral_ids))

        db.session.expire_all()
        holds = [db.session.get(PlanLine, plan.lines[0].id).hold for plan in waiting]
        assert [hold.status for hold in holds] == [HoldStatus.HELD] * 2 + [HoldStatus.WAITLISTED]
        promotions = [actions(plan).count("place_promoted") for plan in waiting]
        assert promotions == [1, 1, 0]
        told = db.session.scalars(
            sa.select(OutboxMessage.key).where(OutboxMessage.key.like("plan-line:%:promoted"))
        ).all()
        assert sorted(told) == sorted(
            f"plan-line:{plan.lines[0].id}:hold:{plan.lines[0].hold_id}:promoted"
            for plan in waiting[:2]
        )
        assert free_places(option.id) == 0
        for plan in holders:
            assert db.session.get(Plan, plan.id).total_eur_minor == 0
        db.session.execute(sa.delete(OutboxMessage))
        db.session.commit()
