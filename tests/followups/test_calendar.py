"""The office calendar by month and the private calendar feed: scope, revocation, content."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MilestoneStatus, MonitoringVisit, VisitMode
from reintegration_hub.followups.sweep import sweep
from tests.followups.helpers import approved, by_key, day
from tests.plans.helpers import World, other_counsellor, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = w.case.arrived_on = day(0)
    return w


def feed_address(client: object) -> str:
    client.post("/follow-up/calendar/feed")  # type: ignore[attr-defined]
    page = client.get("/follow-up/calendar").data.decode()  # type: ignore[attr-defined]
    return page.split('data-testid="feed-url"')[0].rsplit('value="', 1)[1].split('"')[0]


def test_the_month_shows_the_milestones_due_and_the_visits_of_the_cases_seen(
    w: World, login
) -> None:
    plan = approved(w, w.option())
    db.session.add(MonitoringVisit(returnee_id=w.case.id, visited_on=day(5), mode=VisitMode.PHONE))
    db.session.commit()
    arrival = by_key(plan)["arrival"]
    month = arrival.due_on.strftime("%Y-%m")

    page = login(w.case_manager).get(f"/follow-up/calendar?month={month}").data.decode()

    assert f'href="/follow-up/milestones/{arrival.id}"' in page
    assert f'data-day="{arrival.due_on.isoformat()}"' in page
    assert page.count('data-testid="calendar-visit"') == 1  # the same month: December
    other = login(other_counsellor()).get(f"/follow-up/calendar?month={month}").data.decode()
    assert 'data-testid="calendar-milestone"' not in other
    assert 'data-testid="calendar-visit"' not in other


@pytest.mark.parametrize("month", ["2026-13", "26-12", "9999-01", "2026-1\x00", "x" * 50])
def test_a_bad_month_is_a_clear_400(w: World, login, month: str) -> None:
    answer = login(w.case_manager).get("/follow-up/calendar", query_string={"month": month})

    assert answer.status_code == 400


def test_the_feed_lists_the_users_own_milestones_without_names(w: World, login, app) -> None:
    plan = approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(20))  # the arrival is overdue
    address = feed_address(login(w.case_manager))
    path = address.split("hub.test", 1)[1]

    answer = app.test_client().get(path)  # a calendar program: no session

    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    events = Calendar.from_ical(answer.data).walk("VEVENT")
    own = {
        m.id
        for m in by_key(plan).values()
        if m.status != MilestoneStatus.DONE and m.responsible.value in {"case_manager", "partner"}
    }
    assert {str(e["uid"]) for e in events} == {f"milestone-{i}@reintegration-hub" for i in own}
    assert all(str(e["summary"]).startswith(w.case.case_number) for e in events)
    assert w.case.last_name not in answer.data.decode()
    assert db.session.scalars(
        db.select(AuditEntry.action).where(AuditEntry.action == "calendar_feed.issue")
    ).all() == ["calendar_feed.issue"]


def test_a_new_address_stops_the_old_one_and_stopping_stops_all(w: World, login, app) -> None:
    approved(w, w.option())
    db.session.commit()
    user = login(w.case_manager)
    first = feed_address(user).split("hub.test", 1)[1]
    second = feed_address(user).split("hub.test", 1)[1]

    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200
    user.post("/follow-up/calendar/feed/stop")
    assert app.test_client().get(second).status_code == 404
    assert app.test_client().get("/follow-up/calendar/" + "A" * 43 + ".ics").status_code == 404


def test_the_feed_of_a_deactivated_user_stops(w: World, login, app) -> None:
    approved(w, w.option())
    db.session.commit()
    path = feed_address(login(w.case_manager)).split("hub.test", 1)[1]
    w.case_manager.is_active = False
    db.session.commit()

    assert app.test_client().get(path).status_code == 404
