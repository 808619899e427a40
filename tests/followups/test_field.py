"""The field page's API and page: the case manager's visits and surveys to make (their own,
pseudonymous), answers recorded offline refused when their milestone closed or moved meanwhile
(nothing recorded, the reason named), the page and its service worker, and what signing out
tells the browser to delete."""

from __future__ import annotations

import pytest

from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.extensions import db
from reintegration_hub.followups import actions
from reintegration_hub.followups.models import (
    MonitoringVisit,
    NotApplicableReason,
    SustainabilitySurvey,
)
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import case_manager, origin_office
from tests.clock import travel
from tests.factories import bearer
from tests.followups.helpers import DEPARTURE, answers, approved, by_key, day
from tests.plans.helpers import World, world

KEY = "0b7d7c1e-2f52-4a8e-9d0c-5d0f6f3b9a01"


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(100))
    w = world()
    w.case.departed_on = w.case.arrived_on = DEPARTURE
    w.case.return_city, w.case.return_region = "Kutaisi", "Imereti"
    return w


def test_the_field_list_gives_the_own_due_visits_by_case_number_only(client, w: World) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    sweep(day(100))

    listed = client.get("/api/v1/follow-up/field", headers=bearer(w.case_manager))

    assert listed.status_code == 200, listed.get_json()
    items = listed.get_json()
    assert [i["milestone_id"] for i in items] == [by_key(plan)["visit_90"].id]
    [item] = items
    assert item["kind"] == "monitoring_visit"
    assert item["status"] == "overdue"
    assert item["due_on"] == str(day(90))
    assert item["window_ends_on"] == str(day(395))  # a year and the grace period
    assert item["opens_on"] == str(day(45))  # halfway from the arrival
    assert item["closes_before"] == str(day(180))  # the 6-month visit's due date
    assert item["case"] == {
        "id": w.case.id,
        "case_number": w.case.case_number,
        "town": "Kutaisi",
        "region": "Imereti",
        "country_code": w.case.return_country_code,
        "arrived_on": str(DEPARTURE),
    }
    body = listed.get_data(as_text=True)
    assert w.case.first_name not in body
    assert w.case.last_name not in body


def test_another_office_and_other_roles_see_no_field_work(client, w: World) -> None:
    approved(w, w.option())
    db.session.commit()
    sweep(day(100))
    stranger = case_manager(origin_office("AM", "Yerevan"))
    colleague = case_manager(w.tbilisi)  # same office, not the case's case manager

    assert client.get("/api/v1/follow-up/field", headers=bearer(stranger)).get_json() == []
    assert client.get("/api/v1/follow-up/field", headers=bearer(colleague)).get_json() == []
    by_counsellor = client.get("/api/v1/follow-up/field", headers=bearer(w.counsellor))
    assert by_counsellor.status_code == 403


def test_a_closed_case_has_no_field_work(client, w: World) -> None:
    approved(w, w.option())
    w.case.status = CaseStatus.CLOSED
    db.session.commit()

    assert client.get("/api/v1/follow-up/field", headers=bearer(w.case_manager)).get_json() == []


def test_an_offline_visit_for_a_milestone_closed_meanwhile_is_a_conflict(client, w: World) -> None:
    plan = approved(w, w.option())
    visit_90 = by_key(plan)["visit_90"]
    actions.mark_not_applicable(
        visit_90.id, reason=NotApplicableReason.RETURNEE_UNREACHABLE, note="", actor=w.case_manager
    )
    db.session.commit()
    body = {
        "visited_on": str(day(95)),
        "mode": "in_person",
        "client_key": KEY,
        "for_milestone_id": visit_90.id,
    }

    refused = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json=body, headers=bearer(w.case_manager)
    )

    assert refused.status_code == 409
    assert "closed meanwhile" in refused.get_json()["message"]
    assert "for_milestone_id" in refused.get_json()["errors"]
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 0


