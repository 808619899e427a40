"""Reassignment and transfer: by a supervisor or an administrator, one case or many, all or
nothing; milestones, reminders, escalations and the partners' contact follow the new owner."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from partners.models import Referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases import assignment
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus, Responsible
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans.models import Plan
from tests.cases.helpers import case_manager, counsellor, details, host_office, origin_office
from tests.factories import user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import World, single_mother, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def another_case(w: World) -> Returnee:
    case = single_mother(w.counsellor, w.tbilisi)
    case.case_manager_id, case.departed_on = w.case_manager.id, DEPARTURE
    return case


def approve(w: World, case: Returnee) -> Plan:
    original, w.case = w.case, case
    plan = approved(w, w.option(lead_time_days=60))
    w.case = original
    return plan


def reminded(plan: Plan, key: str) -> list[str]:
    """Who was sent the reminder (level 0) of the plan's milestone ``key``."""
    milestone = by_key(plan)[key]
    return sorted(
        db.session.scalars(
            sa.select(OutboxMessage.to_address).where(
                OutboxMessage.key.like(f"milestone:{milestone.id}:0:%")
            )
        )
    )


def messages_to(user: User, prefix: str = "case-assign:") -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.to_address == user.email, OutboxMessage.key.like(f"{prefix}%")
            )
        )
    )


def test_bulk_reassignment_sends_the_next_sweeps_reminders_to_the_new_case_manager(
    w: World,
) -> None:
    supervisor = case_manager(w.tbilisi)
    w.tbilisi.supervisor_id = supervisor.id
    newcomer = case_manager(w.tbilisi)
    plans = [approve(w, w.case), approve(w, another_case(w))]
    db.session.commit()

    result = assignment.assign_cases(
        [plan.returnee_id for plan in plans],
        user_id=newcomer.id,
        note="Nino is on leave",
        actor=supervisor,
    )
    db.session.commit()
    sweep(day(11))  # the arrival (+14) is in its reminder lead

    assert len(result.changed) == 2
    for plan in plans:
        assert reminded(plan, "arrival") == [newcomer.email]
    [told] = messages_to(newcomer)
    assert all(plan.returnee.case_number in told.body_text for plan in plans)
    assert "Nino is on leave" in told.body_text
    assert "2 cases" in told.subject
    assert (
        db.session.scalars(
            sa.select(AuditEntry.changes).where(AuditEntry.action == "case.reassign")
        ).all()
        == [
            {
                "case_manager_id": [w.case_manager.id, newcomer.id],
                "note": [None, "Nino is on leave"],
            }
        ]
        * 2
    )


def test_escalations_of_a_transferred_case_go_to_its_new_offices_supervisor(w: World) -> None:
    plan = approve(w, w.case)
    contact = by_key(plan)["first_contact"]
    contact.responsible, contact.office_id = Responsible.COUNSELLOR, w.riga.id
    riga_head = counsellor(w.riga)
    w.riga.supervisor_id = riga_head.id
    prague = host_office("CZ", "Prague")
    prague_head, receiver = counsellor(prague), counsellor(prague)
    prague.supervisor_id = prague_head.id
    db.session.commit()

    result = assignment.assign_cases(
        [w.case.id], user_id=receiver.id, transfer=True, actor=riga_head
    )
    db.session.commit()
    sweep(day(40))  # first contact (+30) overdue, 7 days later its office's supervisor

    assert result.change == assignment.Change.TRANSFER
    assert (w.case.host_office_id, w.case.counsellor_id) == (prague.id, receiver.id)
    assert by_key(plan)["first_contact"].office_id == prague.id
    assert by_key(plan)["arrival"].office_id == w.tbilisi.id  # the origin office's stays
    supervised = db.session.scalars(
        sa.select(OutboxMessage.to_address).where(
            OutboxMessage.key.like(f"milestone:{contact.id}:1:%")
        )
    ).all()
    assert supervised == [prague_head.email]
    assert reminded(plan, "first_contact") == [receiver.email]
    [told] = messages_to(receiver)
    assert "transferred to" in told.body_text
    assert receiver.full_name in told.body_text
    assert db.session.scalar(
        sa.select(AuditEntry.changes).where(AuditEntry.action == "case.transfer")
    ) == {
        "counsellor_id": [w.counsellor.id, receiver.id],
        "host_office_id": [w.riga.id, prague.id],
    }


