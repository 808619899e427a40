"""The sweep: states, reminders and escalations from the dates, idempotent, windows close."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.core import outbox as outbox_module
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneNotice, MilestoneStatus
from reintegration_hub.followups.sweep import notice_message_key, sweep
from reintegration_hub.plans.models import Plan
from tests.cases.helpers import details
from tests.factories import user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    w.tbilisi.supervisor_id = w.case_manager.id  # the manager supervises the office too
    return w


def state(plan: Plan) -> dict[str, tuple[str, int]]:
    db.session.expire_all()
    return {key: (m.status.value, m.escalation_level) for key, m in by_key(plan).items()}


def outbox() -> list[OutboxMessage]:
    return list(
        db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("milestone:%")))
    )


def test_a_milestone_is_due_then_overdue_then_escalated_with_one_notice_each(w: World) -> None:
    plan = approved(w, w.option(lead_time_days=60))
    db.session.commit()

    sweep(day(11))  # arrival (+14) is inside its 3-day reminder lead
    assert state(plan)["arrival"] == ("due", 0)
    reminders = outbox()
    assert [m.to_address for m in reminders] == [w.case_manager.email]
    assert w.case.case_number in reminders[0].subject

    sweep(day(15))
    assert state(plan)["arrival"] == ("overdue", 0)
    sweep(day(21))  # 7 days overdue: the office supervisor
    assert state(plan)["arrival"] == ("overdue", 1)
    sweep(day(35))  # 21 days overdue: the home office
    assert state(plan)["arrival"] == ("overdue", 2)

    notices = db.session.execute(
        sa.select(MilestoneNotice.kind, MilestoneNotice.level)
        .join(Milestone)
        .where(Milestone.step_key == "arrival")
        .order_by(MilestoneNotice.level)
    ).all()
    assert [(k.value, level) for k, level in notices] == [
        ("reminder", 0),
        ("escalation", 1),
        ("escalation", 2),
    ]
    home_office = [m for m in outbox() if m.to_address == w.programme_manager.email]
    assert len(home_office) >= 1


def test_each_e_mail_names_its_notice_and_is_of_a_reminder_or_escalation_kind(w: World) -> None:
    plan = approved(w, w.option(lead_time_days=60))
    db.session.commit()
    sweep(day(11))  # the arrival's reminder
    sweep(day(21))  # and the office supervisor's escalation
    arrival = by_key(plan)["arrival"]
    notices = db.session.execute(
        sa.select(MilestoneNotice.level, MilestoneNotice.id).where(
            MilestoneNotice.milestone_id == arrival.id
        )
    ).all()
    expected = {
        (notice_message_key(arrival.id, level, w.case_manager.email).text, notice_id)
        for level, notice_id in notices
    }
    assert len(expected) == 2
    assert {(m.key, m.notice_id) for m in outbox()} == expected
    # an escalation is a kind of its own: e-mailed whatever its recipient chose
    assert {m.kind for m in outbox()} == {"milestone", "milestone:escalation"}


def test_running_twice_changes_and_sends_nothing_twice(w: World) -> None:
    plan = approved(w, w.option(), w.option())
    db.session.commit()
    first = sweep(day(120))
    after_first = (
        state(plan),
        len(outbox()),
        db.session.scalar(sa.select(sa.func.count(MilestoneNotice.id))),
    )

    second = sweep(day(120))

    assert first.reminders > 0
    assert first.messages > 0
    assert second.as_dict() == dict.fromkeys(second.as_dict(), 0)
    after_second = (
        state(plan),
        len(outbox()),
        db.session.scalar(sa.select(sa.func.count(MilestoneNotice.id))),
    )
    assert after_second == after_first


def test_a_done_milestone_is_left_alone(w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()

    sweep(day(200))

    assert state(plan)["plan_agreed"] == ("done", 0)


def test_the_window_closes_after_a_year_and_the_grace_period(w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()

    counts = sweep(day(395))

    assert counts.closed_windows == 1
    statuses = state(plan)
    assert statuses["window_closes"] == ("done", 0)
    assert {s for key, (s, _) in statuses.items() if key != "window_closes"} <= {
        "done",
        "cancelled",
    }
    assert sweep(day(400)).closed_windows == 0


def test_the_tick_command_sweeps_as_of_a_day(w: World, runner) -> None:
    plan = approved(w, w.option())
    db.session.commit()

    result = runner.invoke(args=["followups", "tick", "--as-of", day(15).isoformat()])

    assert result.exit_code == 0, result.output
    assert "overdue" in result.output
    assert state(plan)["arrival"][0] == MilestoneStatus.OVERDUE.value


def test_a_milestone_passing_several_thresholds_in_one_sweep_queues_each_notice(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "_MESSAGES_PER_INSERT", 2)  # inserted in several parts
    supervisor = user_with_role(Role.CASE_MANAGER, office=w.tbilisi)
    w.tbilisi.supervisor_id = supervisor.id
    user_with_role(Role.PROGRAMME_MANAGER, office=w.riga)  # a host office's: not told
    plan = approved(w, w.option(lead_time_days=60))
    db.session.commit()
    arrival = by_key(plan)["arrival"]

    # the first sweep is 21 days after the arrival was due: upcoming straight to level 2
    sweep(day(35))

    assert state(plan)["arrival"] == ("overdue", 2)
    assert sent_for(arrival.id) == [
        ("0", w.case_manager.email),  # the reminder
        ("1", supervisor.email),
        ("2", w.programme_manager.email),
    ]
    bodies = {
        m.key.split(":")[2]: m.body_text
        for m in outbox()
        if m.key.startswith(f"milestone:{arrival.id}:")
    }
    for level in "012":  # each text rendered with this milestone's values
        assert "Arrival confirmed" in bodies[level]
        assert w.case.case_number in bodies[level]
        assert day(14).isoformat() in bodies[level]
        assert f"/cases/{w.case.id}/plan" in bodies[level]
    assert "Reminder" in bodies["0"]
    assert "home office" in bodies["2"]


def move_return(w: World, days: int) -> None:
    cases.update_case(
        w.case.id,
        details(origin_office_id=w.tbilisi.id, departed_on=DEPARTURE + dt.timedelta(days=days)),
        actor=w.counsellor,
    )
    db.session.commit()


def sent_for(milestone_id: int) -> list[tuple[str, str]]:
    return sorted(
        (m.key.split(":")[2], m.to_address)
        for m in outbox()
        if m.key.startswith(f"milestone:{milestone_id}:")
    )


def test_a_milestone_moved_into_the_past_after_its_reminder_gets_its_escalations(
    w: World,
) -> None:
    # the sweep writes notices for what its updates change: moving the dates sets the
    # milestone back to upcoming, so the next sweep changes (and notices) it again
    plan = approved(w, w.option(lead_time_days=60))
    db.session.commit()
    arrival = by_key(plan)["arrival"].id
    sweep(day(11))
    assert sent_for(arrival) == [("0", w.case_manager.email)]

    move_return(w, -30)  # the arrival was due 16 days before the departure first recorded
    assert state(plan)["arrival"] == ("upcoming", 0)
    counts = sweep(day(11))

    assert state(plan)["arrival"] == ("overdue", 2)
    assert sent_for(arrival) == [
        ("0", w.case_manager.email),  # reminded once only
        ("1", w.case_manager.email),  # the office's supervisor in this world
        ("2", w.programme_manager.email),
    ]
    assert counts.messages == len(outbox()) - 1


def test_a_milestone_moved_later_is_escalated_when_overdue_again(w: World) -> None:
    plan = approved(w, w.option(lead_time_days=60))
    db.session.commit()
    arrival = by_key(plan)["arrival"].id
    sweep(day(15))
    assert state(plan)["arrival"] == ("overdue", 0)

    move_return(w, 30)  # due on day 44 now
    assert state(plan)["arrival"] == ("upcoming", 0)
    sweep(day(45))
    assert state(plan)["arrival"] == ("overdue", 0)
    sweep(day(51))  # 7 days overdue

    assert state(plan)["arrival"] == ("overdue", 1)
    assert sent_for(arrival) == [("0", w.case_manager.email), ("1", w.case_manager.email)]