def test_an_offline_survey_for_a_milestone_moved_away_is_a_conflict(client, w: World) -> None:
    plan = approved(w, w.option())
    survey = by_key(plan)["survey"]
    body = {
        "taken_on": str(day(95)),  # the survey's window opens halfway to day 365
        "answers": answers(3, 3, 3),
        "client_key": KEY,
        "for_milestone_id": survey.id,
    }

    refused = client.post(
        f"/api/v1/cases/{w.case.id}/surveys", json=body, headers=bearer(w.case_manager)
    )

    assert refused.status_code == 409
    assert "moved" in refused.get_json()["message"]
    assert db.session.scalar(db.select(db.func.count()).select_from(SustainabilitySurvey)) == 0


def test_an_offline_visit_of_a_closed_case_is_a_conflict(client, w: World) -> None:
    plan = approved(w, w.option())
    w.case.status = CaseStatus.CLOSED
    db.session.commit()
    body = {
        "visited_on": str(day(95)),
        "mode": "phone",
        "for_milestone_id": by_key(plan)["visit_90"].id,
    }

    refused = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json=body, headers=bearer(w.case_manager)
    )

    assert refused.status_code == 409
    assert "case was closed" in refused.get_json()["message"]


def test_an_offline_visit_closes_its_milestone_once_whatever_the_retries(client, w: World) -> None:
    plan = approved(w, w.option())
    visit_90 = by_key(plan)["visit_90"]
    body = {
        "visited_on": str(day(95)),
        "mode": "in_person",
        "client_key": KEY,
        "for_milestone_id": visit_90.id,
    }
    headers = bearer(w.case_manager)

    first = client.post(f"/api/v1/cases/{w.case.id}/visits", json=body, headers=headers)
    # the answer was lost on the way back: the page sends it again, its milestone now closed
    again = client.post(f"/api/v1/cases/{w.case.id}/visits", json=body, headers=headers)

    assert first.status_code == 201, first.get_json()
    assert first.get_json()["milestone_id"] == visit_90.id
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 1


@pytest.mark.parametrize("meant", [0, 2**31, "x", None])
def test_a_bad_or_foreign_milestone_is_refused_at_its_field(
    client, w: World, meant: object
) -> None:
    approved(w, w.option())
    body = {"visited_on": str(day(95)), "mode": "phone", "for_milestone_id": meant}

    answer = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json=body, headers=bearer(w.case_manager)
    )

    if meant is None:  # none named: whichever milestone the day falls in
        assert answer.status_code == 201
    else:
        assert answer.status_code == 422
        assert "for_milestone_id" in str(answer.get_json()["errors"])


def test_a_milestone_of_another_case_is_refused(client, w: World) -> None:
    approved(w, w.option())
    db.session.commit()
    body = {"visited_on": str(day(95)), "mode": "phone", "for_milestone_id": 999_999}

    answer = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json=body, headers=bearer(w.case_manager)
    )

    assert answer.status_code == 422
    assert "for_milestone_id" in answer.get_json()["errors"]
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 0


def test_the_field_page_carries_its_forms_and_texts_without_inline_script(w: World, login) -> None:
    approved(w, w.option())
    page = login(w.case_manager).get("/follow-up/field/")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="field-visit-form"' in html
    assert 'data-testid="field-survey-form"' in html
    assert 'name="visit-visited_on"' in html
    assert 'name="survey-taken_on"' in html
    assert 'data-list="/api/v1/follow-up/field"' in html
    assert 'data-s-offline="' in html
    assert "<script>" not in html
    assert "style=" not in html
    assert w.case.case_number not in html  # the list comes from the API, not in the page


def test_the_service_worker_is_served_at_the_page_path_as_javascript(w: World, login) -> None:
    worker = login(w.case_manager).get("/follow-up/field/sw.js")

    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    assert b'addEventListener("fetch"' in worker.data
    worker.close()


def test_counsellors_have_no_field_page(w: World, login) -> None:
    assert login(w.counsellor).get("/follow-up/field/").status_code == 403


def test_signing_out_tells_the_browser_to_delete_what_it_kept(w: World, login) -> None:
    signed_out = login(w.case_manager).post("/logout")

    assert signed_out.status_code == 302
    assert signed_out.headers["Clear-Site-Data"] == '"cache", "storage"'