def test_a_batch_with_one_case_of_another_office_changes_nothing(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    prague_case = single_mother(counsellor(host_office("CZ", "Prague")), w.tbilisi)
    colleague = counsellor(w.riga)
    db.session.commit()

    with pytest.raises(InvalidInput) as refused:
        assignment.assign_cases([w.case.id, prague_case.id], user_id=colleague.id, actor=admin)

    message = str(refused.value)
    assert prague_case.case_number in message
    assert w.case.case_number not in message
    db.session.rollback()
    assert db.session.get(Returnee, w.case.id).counsellor_id == w.counsellor.id
    assert not db.session.scalar(
        sa.select(AuditEntry.id).where(AuditEntry.action == "case.reassign")
    )


def test_only_the_offices_supervisor_or_an_administrator_reassigns(w: World) -> None:
    colleague = counsellor(w.riga)
    newcomer = case_manager(w.tbilisi)

    with pytest.raises(PermissionDenied):  # a counsellor, not the supervisor
        assignment.assign_cases([w.case.id], user_id=colleague.id, actor=w.counsellor)
    w.riga.supervisor_id = w.counsellor.id
    with pytest.raises(PermissionDenied):  # the host office's supervisor, for the origin's staff
        assignment.assign_cases([w.case.id], user_id=newcomer.id, actor=w.counsellor)
    with pytest.raises(PermissionDenied):
        assignment.assign_cases(
            [w.case.id], user_id=colleague.id, actor=user_with_role(Role.PROGRAMME_MANAGER)
        )
    prague = host_office("CZ", "Prague")
    head = counsellor(prague)
    prague.supervisor_id = head.id
    with pytest.raises(NotFound):  # another host office's supervisor does not see the case
        assignment.assign_cases([w.case.id], user_id=colleague.id, actor=head)
    result = assignment.assign_cases([w.case.id], user_id=colleague.id, actor=w.counsellor)

    assert w.case.counsellor_id == colleague.id
    assert result.change == assignment.Change.REASSIGN


def test_a_counsellor_of_another_office_needs_a_transfer(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    elsewhere = counsellor(host_office("LT", "Vilnius"))

    with pytest.raises(InvalidInput) as refused:
        assignment.assign_cases([w.case.id], user_id=elsewhere.id, actor=admin)
    with pytest.raises(InvalidInput) as case_manager_transfer:
        assignment.assign_cases([w.case.id], user_id=w.case_manager.id, transfer=True, actor=admin)
    with pytest.raises(InvalidInput) as same_office:
        assignment.assign_cases(
            [w.case.id], user_id=counsellor(w.riga).id, transfer=True, actor=admin
        )

    assert "transfer" in str(refused.value)
    assert "user_id" in case_manager_transfer.value.field_errors
    assert "already" in str(same_office.value)


def test_the_partners_write_to_the_new_case_manager(w: World) -> None:
    plan = approve(w, w.case)
    newcomer = case_manager(w.tbilisi)
    admin = user_with_role(Role.ADMIN)

    assignment.assign_cases([w.case.id], user_id=newcomer.id, actor=admin)

    referral = db.session.get(Referral, plan.lines[0].referral_id)
    db.session.refresh(referral)
    assert (referral.contact_email, referral.contact_name) == (newcomer.email, newcomer.full_name)


def test_a_case_without_origin_office_takes_its_case_managers(w: World) -> None:
    w.case.origin_office_id = w.case.case_manager_id = None
    admin = user_with_role(Role.ADMIN)

    assignment.assign_cases([w.case.id], user_id=w.case_manager.id, actor=admin)

    assert (w.case.origin_office_id, w.case.case_manager_id) == (w.tbilisi.id, w.case_manager.id)
    armenian = case_manager(origin_office("AM", "Yerevan"))
    w.case.origin_office_id = w.case.case_manager_id = None
    with pytest.raises(InvalidInput):  # not in the country of return
        assignment.assign_cases([w.case.id], user_id=armenian.id, actor=admin)


def test_the_owner_already_changes_nothing_and_tells_nobody(w: World) -> None:
    admin = user_with_role(Role.ADMIN)

    result = assignment.assign_cases([w.case.id], user_id=w.counsellor.id, actor=admin)

    assert (result.changed, result.unchanged) == ([], [w.case])
    assert messages_to(w.counsellor) == []


@pytest.mark.parametrize(
    ("ids", "user", "note", "field"),
    [
        ([], "colleague", "", "case_ids"),
        (list(range(1, assignment.MAX_CASES + 2)), "colleague", "", "case_ids"),
        ("case", "inactive", "", "user_id"),
        ("case", "partner", "", "user_id"),
        ("case", "colleague", "\x00", "note"),
        ("case", "colleague", "x" * 1001, "note"),
    ],
    ids=["none", "too-many", "inactive", "partner", "nul", "long"],
)
def test_bad_input_is_refused_at_its_field(
    w: World, ids: object, user: str, note: str, field: str
) -> None:
    colleague = counsellor(w.riga)
    users = {
        "colleague": colleague,
        "inactive": counsellor(w.riga),
        "partner": user_with_role(Role.PARTNER, office=w.tbilisi),
    }
    users["inactive"].is_active = False

    with pytest.raises(InvalidInput) as refused:
        assignment.assign_cases(
            [w.case.id] if ids == "case" else ids,  # type: ignore[arg-type]
            user_id=users[user].id,
            note=note,
            actor=user_with_role(Role.ADMIN),
        )

    assert field in refused.value.field_errors


def test_open_milestones_follow_in_one_statement(w: World) -> None:
    plan = approve(w, w.case)
    prague = host_office("CZ", "Prague")
    contact = by_key(plan)["first_contact"]
    contact.responsible, contact.office_id = Responsible.COUNSELLOR, w.riga.id
    by_key(plan)["arrival"].responsible = Responsible.COUNSELLOR  # done: stays where it was
    by_key(plan)["arrival"].status = MilestoneStatus.DONE
    db.session.flush()

    assignment.assign_cases(
        [w.case.id],
        user_id=counsellor(prague).id,
        transfer=True,
        actor=user_with_role(Role.ADMIN),
    )

    offices = dict(
        db.session.execute(
            sa.select(Milestone.step_key, Milestone.office_id).where(Milestone.plan_id == plan.id)
        )
        .tuples()
        .all()
    )
    assert offices["first_contact"] == prague.id
    assert offices["arrival"] == w.tbilisi.id


def test_a_new_origin_office_on_the_case_form_takes_its_open_milestones(w: World) -> None:
    plan = approve(w, w.case)
    batumi = origin_office("GE", "Batumi")
    manager = case_manager(batumi)

    cases.update_case(
        w.case.id,
        details(origin_office_id=batumi.id, case_manager_id=manager.id, departed_on=DEPARTURE),
        actor=w.counsellor,
    )

    assert by_key(plan)["first_contact"].office_id == batumi.id
    assert by_key(plan)["plan_agreed"].office_id == w.tbilisi.id  # done: stays
