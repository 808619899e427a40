"""Plan pages: building, refusals next to the field, review by role, scope, queries per page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.extensions import db
from reintegration_hub.plans import services
from reintegration_hub.plans.models import PlanStatus
from tests.plans.helpers import World, other_counsellor, submitted_plan, world
from tests.queries import counted_statements

Login = Callable[[User], FlaskClient]


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_the_counsellor_starts_a_plan_and_adds_an_option_found_from_the_plan(
    w: World, login: Login
) -> None:
    option = w.option(cost_minor=120000)
    client = login(w.counsellor)

    client.post(f"/cases/{w.case.id}/plan")
    found = client.get(f"/cases/{w.case.id}/plan/options?eligible_only=0")
    assert found.status_code == 200
    assert b"Add to plan" in found.data
    assert b"Fits this returnee" in found.data
    plan = services.plan_for_case(w.case.id, actor=w.counsellor)
    assert plan is not None
    added = client.post(
        f"/plans/{plan.id}/lines",
        data={"option_id": option.id, "quantity": 1, "notes": "Evening classes"},
    )

    assert added.status_code == 302
    page = client.get(f"/cases/{w.case.id}/plan")
    assert b"Evening classes" in page.data
    assert "€1,200.00" in page.get_data(as_text=True)
    assert "€2,800.00" in page.get_data(as_text=True)  # left under the EUR 4,000 cap


def test_over_the_cap_without_justification_keeps_the_plan_and_says_why_at_the_field(
    w: World, login: Login
) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    services.add_line(plan.id, w.option(cost_minor=500000).id, actor=w.counsellor)
    db.session.commit()
    client = login(w.counsellor)

    refused = client.post(f"/plans/{plan.id}/submit", data={"justification": "needed"})

    assert refused.status_code == 422
    assert b"over the cap" in refused.data
    assert b'name="justification"' in refused.data
    assert b"needed</textarea>" in refused.data
    db.session.expire_all()
    assert services.get_plan(plan.id, actor=w.counsellor).status == PlanStatus.DRAFT


def test_review_buttons_follow_the_role_and_the_state(w: World, login: Login) -> None:
    plan = submitted_plan(w, w.option())
    db.session.commit()

    as_manager = login(w.case_manager).get(f"/cases/{w.case.id}/plan")
    assert b"Confirm feasibility" in as_manager.data
    assert b"Approve the plan" not in as_manager.data
    login(w.case_manager).post(f"/plans/{plan.id}/confirm", data={"comment": ""})
    as_pm = login(w.programme_manager).get(f"/cases/{w.case.id}/plan")
    assert b"Approve the plan" in as_pm.data
    queue = login(w.programme_manager).get("/plans/review")
    assert w.case.case_number.encode() in queue.data

    approved = login(w.programme_manager).post(f"/plans/{plan.id}/approve", data={"comment": ""})

    assert approved.status_code == 302
    db.session.expire_all()
    assert services.get_plan(plan.id, actor=w.programme_manager).status == PlanStatus.APPROVED


def test_a_counsellor_cannot_approve_and_another_office_cannot_open_the_plan(
    w: World, login: Login
) -> None:
    plan = submitted_plan(w, w.option())
    db.session.commit()

    assert login(w.counsellor).post(f"/plans/{plan.id}/approve").status_code == 403
    prague = login(other_counsellor())
    assert prague.get(f"/cases/{w.case.id}/plan").status_code == 404
    assert prague.post(f"/plans/{plan.id}/submit").status_code == 404


def test_the_plan_page_runs_the_same_statements_whatever_the_number_of_lines(
    w: World, login: Login
) -> None:
    plan = services.start_plan(w.case.id, actor=w.counsellor)
    services.add_line(plan.id, w.option().id, actor=w.counsellor)
    db.session.commit()
    client = login(w.counsellor)
    client.get(f"/cases/{w.case.id}/plan")
    with counted_statements() as few:
        assert client.get(f"/cases/{w.case.id}/plan").status_code == 200
    for _ in range(6):
        services.add_line(plan.id, w.option().id, actor=w.counsellor)
    db.session.commit()
    client.get(f"/cases/{w.case.id}/plan")  # as above: the session's first load of the user
    with counted_statements() as many:
        assert client.get(f"/cases/{w.case.id}/plan").status_code == 200

    assert len(many) == len(few)
