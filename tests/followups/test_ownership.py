"""Office supervisors, and nothing escalated that its owners could not close."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseStatus, ClosureReason
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import actions, ownership
from reintegration_hub.followups.models import MilestoneStatus, Responsible
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import case_manager, counsellor
from tests.factories import user_with_role
from tests.followups.helpers import approved, by_key, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = day(0)
    return w


def test_an_administrator_names_an_office_supervisor_of_the_role_it_works_in(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    head = case_manager(w.tbilisi)

    for wrong in (w.counsellor.id, user_with_role(Role.PARTNER, office=w.tbilisi).id, 10**9):
        with pytest.raises(InvalidInput):
            ownership.set_office_supervisor(w.tbilisi.id, wrong, actor=admin)
    with pytest.raises(PermissionDenied):
        ownership.set_office_supervisor(w.tbilisi.id, head.id, actor=w.case_manager)
    ownership.set_office_supervisor(w.tbilisi.id, head.id, actor=admin)

    assert w.tbilisi.supervisor_id == head.id
    assert ownership.supervises(head, w.tbilisi.id)
    assert not ownership.supervises(w.case_manager, w.tbilisi.id)
    rows = {row.office.id: row for row in ownership.office_supervisors(actor=admin)}
    assert {user.id for user in rows[w.tbilisi.id].candidates} == {w.case_manager.id, head.id}
    assert {user.id for user in rows[w.riga.id].candidates} == {w.counsellor.id}


def test_a_supervisor_who_moved_to_another_office_supervises_it_no_more(w: World) -> None:
    w.tbilisi.supervisor_id = w.case_manager.id
    assert ownership.supervises(w.case_manager, w.tbilisi.id)

    w.case_manager.office_id = case_manager().office_id
    db.session.flush()

    assert not ownership.supervises(w.case_manager, w.tbilisi.id)


def test_a_counsellor_supervising_the_host_office_acts_on_its_counsellors_milestones(
    w: World,
) -> None:
    plan = approved(w, w.option())
    step = by_key(plan)["first_contact"]
    step.responsible, step.office_id = Responsible.COUNSELLOR, w.riga.id  # a host office step
    colleague = counsellor(w.riga)

    assert ownership.may_act(step, colleague)
    assert not ownership.may_act(step, w.case_manager)


def test_nothing_is_escalated_that_no_owner_could_close(w: World) -> None:
    w.tbilisi.supervisor_id = w.case_manager.id
    plan = approved(w, w.option(lead_time_days=60))
    # the returnee withdraws the consent to share with the origin office: its case managers
    # no longer see the case, so none of them can close its milestones
    cases.record_consent(
        w.case.id,
        cases.ConsentInput(
            share_with_origin_office=False, share_with_partners=False, given_on=day(0)
        ),
        actor=w.counsellor,
    )
    db.session.commit()

    sweep(day(60))

    arrival = by_key(plan)["arrival"]
    assert (arrival.status.value, arrival.escalation_level) == ("overdue", 0)
    with pytest.raises(NotFound):  # really out of their reach
        actions.mark_done(arrival.id, done_on=day(1), actor=w.case_manager)

    cases.record_consent(  # shared again: the next run escalates what is overdue
        w.case.id,
        cases.ConsentInput(
            share_with_origin_office=True, share_with_partners=False, given_on=day(0)
        ),
        actor=w.counsellor,
    )
    db.session.commit()
    sweep(day(61))
    assert by_key(plan)["arrival"].escalation_level == 2


def test_closing_a_case_cancels_its_open_milestones_and_nothing_of_it_is_escalated(
    w: World,
) -> None:
    plan = approved(w, w.option())
    cases.change_case_status(
        w.case.id, CaseStatus.CLOSED, reason=ClosureReason.REMIGRATED, actor=w.counsellor
    )

    statuses = {m.step_key: m.status.value for m in by_key(plan).values()}
    assert statuses["plan_agreed"] == "done"
    assert {s for key, s in statuses.items() if key != "plan_agreed"} == {"cancelled"}
    audited = db.session.scalar(
        sa.select(AuditEntry.changes)
        .where(AuditEntry.action == "case.status")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    assert audited["milestones_cancelled"] == [None, len(statuses) - 1]
    # one left open anyway (closed before milestones were cancelled on closure) is never
    # escalated: nobody can act on a closed case
    by_key(plan)["arrival"].status = MilestoneStatus.OVERDUE
    db.session.commit()

    counts = sweep(day(60))

    assert counts.escalated == 0
    assert by_key(plan)["arrival"].escalation_level == 0
    assert not db.session.scalar(
        sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.key.like("milestone:%"))
    )
