"""Every milestone has an action: done, not applicable, moved, reopened; the arrival."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseStatus, ClosureReason
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import actions
from reintegration_hub.followups.models import (
    ActionKind,
    MilestoneStatus,
    NotApplicableReason,
)
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import case_manager, counsellor, details, origin_office
from tests.clock import travel
from tests.factories import UserFactory, user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(40))  # the first contact (+30) is overdue
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def test_the_origin_case_manager_marks_the_first_contact_done(w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    sweep(day(35))  # overdue since day 31, not escalated yet (7 days)

    actions.mark_done(
        by_key(plan)["first_contact"].id,
        done_on=day(33),
        note="Called from Kutaisi",
        actor=w.case_manager,
    )

    first_contact = by_key(plan)["first_contact"]
    assert first_contact.status == MilestoneStatus.DONE
    assert first_contact.completed_on == day(33)
    assert first_contact.note == "Called from Kutaisi"
    [row] = actions.milestone_history(first_contact.id)
    assert (row.action, row.on_date, row.actor_id) == (ActionKind.DONE, day(33), w.case_manager.id)
    sweep(day(60))  # nothing left to escalate
    assert by_key(plan)["first_contact"].escalation_level == 0
    audited = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.object_type == "Milestone")
    ).all()
    assert audited == ["milestone.done"]


def test_the_origin_case_manager_records_the_arrival(w: World) -> None:
    plan = approved(w, w.option())

    actions.record_arrival(
        w.case.id, arrived_on=day(1), note="Met at the airport", actor=w.case_manager
    )

    assert w.case.arrived_on == day(1)
    arrival = by_key(plan)["arrival"]
    assert (arrival.status, arrival.completed_on) == (MilestoneStatus.DONE, day(1))
    assert arrival.completed_by_id == w.case_manager.id
    assert db.session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "case.arrival"))


def test_marking_the_arrival_done_records_the_arrival_by_the_same_rule(w: World) -> None:
    plan = approved(w, w.option())
    arrival = by_key(plan)["arrival"].id

    with pytest.raises(InvalidInput) as before_departure:
        actions.mark_done(arrival, done_on=day(-1), actor=w.case_manager)
    actions.mark_done(arrival, done_on=day(2), actor=w.case_manager)

    assert "arrived_on" in before_departure.value.field_errors
    assert w.case.arrived_on == day(2)
    assert by_key(plan)["arrival"].completed_on == day(2)


def test_a_corrected_arrival_moves_the_day_the_milestone_was_done(w: World) -> None:
    plan = approved(w, w.option())
    actions.record_arrival(w.case.id, arrived_on=day(1), actor=w.case_manager)

    actions.record_arrival(w.case.id, arrived_on=day(3), actor=w.counsellor)

    assert by_key(plan)["arrival"].completed_on == day(3)


@pytest.mark.parametrize(
    ("arrived", "field"), [(40 + 1, "arrived_on"), (-3, "arrived_on")], ids=["future", "early"]
)
def test_an_arrival_in_the_future_or_before_departure_is_refused(
    w: World, arrived: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        actions.record_arrival(w.case.id, arrived_on=day(arrived), actor=w.case_manager)

    assert field in refused.value.field_errors
    assert w.case.arrived_on is None


def test_the_case_form_refuses_an_arrival_in_the_future(w: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        cases.update_case(
            w.case.id,
            details(origin_office_id=w.tbilisi.id, departed_on=DEPARTURE, arrived_on=day(41)),
            actor=w.counsellor,
        )

    assert "arrived_on" in refused.value.field_errors


def test_partners_and_programme_managers_record_no_arrival(w: World) -> None:
    for role in (Role.PARTNER, Role.PROGRAMME_MANAGER):
        with pytest.raises(PermissionDenied):
            actions.record_arrival(w.case.id, arrived_on=day(1), actor=user_with_role(role))


def test_a_visit_milestone_is_done_by_recording_the_visit(w: World) -> None:
    plan = approved(w, w.option())

    with pytest.raises(Conflict) as refused:
        actions.mark_done(by_key(plan)["visit_90"].id, done_on=day(35), actor=w.case_manager)

    assert "Record the monitoring visit" in str(refused.value)
    assert by_key(plan)["visit_90"].status == MilestoneStatus.UPCOMING


def test_done_in_the_future_or_before_the_return_is_refused(w: World) -> None:
    plan = approved(w, w.option())
    first_contact = by_key(plan)["first_contact"].id

    for when in (day(41), day(-1), dt.date(9999, 12, 31)):
        with pytest.raises(InvalidInput) as refused:
            actions.mark_done(first_contact, done_on=when, actor=w.case_manager)
        assert "done_on" in refused.value.field_errors
    assert by_key(plan)["first_contact"].status == MilestoneStatus.UPCOMING


def test_not_applicable_needs_a_note_for_another_reason(w: World) -> None:
    plan = approved(w, w.option())
    visit = by_key(plan)["visit_90"].id

    with pytest.raises(InvalidInput) as refused:
        actions.mark_not_applicable(visit, reason=NotApplicableReason.OTHER, actor=w.case_manager)
    actions.mark_not_applicable(
        visit,
        reason=NotApplicableReason.RETURNEE_MOVED,
        note="Moved to Batumi",
        actor=w.case_manager,
    )

    assert "note" in refused.value.field_errors
    milestone = by_key(plan)["visit_90"]
    assert milestone.status == MilestoneStatus.CANCELLED
    assert milestone.not_applicable_reason == NotApplicableReason.RETURNEE_MOVED
    assert milestone.note == "Moved to Batumi"
    with pytest.raises(Conflict):  # closed already
        actions.mark_not_applicable(
            visit, reason=NotApplicableReason.SECURITY, actor=w.case_manager
        )


def test_a_moved_milestone_is_reminded_and_escalated_from_its_new_date(w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    sweep(day(38))
    assert by_key(plan)["first_contact"].status == MilestoneStatus.OVERDUE

    actions.move_milestone(
        by_key(plan)["first_contact"].id,
        due_on=day(50),
        reason="The returnee is in hospital until then",
        actor=w.case_manager,
    )

    moved = by_key(plan)["first_contact"]
    assert (moved.status, moved.escalation_level) == (MilestoneStatus.UPCOMING, 0)
    assert (moved.due_on, moved.remind_on, moved.supervisor_on) == (day(50), day(43), day(57))
    assert moved.offset_days == 50
    db.session.commit()
    sweep(day(45))
    assert by_key(plan)["first_contact"].status == MilestoneStatus.DUE
    sweep(day(57))
    assert by_key(plan)["first_contact"].escalation_level == 1
    [row] = actions.milestone_history(moved.id)
    assert (row.previous_due_on, row.on_date) == (day(30), day(50))


def test_a_move_keeps_inside_the_window_and_not_in_the_past(w: World) -> None:
    plan = approved(w, w.option())
    first_contact = by_key(plan)["first_contact"].id

    for when in (day(39), day(396), dt.date(9999, 1, 1), day(30)):
        with pytest.raises(InvalidInput) as refused:
            actions.move_milestone(first_contact, due_on=when, reason="x", actor=w.case_manager)
        assert "due_on" in refused.value.field_errors
    with pytest.raises(InvalidInput) as no_reason:
        actions.move_milestone(first_contact, due_on=day(45), reason="  ", actor=w.case_manager)
    assert "reason" in no_reason.value.field_errors


def test_a_later_return_date_keeps_a_moved_milestone_where_it_was_moved_to(w: World) -> None:
    plan = approved(w, w.option())
    actions.move_milestone(
        by_key(plan)["first_contact"].id, due_on=day(50), reason="Travelling", actor=w.case_manager
    )

    cases.update_case(
        w.case.id,
        details(origin_office_id=w.tbilisi.id, departed_on=day(5)),
        actor=w.counsellor,
    )

    assert by_key(plan)["first_contact"].due_on == day(55)


def test_a_mistake_is_reopened_and_the_sweep_decides_again(w: World) -> None:
    plan = approved(w, w.option())
    first_contact = by_key(plan)["first_contact"].id
    actions.mark_not_applicable(
        first_contact, reason=NotApplicableReason.RETURNEE_UNREACHABLE, actor=w.case_manager
    )

    actions.reopen_milestone(first_contact, reason="Wrong case", actor=w.case_manager)

    reopened = by_key(plan)["first_contact"]
    assert (reopened.status, reopened.not_applicable_reason) == (MilestoneStatus.UPCOMING, None)
    db.session.commit()
    sweep(day(40))
    assert by_key(plan)["first_contact"].status == MilestoneStatus.OVERDUE
    with pytest.raises(Conflict):  # open: nothing to reopen
        actions.reopen_milestone(first_contact, reason="again", actor=w.case_manager)
    actions.record_arrival(w.case.id, arrived_on=day(1), actor=w.case_manager)
    with pytest.raises(Conflict):  # done by its record, not by hand
        actions.reopen_milestone(by_key(plan)["arrival"].id, reason="x", actor=w.case_manager)


def test_the_window_closes_by_itself(w: World) -> None:
    plan = approved(w, w.option())

    with pytest.raises(Conflict):
        actions.move_milestone(
            by_key(plan)["window_closes"].id, due_on=day(100), reason="x", actor=w.case_manager
        )


def test_who_may_act_on_a_case_managers_milestone(w: World) -> None:
    plan = approved(w, w.option())
    first_contact = by_key(plan)["first_contact"].id
    colleague = case_manager(w.tbilisi)
    elsewhere = case_manager(origin_office())  # another Georgian office: out of scope
    partner = UserFactory(role=Role.PARTNER, office=w.tbilisi)

    with pytest.raises(PermissionDenied):  # the counsellor sees it, the origin office acts
        actions.mark_done(first_contact, done_on=day(35), actor=w.counsellor)
    with pytest.raises(PermissionDenied):
        actions.mark_done(first_contact, done_on=day(35), actor=w.programme_manager)
    for outsider in (elsewhere, partner, counsellor()):
        with pytest.raises(NotFound):
            actions.mark_done(first_contact, done_on=day(35), actor=outsider)
    actions.mark_done(first_contact, done_on=day(35), actor=colleague)  # any owner may step in

    assert by_key(plan)["first_contact"].completed_by_id == colleague.id
    assert actions.available_actions(by_key(plan)["visit_90"], w.counsellor) == frozenset()
    assert actions.available_actions(by_key(plan)["visit_90"], colleague) == {
        "record",
        "not_applicable",
        "move",
    }
    assert actions.available_actions(by_key(plan)["first_contact"], colleague) == {"reopen"}


def test_no_action_once_the_case_is_closed(w: World) -> None:
    plan = approved(w, w.option())
    cases.change_case_status(
        w.case.id, CaseStatus.CLOSED, reason=ClosureReason.WITHDREW, actor=w.counsellor
    )

    with pytest.raises(Conflict):
        actions.mark_done(by_key(plan)["first_contact"].id, done_on=day(35), actor=w.case_manager)
    with pytest.raises(Conflict):
        actions.record_arrival(w.case.id, arrived_on=day(1), actor=w.case_manager)


@pytest.mark.parametrize(
    "text",
    ["nul \x00 inside", "lone \ud800 surrogate", "x" * 1001],
    ids=["nul", "surrogate", "long"],
)
def test_hostile_notes_are_refused_at_the_field(w: World, text: str) -> None:
    plan = approved(w, w.option())
    first_contact = by_key(plan)["first_contact"].id

    with pytest.raises(InvalidInput) as done:
        actions.mark_done(first_contact, done_on=day(35), note=text, actor=w.case_manager)
    with pytest.raises(InvalidInput) as moved:
        actions.move_milestone(first_contact, due_on=day(45), reason=text, actor=w.case_manager)

    assert "note" in done.value.field_errors
    assert "reason" in moved.value.field_errors
    assert by_key(plan)["first_contact"].status == MilestoneStatus.UPCOMING
