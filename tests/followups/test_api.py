"""``/api/v1``: milestone actions, the arrival, supervisors and reassignment, with the same
rules, scope and JSON errors as the pages."""

from __future__ import annotations

import pytest

from reintegration_hub.core.roles import Role
from reintegration_hub.followups.models import MilestoneStatus, NotApplicableReason
from tests.cases.helpers import case_manager, counsellor, host_office
from tests.clock import travel
from tests.factories import bearer, user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, day(40))
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def test_the_case_manager_acts_on_milestones_through_the_api(client, w: World) -> None:
    plan = approved(w, w.option())
    headers = bearer(w.case_manager)
    milestones = by_key(plan)

    listed = client.get(f"/api/v1/cases/{w.case.id}/milestones", headers=headers)
    arrival = client.post(
        f"/api/v1/cases/{w.case.id}/arrival", json={"arrived_on": str(day(1))}, headers=headers
    )
    done = client.post(
        f"/api/v1/milestones/{milestones['first_contact'].id}/done",
        json={"done_on": str(day(33)), "note": "By phone"},
        headers=headers,
    )
    skipped = client.post(
        f"/api/v1/milestones/{milestones['visit_90'].id}/not-applicable",
        json={"reason": "returnee_moved", "note": "Batumi"},
        headers=headers,
    )
    moved = client.post(
        f"/api/v1/milestones/{milestones['visit_180'].id}/move",
        json={"due_on": str(day(200)), "reason": "Harvest season"},
        headers=headers,
    )
    reopened = client.post(
        f"/api/v1/milestones/{milestones['visit_90'].id}/reopen",
        json={"reason": "Came back"},
        headers=headers,
    )
    history = client.get(f"/api/v1/milestones/{milestones['visit_90'].id}/history", headers=headers)

    assert listed.status_code == 200
    assert {"arrival", "first_contact", "window_closes"} <= {
        m["step_key"] for m in listed.get_json()
    }
    assert arrival.status_code == 200, arrival.get_json()
    assert arrival.get_json()["arrived_on"] == str(day(1))
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["completed_on"]) == ("done", str(day(33)))
    assert skipped.get_json()["not_applicable_reason"] == "returnee_moved"
    assert moved.get_json()["due_on"] == str(day(200))
    assert reopened.get_json()["status"] == "upcoming"
    assert [row["action"] for row in history.get_json()] == ["not_applicable", "reopened"]
    assert by_key(plan)["arrival"].status == MilestoneStatus.DONE


def test_refusals_are_json_errors_naming_the_field(client, w: World) -> None:
    plan = approved(w, w.option())
    headers = bearer(w.case_manager)
    first_contact = by_key(plan)["first_contact"].id
    visit = by_key(plan)["visit_90"].id

    future = client.post(
        f"/api/v1/milestones/{first_contact}/done",
        json={"done_on": "9999-12-31"},
        headers=headers,
    )
    nul = client.post(
        f"/api/v1/milestones/{first_contact}/move",
        json={"due_on": str(day(45)), "reason": "a\u0000b"},
        headers=headers,
    )
    record_instead = client.post(
        f"/api/v1/milestones/{visit}/done", json={"done_on": str(day(35))}, headers=headers
    )
    bad_reason = client.post(
        f"/api/v1/milestones/{visit}/not-applicable", json={"reason": "bored"}, headers=headers
    )
    counsellor_done = client.post(
        f"/api/v1/milestones/{first_contact}/done",
        json={"done_on": str(day(35))},
        headers=bearer(w.counsellor),
    )
    other_office = client.post(
        f"/api/v1/milestones/{first_contact}/done",
        json={"done_on": str(day(35))},
        headers=bearer(counsellor()),
    )

    assert future.status_code == 422
    assert "done_on" in future.get_json()["errors"]["json"]
    assert nul.status_code == 422
    assert "reason" in nul.get_json()["errors"]["json"]
    assert record_instead.status_code == 409
    assert bad_reason.status_code == 422
    assert counsellor_done.status_code == 403
    assert other_office.status_code == 404
    assert by_key(plan)["first_contact"].status == MilestoneStatus.UPCOMING


