"""The plan page's follow-up timeline (milestones, reminders and escalations with their
e-mails' state, visits, surveys, in date order, in a fixed number of statements) and its
"re-check now" button (the one-plan sweep, in the request)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, NotFound
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import timeline, visits
from reintegration_hub.followups.models import Milestone, MilestoneStatus, VisitMode
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans.models import Plan
from tests.clock import NOW, TODAY
from tests.factories import user_with_role
from tests.followups.helpers import answers, approved, by_key
from tests.plans.helpers import World, other_counsellor, single_mother, submitted_plan, world
from tests.queries import counted_statements

#: Two months ago: visits and surveys of the first days are in the past.
DEPARTURE = TODAY - dt.timedelta(days=60)


def day(offset: int) -> dt.date:
    return DEPARTURE + dt.timedelta(days=offset)


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = w.case.arrived_on = DEPARTURE
    w.tbilisi.supervisor_id = w.case_manager.id  # the manager supervises the office too
    return w


def followed(w: World, plan: Plan) -> None:
    """Arrival overdue and escalated to the supervisor; one reminder e-mail sent, the
    escalation's failed; a visit and a survey recorded."""
    db.session.commit()
    sweep(day(12))  # arrival (+14) due: reminded
    sweep(day(22))  # overdue, and 7 days after: the office supervisor is told
    reminder, escalation = (f"milestone:{by_key(plan)['arrival'].id}:{level}:%" for level in (0, 1))
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.key.like(reminder))
        .values(status=OutboxStatus.SENT, sent_at=NOW)
    )
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.key.like(escalation))
        .values(status=OutboxStatus.FAILED)
    )
    visits.record_visit(
        w.case.id,
        visits.VisitInput(visited_on=day(1), mode=VisitMode.PHONE, findings="Settled in"),
        actor=w.case_manager,
    )
    visits.record_survey(w.case.id, day(2), answers(4, 2, 0), actor=w.case_manager)
    db.session.commit()


def test_the_timeline_puts_everything_in_date_order_with_the_e_mails_state(w: World) -> None:
    plan = approved(w, w.option())
    followed(w, plan)

    entries = timeline.plan_timeline(plan.id, w.case.id)

    assert [entry.on for entry in entries] == sorted(entry.on for entry in entries)
    kinds = [(entry.on, entry.kind) for entry in entries if entry.kind != "milestone"]
    assert kinds[:3] == [(day(1), "visit"), (day(2), "survey"), (day(12), "notice")]
    notices = [entry.item for entry in entries if isinstance(entry.item, timeline.NoticeEntry)]
    reminder = next(n for n in notices if n.milestone_name == "Arrival confirmed" and n.level == 0)
    assert (reminder.messages, reminder.sent, reminder.failed) == (1, 1, 0)
    assert reminder.last_sent_at is not None
    supervisor = next(n for n in notices if n.level == 1)
    assert (supervisor.on_date, supervisor.messages, supervisor.failed) == (day(22), 1, 1)
    milestones = [entry.item for entry in entries if isinstance(entry.item, Milestone)]
    assert len(milestones) == 9
    assert milestones[-1].step_key == "window_closes"


def test_the_timeline_takes_four_statements_whatever_its_length(w: World) -> None:
    small = approved(w, w.option())
    db.session.commit()
    small_ids = small.id, w.case.id
    with counted_statements() as few:
        assert len(timeline.plan_timeline(*small_ids)) == 9

    second = single_mother(w.counsellor, w.tbilisi)
    second.case_manager_id, second.departed_on = w.case_manager.id, DEPARTURE
    second.arrived_on = DEPARTURE
    big = w_plan(w, second, lines=4)
    w.case = second
    followed(w, big)
    big_ids = big.id, second.id
    with counted_statements() as many:
        assert len(timeline.plan_timeline(*big_ids)) > 20

    assert len(few) == len(many) == 4


