"""``/api/v1``: the work list, visits and surveys; a client's key makes an upload happen once,
whatever the retries; scope and audit as on the pages."""

from __future__ import annotations

import pytest

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MonitoringVisit, SustainabilitySurvey
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import case_manager, origin_office
from tests.clock import travel
from tests.factories import bearer
from tests.followups.helpers import DEPARTURE, answers, approved, by_key, day
from tests.plans.helpers import World, world

KEY = "3f1c9a2e-6b1d-4e0a-9c55-0d9f2b7c1a11"


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(100))
    w = world()
    w.case.departed_on = w.case.arrived_on = DEPARTURE
    return w


def test_a_retried_visit_upload_makes_one_visit(client, w: World) -> None:
    plan = approved(w, w.option())
    headers = bearer(w.case_manager)
    visit = {"visited_on": str(day(92)), "mode": "in_person", "findings": "Shop open"}

    first = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json={**visit, "client_key": KEY}, headers=headers
    )
    again = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json={**visit, "client_key": KEY}, headers=headers
    )

    assert first.status_code == 201, first.get_json()
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert first.get_json()["milestone_id"] == by_key(plan)["visit_90"].id  # closed by it
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 1
    listed = client.get(f"/api/v1/cases/{w.case.id}/visits", headers=headers)
    assert [v["id"] for v in listed.get_json()] == [first.get_json()["id"]]


def test_a_key_of_another_record_is_refused(client, w: World) -> None:
    approved(w, w.option())
    visit = {"visited_on": str(day(92)), "mode": "phone", "client_key": KEY}
    client.post(f"/api/v1/cases/{w.case.id}/visits", json=visit, headers=bearer(w.case_manager))
    colleague = case_manager(w.tbilisi)

    by_another = client.post(
        f"/api/v1/cases/{w.case.id}/visits", json=visit, headers=bearer(colleague)
    )

    assert by_another.status_code == 409
    assert "client_key" in by_another.get_json()["errors"]
    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 1


def test_a_retried_survey_upload_makes_one_scored_survey(client, w: World) -> None:
    approved(w, w.option())
    headers = bearer(w.case_manager)
    body = {"taken_on": str(day(95)), "answers": answers(4, 3, 2), "client_key": KEY}

    first = client.post(f"/api/v1/cases/{w.case.id}/surveys", json=body, headers=headers)
    again = client.post(f"/api/v1/cases/{w.case.id}/surveys", json=body, headers=headers)

    assert first.status_code == 201, first.get_json()
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert 0 < first.get_json()["composite"] <= 1
    assert db.session.scalar(db.select(db.func.count()).select_from(SustainabilitySurvey)) == 1


def test_without_a_key_each_upload_is_a_record(client, w: World) -> None:
    approved(w, w.option())
    headers = bearer(w.case_manager)
    visit = {"visited_on": str(day(92)), "mode": "phone"}

    for _ in range(2):
        assert (
            client.post(
                f"/api/v1/cases/{w.case.id}/visits", json=visit, headers=headers
            ).status_code
            == 201
        )

    assert db.session.scalar(db.select(db.func.count()).select_from(MonitoringVisit)) == 2


@pytest.mark.parametrize("key", ["short", "a" * 65, "has space in it", "nul\x00nul-key"])
def test_a_bad_key_is_a_422_at_its_field(client, w: World, key: str) -> None:
    approved(w, w.option())
    answer = client.post(
        f"/api/v1/cases/{w.case.id}/visits",
        json={"visited_on": str(day(92)), "mode": "phone", "client_key": key},
        headers=bearer(w.case_manager),
    )

    assert answer.status_code == 422
    assert "client_key" in answer.get_json()["errors"]["json"]


def test_another_office_sees_no_visit_and_no_work(client, w: World) -> None:
    approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))
    stranger = bearer(case_manager(origin_office("AM", "Yerevan")))
    mine = bearer(w.case_manager)

    assert client.get(f"/api/v1/cases/{w.case.id}/visits", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/cases/{w.case.id}/surveys", headers=stranger).status_code == 404
    assert client.get("/api/v1/milestones", headers=stranger).get_json() == []
    work = client.get("/api/v1/milestones?mine=true&overdue_only=true", headers=mine)
    assert work.status_code == 200
    assert {m["step_key"] for m in work.get_json()} == {"arrival", "first_contact"}
    assert (
        db.session.scalars(
            db.select(AuditEntry.action).where(AuditEntry.action.in_(["visit.list", "survey.list"]))
        ).all()
        == []
    )  # refused reads write nothing
    client.get(f"/api/v1/cases/{w.case.id}/visits", headers=mine)
    assert (
        db.session.scalar(db.select(db.func.count()).where(AuditEntry.action == "visit.list")) == 1
    )
