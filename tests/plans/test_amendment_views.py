"""Amendment pages: a declined line replaced through the option picker, the amendment's review by
role, refusals that say why, stale forms, the queue, scope, and statements per page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from partners.models import DeclineReason, ReferralStatus
from partners.referrals import LINK_ACTOR, decline_referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.extensions import db
from reintegration_hub.plans import amendments, services
from reintegration_hub.plans.models import AmendmentStatus, LineStatus
from tests.plans.helpers import World, another_case, approved_plan, other_counsellor, world
from tests.queries import counted_statements

Login = Callable[[User], FlaskClient]


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_a_declined_line_is_replaced_from_the_picker_and_confirmed_by_the_case_manager(
    w: World, login: Login
) -> None:
    rent = w.option(cost_minor=20400)
    plan = approved_plan(w, rent, w.option(cost_minor=50000))
    line = plan.lines[0]
    decline_referral(
        line.referral_id, DeclineReason.LOCATION, note="Only flats in Tbilisi", actor=LINK_ACTOR
    )
    flat = w.option(cost_minor=19000)
    db.session.commit()
    client = login(w.counsellor)

    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Declined by the partner" in page
    assert "Only flats in Tbilisi" in page
    assert "€500.00" in page  # the declined EUR 204 no longer counts
    assert f"/cases/{w.case.id}/plan/options?replace={line.id}" in page
    assert f"Refer to {rent.partner.name} again" in page
    picker = client.get(f"/cases/{w.case.id}/plan/options?replace={line.id}&eligible_only=0")
    assert picker.status_code == 200
    assert "Replace with this" in picker.get_data(as_text=True)
    assert f'action="/plans/lines/{line.id}/replace"' in picker.get_data(as_text=True)

    replaced = client.post(
        f"/plans/lines/{line.id}/replace",
        data={"option_id": flat.id, "quantity": 1, "notes": "", "version": plan.version},
    )
    assert replaced.status_code == 302
    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Amendment 1" in page
    assert "Replaces:" in page
    assert "Submit the amendment" in page
    db.session.expire_all()
    submitted = client.post(
        f"/plans/{plan.id}/amendment/submit",
        data={"version": services.get_plan(plan.id, actor=w.counsellor).version},
    )
    assert submitted.status_code == 302

    as_manager = login(w.case_manager)
    assert w.case.case_number in as_manager.get("/plans/review").get_data(as_text=True)
    manager_page = as_manager.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Confirm the amendment" in manager_page
    assert "confirmation puts it into effect" in manager_page
    confirmed = as_manager.post(f"/plans/{plan.id}/amendment/confirm", data={"comment": "Fine"})

    assert confirmed.status_code == 302
    db.session.expire_all()
    plan = services.get_plan(plan.id, actor=w.counsellor)
    replacement = plan.lines[-1]
    assert replacement.status == LineStatus.ACTIVE
    assert replacement.referral is not None
    assert replacement.referral.status == ReferralStatus.SENT


def test_add_support_on_an_approved_plan_proposes_the_line_in_an_amendment(
    w: World, login: Login
) -> None:
    plan = approved_plan(w, w.option())
    extra = w.option(cost_minor=10000)
    db.session.commit()
    client = login(w.counsellor)

    picker = client.get(f"/cases/{w.case.id}/plan/options?eligible_only=0")
    assert picker.status_code == 200  # no longer a silent redirect
    assert "proposed in its amendment" in picker.get_data(as_text=True)
    added = client.post(f"/plans/{plan.id}/lines", data={"option_id": extra.id, "quantity": 1})

    assert added.status_code == 302
    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "The option is proposed in the plan&#39;s amendment." in page
    assert "Proposed" in page


def test_a_stale_form_is_refused_with_what_changed(w: World, login: Login) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    line = plan.lines[0]
    seen = plan.version
    amendments.change_line(line.id, quantity=2, notes="", actor=w.counsellor)
    db.session.commit()
    client = login(w.counsellor)

    refused = client.post(
        f"/plans/lines/{line.id}/remove", data={"reason": "Moved", "version": seen}
    )

    assert refused.status_code == 302
    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "The plan changed while you had it open" in page
    db.session.expire_all()
    assert (
        amendments.pending_changes(services.get_plan(plan.id, actor=w.counsellor))[line.id].quantity
        == 2
    )


def test_the_case_manager_returns_the_amendment_and_the_comment_shows(
    w: World, login: Login
) -> None:
    plan = approved_plan(w, w.option(cost_minor=100000))
    amendments.take_out_line(plan.lines[0].id, reason="Withdrew", actor=w.counsellor)
    amendments.submit_amendment(plan.id, actor=w.counsellor)
    db.session.commit()

    empty = login(w.case_manager).post(f"/plans/{plan.id}/amendment/return", data={"comment": ""})
    assert empty.status_code == 422
    assert "Say what needs to change." in empty.get_data(as_text=True)
    returned = login(w.case_manager).post(
        f"/plans/{plan.id}/amendment/return", data={"comment": "Keep one month of rent"}
    )
    assert returned.status_code == 302

    page = login(w.counsellor).get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Keep one month of rent" in page
    assert "Withdraw the amendment" in page
    db.session.expire_all()
    amendment = services.get_plan(plan.id, actor=w.counsellor).open_amendment
    assert amendment is not None
    assert amendment.status == AmendmentStatus.RETURNED


def test_roles_and_scope_of_the_amendment_pages(w: World, login: Login) -> None:
    plan = approved_plan(w, w.option())
    line = plan.lines[0]
    decline_referral(line.referral_id, DeclineReason.OTHER, note="Closed", actor=LINK_ACTOR)
    db.session.commit()

    assert login(w.case_manager).post(f"/plans/lines/{line.id}/replace").status_code == 403
    assert login(w.counsellor).post(f"/plans/{plan.id}/amendment/confirm").status_code == 403
    prague = login(other_counsellor())
    assert prague.post(f"/plans/lines/{line.id}/replace").status_code == 404
    assert prague.post(f"/plans/{plan.id}/amendment/submit").status_code == 404


def test_the_plan_page_with_amendments_runs_the_same_statements_whatever_the_lines(
    w: World, login: Login
) -> None:
    def page_statements(case: Returnee, lines: int) -> int:
        plan = approved_plan(w, *(w.option(cost_minor=1000) for _ in range(lines)), case=case)
        decline_referral(
            plan.lines[0].referral_id, DeclineReason.OTHER, note="No", actor=LINK_ACTOR
        )
        amendments.replace_line(plan.lines[0].id, option_id=w.option().id, actor=w.counsellor)
        amendments.take_out_line(plan.lines[1].id, actor=w.counsellor)
        db.session.commit()
        client = login(w.counsellor)
        client.get(f"/cases/{case.id}/plan")
        with counted_statements() as statements:
            assert client.get(f"/cases/{case.id}/plan").status_code == 200
        return len(statements)

    assert page_statements(w.case, 2) == page_statements(another_case(w), 6)