def w_plan(w: World, case: object, lines: int) -> Plan:
    original = w.case
    w.case = case  # type: ignore[assignment]
    plan = approved(w, *(w.option() for _ in range(lines)))
    w.case = original
    return plan


def test_the_plan_page_shows_the_timeline_in_a_fixed_number_of_statements(w: World, login) -> None:
    small = approved(w, w.option())
    db.session.commit()
    client = login(w.case_manager)
    client.get(f"/cases/{w.case.id}/plan")  # warm-up: templates compiled, caches filled
    with counted_statements() as few:
        page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert page.count('data-testid="milestone"') == 9
    assert small.id

    followed(w, small)
    for offset in (3, 4, 5):  # more visits
        visits.record_visit(
            w.case.id,
            visits.VisitInput(visited_on=day(offset), mode=VisitMode.OFFICE),
            actor=w.case_manager,
        )
    db.session.commit()
    client.get(f"/cases/{w.case.id}/plan")  # the same warm-up: the test's session reloads
    with counted_statements() as many:
        page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)

    assert len(many) == len(few)
    assert page.count('data-testid="visit"') == 4
    assert page.count('data-testid="survey"') == 1
    assert page.count('data-testid="notice"') >= 2
    assert "Settled in" in page
    assert "1 e-mail sent" in page
    assert "1 failed" in page
    assert "Escalation to the office supervisor" in page
    rows = page.split('data-testid="timeline"')[1].split("</table>")[0]
    assert rows.index("Settled in") < rows.index("Escalation to the office supervisor")


# --- re-check now ----------------------------------------------------------------------------


def test_re_check_now_runs_the_sweep_for_this_plan_only(w: World) -> None:
    plan = approved(w, w.option())
    other = single_mother(w.counsellor, w.tbilisi)
    other.case_manager_id, other.departed_on = w.case_manager.id, DEPARTURE
    other_plan = w_plan(w, other, lines=1)

    counts = timeline.recheck_plan(plan.id, actor=w.case_manager, as_of=day(20))

    assert counts.overdue >= 1  # the arrival (+14) at least
    db.session.expire_all()
    assert by_key(plan)["arrival"].status == MilestoneStatus.OVERDUE
    assert by_key(other_plan)["arrival"].status == MilestoneStatus.UPCOMING
    again = timeline.recheck_plan(plan.id, actor=w.case_manager, as_of=day(20))
    assert not any(again.as_dict().values())
    audits = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "plan.recheck")
    ).all()
    assert len(audits) == 2


def test_re_check_now_refuses_out_of_scope_and_unapproved_plans(w: World) -> None:
    plan = approved(w, w.option())
    with pytest.raises(NotFound):
        timeline.recheck_plan(plan.id, actor=other_counsellor())
    draft_case = single_mother(w.counsellor, w.tbilisi)
    original, w.case = w.case, draft_case
    draft = submitted_plan(w, w.option())
    w.case = original
    with pytest.raises(Conflict):
        timeline.recheck_plan(draft.id, actor=w.counsellor)


def test_the_re_check_button_answers_at_once(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    client = login(w.counsellor)
    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert 'data-testid="recheck-form"' in page

    answer = client.post(f"/follow-up/plans/{plan.id}/recheck")

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/cases/{w.case.id}/plan#follow-up")
    shown = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Checked:" in shown
    assert "e-mails queued" in shown
    db.session.expire_all()
    assert by_key(plan)["arrival"].status == MilestoneStatus.OVERDUE  # due 46 days ago
    client.post(f"/follow-up/plans/{plan.id}/recheck")
    again = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "nothing has changed since the last check" in again
    stranger = login(other_counsellor())
    assert stranger.post(f"/follow-up/plans/{plan.id}/recheck").status_code == 404
    partner = login(user_with_role(Role.PARTNER))
    assert partner.post(f"/follow-up/plans/{plan.id}/recheck").status_code == 403