def test_a_supervisor_reassigns_and_transfers_through_the_api(client, w: World) -> None:
    w.riga.supervisor_id = w.counsellor.id
    colleague = counsellor(w.riga)
    prague_counsellor = counsellor(host_office("CZ", "Prague"))
    headers = bearer(w.counsellor)

    reassigned = client.post(
        "/api/v1/cases/reassignments",
        json={"case_ids": [w.case.id], "user_id": colleague.id, "note": "Back in May"},
        headers=headers,
    )
    wrong_office = client.post(
        "/api/v1/cases/reassignments",
        json={"case_ids": [w.case.id], "user_id": prague_counsellor.id},
        headers=headers,
    )
    transferred = client.post(
        f"/api/v1/cases/{w.case.id}/transfer",
        json={"counsellor_id": prague_counsellor.id},
        headers=headers,
    )
    huge = client.post(
        "/api/v1/cases/reassignments",
        json={"case_ids": [2**70], "user_id": colleague.id},
        headers=headers,
    )

    assert reassigned.status_code == 200, reassigned.get_json()
    body = reassigned.get_json()
    assert (body["change"], body["owner_id"]) == ("reassign", colleague.id)
    assert [case["counsellor_id"] for case in body["changed"]] == [colleague.id]
    assert wrong_office.status_code == 422
    assert "user_id" in wrong_office.get_json()["errors"]
    assert transferred.status_code == 200, transferred.get_json()
    assert transferred.get_json()["changed"][0]["host_office_id"] == prague_counsellor.office_id
    assert huge.status_code == 422


def test_an_administrator_names_office_supervisors_through_the_api(client, w: World) -> None:
    headers = bearer(user_with_role(Role.ADMIN))
    head = case_manager(w.tbilisi)

    named = client.put(
        f"/api/v1/follow-up/supervisors/{w.tbilisi.id}",
        json={"supervisor_id": head.id},
        headers=headers,
    )
    wrong = client.put(
        f"/api/v1/follow-up/supervisors/{w.tbilisi.id}",
        json={"supervisor_id": w.counsellor.id},
        headers=headers,
    )
    listed = client.get("/api/v1/follow-up/supervisors", headers=headers)
    refused = client.get("/api/v1/follow-up/supervisors", headers=bearer(w.case_manager))

    assert named.status_code == 200
    assert named.get_json()["supervisor_id"] == head.id
    assert wrong.status_code == 422
    assert {row["office_id"]: row["supervisor_id"] for row in listed.get_json()}[
        w.tbilisi.id
    ] == head.id
    assert refused.status_code == 403


def test_the_milestone_is_read_within_scope_only(client, w: World) -> None:
    plan = approved(w, w.option())
    milestone = by_key(plan)["arrival"].id

    mine = client.get(f"/api/v1/milestones/{milestone}", headers=bearer(w.case_manager))
    theirs = client.get(f"/api/v1/milestones/{milestone}", headers=bearer(counsellor()))

    assert mine.status_code == 200
    assert mine.get_json()["case_number"] == w.case.case_number
    assert theirs.status_code == 404


def test_the_openapi_document_describes_every_action(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]

    expected = {
        "/api/v1/cases/{case_id}/milestones": "get",
        "/api/v1/milestones/{milestone_id}": "get",
        "/api/v1/milestones/{milestone_id}/history": "get",
        "/api/v1/milestones/{milestone_id}/done": "post",
        "/api/v1/milestones/{milestone_id}/not-applicable": "post",
        "/api/v1/milestones/{milestone_id}/move": "post",
        "/api/v1/milestones/{milestone_id}/reopen": "post",
        "/api/v1/cases/{case_id}/arrival": "post",
        "/api/v1/cases/reassignments": "post",
        "/api/v1/cases/{case_id}/transfer": "post",
        "/api/v1/follow-up/supervisors": "get",
        "/api/v1/follow-up/supervisors/{office_id}": "put",
    }
    for path, method in expected.items():
        operation = paths[path][method]
        if method != "get":
            assert "requestBody" in operation, path
            assert {"403", "404"} & set(operation["responses"]) or "supervisors" in path, path
    reasons = document["components"]["schemas"]["NotApplicable"]["properties"]["reason"]["enum"]
    assert reasons == [reason.value for reason in NotApplicableReason]
