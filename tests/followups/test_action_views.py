"""The milestone page and its forms, the arrival page, the office supervisors page."""

from __future__ import annotations

import pytest

from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MilestoneStatus
from tests.cases.helpers import case_manager
from tests.clock import travel
from tests.factories import user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(40))
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def test_the_case_manager_marks_the_first_contact_done_from_the_work_list(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    first_contact = by_key(plan)["first_contact"].id
    client = login(w.case_manager)

    page = client.get(f"/follow-up/milestones/{first_contact}?back=work")
    refused = client.post(
        f"/follow-up/milestones/{first_contact}/done",
        data={"done-done_on": str(day(41)), "done-back": "work"},
    )
    done = client.post(
        f"/follow-up/milestones/{first_contact}/done",
        data={"done-done_on": str(day(33)), "done-note": "Called", "done-back": "work"},
    )

    assert page.status_code == 200
    assert 'data-testid="done-form"' in page.get_data(as_text=True)
    assert refused.status_code == 422
    assert "cannot be in the future" in refused.get_data(as_text=True)
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/follow-up/")
    assert by_key(plan)["first_contact"].status == MilestoneStatus.DONE


def test_not_applicable_move_and_reopen_from_the_milestone_page(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    visit, later = by_key(plan)["visit_90"].id, by_key(plan)["visit_180"].id
    client = login(w.case_manager)

    page = client.get(f"/follow-up/milestones/{visit}").get_data(as_text=True)
    no_note = client.post(
        f"/follow-up/milestones/{visit}/not-applicable", data={"na-reason": "other"}
    )
    skipped = client.post(
        f"/follow-up/milestones/{visit}/not-applicable",
        data={"na-reason": "returnee_unreachable", "na-note": "No answer"},
    )
    moved = client.post(
        f"/follow-up/milestones/{later}/move",
        data={"move-due_on": str(day(200)), "move-reason": "Working abroad"},
    )
    reopened = client.post(f"/follow-up/milestones/{visit}/reopen", data={"reopen-reason": "Found"})
    history = client.get(f"/follow-up/milestones/{visit}").get_data(as_text=True)

    assert 'data-testid="record-instead"' in page  # done by recording the visit
    assert 'data-testid="done-form"' not in page
    assert no_note.status_code == 422
    assert skipped.status_code == 302
    assert skipped.headers["Location"].endswith(f"/cases/{w.case.id}/plan#follow-up")
    assert moved.status_code == 302
    assert by_key(plan)["visit_180"].due_on == day(200)
    assert reopened.status_code == 302
    assert "Marked not applicable" in history
    assert "Reopened" in history


def test_the_counsellor_reads_the_milestone_but_has_no_form(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    first_contact = by_key(plan)["first_contact"].id
    client = login(w.counsellor)

    page = client.get(f"/follow-up/milestones/{first_contact}").get_data(as_text=True)
    posted = client.post(
        f"/follow-up/milestones/{first_contact}/done", data={"done-done_on": str(day(33))}
    )

    assert "done-form" not in page
    assert posted.status_code == 403


def test_the_origin_case_manager_records_the_arrival_on_its_page(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    client = login(w.case_manager)

    case_page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    form = client.get(f"/follow-up/cases/{w.case.id}/arrival")
    early = client.post(f"/follow-up/cases/{w.case.id}/arrival", data={"arrived_on": str(day(-2))})
    recorded = client.post(
        f"/follow-up/cases/{w.case.id}/arrival", data={"arrived_on": str(day(1))}
    )

    assert 'data-testid="record-arrival"' in case_page
    assert form.status_code == 200
    assert early.status_code == 422
    assert "before departure" in early.get_data(as_text=True)
    assert recorded.status_code == 302
    assert by_key(plan)["arrival"].completed_on == day(1)


def test_the_administrator_names_supervisors_on_their_page(w: World, login) -> None:
    admin = user_with_role(Role.ADMIN)
    head = case_manager(w.tbilisi)
    client = login(admin)

    page = client.get("/follow-up/supervisors").get_data(as_text=True)
    saved = client.post(
        f"/follow-up/supervisors/{w.tbilisi.id}",
        data={f"office-{w.tbilisi.id}-supervisor_id": head.id},
    )
    hostile = client.post(
        f"/follow-up/supervisors/{w.tbilisi.id}",
        data={f"office-{w.tbilisi.id}-supervisor_id": "1\x00"},
    )

    assert head.full_name in page
    assert saved.status_code == 302
    assert w.tbilisi.supervisor_id == head.id
    assert hostile.status_code == 302  # refused with a message, nothing changed
    assert w.tbilisi.supervisor_id == head.id
    assert login(w.case_manager).get("/follow-up/supervisors").status_code == 403
