"""My work on the home page: each role's own share of what waits, counted, within its scope."""

from __future__ import annotations

import datetime as dt

import pytest

from partners.models import PartnerMember, Referral, ReferralStatus
from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseStatus, ClosureReason
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MilestoneStatus, Responsible
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.home import todo
from reintegration_hub.plans import services as plans
from tests.cases.helpers import case_manager, origin_office
from tests.factories import UserFactory, user_with_role
from tests.followups.helpers import approved, by_key, day
from tests.plans.helpers import World, other_counsellor, submitted_plan, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = w.case.arrived_on = day(0)
    return w


def partner_user_of(w: World, partner_id: int) -> User:
    user: User = UserFactory(role=Role.PARTNER, office=w.tbilisi)
    db.session.add(PartnerMember(partner_id=partner_id, user_id=user.id))
    db.session.flush()
    return user


def test_the_case_manager_sees_the_milestones_they_answer_for(w: World, login) -> None:
    plan = approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))  # arrival and first contact overdue, the 90-day visit due

    mine = todo.my_milestones(w.case_manager)

    open_ones = [
        m
        for m in by_key(plan).values()
        if m.status in {MilestoneStatus.DUE, MilestoneStatus.OVERDUE}
        and m.responsible.value in {"case_manager", "partner"}
    ]
    assert mine is not None
    assert mine.count == len(open_ones) == 3
    assert [m.status for m in mine.first][:2] == [MilestoneStatus.OVERDUE] * 2  # overdue first
    page = login(w.case_manager).get("/").data.decode()
    assert 'data-testid="todo-milestones-count">3<' in page
    assert f'href="/follow-up/milestones/{mine.first[0].id}"' in page


def test_another_office_and_another_case_manager_see_none_of_it(w: World) -> None:
    approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))

    colleague = case_manager(w.tbilisi)  # same office, not the case's case manager
    assert todo.my_milestones(colleague).count == 0
    assert todo.my_milestones(other_counsellor()).count == 0
    assert todo.my_milestones(user_with_role(Role.PROGRAMME_MANAGER)) is None


def test_a_closed_case_leaves_nothing_overdue(w: World) -> None:
    approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))
    assert todo.my_milestones(w.case_manager).count == 3

    cases.change_case_status(
        w.case.id, CaseStatus.CLOSED, reason=ClosureReason.WITHDREW, actor=w.case_manager
    )
    db.session.commit()

    assert todo.my_milestones(w.case_manager).count == 0


def test_plans_wait_for_the_reviewer_and_come_back_to_their_counsellor(w: World) -> None:
    plan = submitted_plan(w, w.option())
    db.session.commit()

    queue = todo.my_plans(w.case_manager)
    assert queue is not None
    assert [p.id for p in queue.first] == [plan.id]
    assert todo.my_plans(w.counsellor).count == 0
    assert todo.my_plans(case_manager(origin_office("AM", "Yerevan"))).count == 0

    plans.return_plan(plan.id, comment="The rent is too high", actor=w.case_manager)
    db.session.commit()

    assert todo.my_plans(w.case_manager).count == 0
    assert [p.id for p in todo.my_plans(w.counsellor).first] == [plan.id]
    assert todo.my_plans(other_counsellor()).count == 0


def test_a_referral_waits_for_its_partner_then_for_the_case_manager(w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    referral = db.session.get(Referral, plan.lines[0].referral_id)
    assert referral is not None
    assert referral.status == ReferralStatus.SENT
    partner_user = partner_user_of(w, referral.partner_id)
    stranger = partner_user_of(w, w.option().partner_id)  # another partner's user

    assert [r.id for r in todo.my_referrals(partner_user).first] == [referral.id]
    assert todo.my_referrals(stranger).count == 0
    assert todo.my_referrals(w.case_manager).count == 0

    referral.expires_at = now_utc() - dt.timedelta(hours=1)  # the partner let it lapse
    db.session.commit()

    assert todo.my_referrals(partner_user).count == 0
    assert [r.id for r in todo.my_referrals(w.case_manager).first] == [referral.id]
    assert todo.my_referrals(w.counsellor) is None


def test_listings_to_reverify_are_those_of_the_users_partners(w: World) -> None:
    stale = w.option()
    fresh = w.option()
    stale.stale_since = now_utc() - dt.timedelta(days=3)
    db.session.commit()
    member = partner_user_of(w, stale.partner_id)
    other_member = partner_user_of(w, fresh.partner_id)

    assert [o.id for o in todo.my_listings(w.case_manager).first] == [stale.id]
    assert [o.id for o in todo.my_listings(member).first] == [stale.id]
    assert todo.my_listings(other_member).count == 0
    assert todo.my_listings(case_manager(origin_office("AM", "Yerevan"))).count == 0


def test_failed_emails_wait_for_administrators_only(w: World, login) -> None:
    for number, status in enumerate([OutboxStatus.FAILED, OutboxStatus.SENT, OutboxStatus.QUEUED]):
        db.session.add(
            OutboxMessage(
                key=f"test-{number}",
                kind="test",
                to_address="someone@example.org",
                subject=f"Message {number}",
                body_text="Hello",
                status=status,
            )
        )
    db.session.commit()
    admin = user_with_role(Role.ADMIN)

    failed = todo.my_failed_emails(admin)
    assert failed is not None
    assert [m.subject for m in failed.first] == ["Message 0"]
    assert todo.my_failed_emails(w.case_manager) is None
    assert 'data-testid="todo-failed-emails-count">1<' in login(admin).get("/").data.decode()
    assert 'data-testid="todo-failed-emails"' not in login(w.case_manager).get("/").data.decode()


def test_the_counsellor_sees_the_milestones_of_their_own_cases(w: World) -> None:
    plan = approved(w, w.option())
    # a programme whose template gives the host office's counsellor the first contact
    first_contact = by_key(plan)["first_contact"]
    first_contact.responsible = Responsible.COUNSELLOR
    first_contact.office_id = w.riga.id
    db.session.commit()
    sweep(first_contact.due_on + dt.timedelta(days=1))

    mine = todo.my_milestones(w.counsellor)

    assert mine is not None
    assert [m.id for m in mine.first] == [first_contact.id]
    assert mine.first[0].status == MilestoneStatus.OVERDUE
    assert todo.my_milestones(other_counsellor()).count == 0
