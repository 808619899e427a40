"""The Tbilisi case manager marks an overdue first contact done from the follow-up work list, in
Chromium, on the demo world (a Riga counsellor's case returned to Georgia 40 days ago)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import SupportOption, SupportOptionText
from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import DependantRelation, LegalStatus
from reintegration_hub.core.vocabulary import Sex
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans import services as plans
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

TODAY = dt.date.today()  # noqa: DTZ011 - the live server runs on the real clock
RETURNED = TODAY - dt.timedelta(days=40)


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _returned_case(make_app: Callable[..., Flask]) -> int:
    """Through the services, on the live server's database: a case with an approved plan,
    returned 40 days ago (its first contact, due at +30, is overdue), swept today."""
    app = make_app()  # e-mails built here carry links: a server name
    with app.app_context():
        adviser = _user("counsellor.riga@demo.example")
        manager = _user("casemanager.tbilisi@demo.example")
        tbilisi = manager.office
        case = cases.register_case(
            cases.CaseDetails(
                first_name="Ketevan",
                last_name="Gelashvili",
                date_of_birth=dt.date(1988, 6, 2),
                sex=Sex.FEMALE,
                nationality="GE",
                return_country_code="GE",
                return_region="Imereti",
                return_city="Kutaisi",
                legal_status=LegalStatus.IRREGULAR_STAY,
                origin_office_id=tbilisi.id,
                case_manager_id=manager.id,
                departed_on=RETURNED,
            ),
            dependants=[cases.DependantInput(DependantRelation.CHILD, dt.date(2018, 3, 1))],
            consent=cases.ConsentInput(
                share_with_origin_office=True, share_with_partners=True, given_on=RETURNED
            ),
            confirm_duplicate=True,
            actor=adviser,
        )
        course = db.session.scalar(
            sa.select(SupportOption.id)
            .join(SupportOptionText)
            .where(SupportOptionText.title == "Tailoring and sewing vocational course")
        )
        assert course is not None
        plan = plans.start_plan(case.id, actor=adviser)
        plans.add_line(plan.id, course, actor=adviser)
        plans.submit_plan(plan.id, actor=adviser)
        plans.confirm_feasibility(plan.id, actor=manager)
        plans.approve_plan(plan.id, actor=_user("manager@demo.example"))
        db.session.commit()
        sweep(TODAY)
        case_id = case.id
        db.session.remove()
    return case_id


def test_the_tbilisi_case_manager_marks_the_first_contact_done(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    case_id = _returned_case(make_app)
    base = live_server
    sign_in(page, base, "casemanager.tbilisi@demo.example")

    page.goto(f"{base}/follow-up/?overdue=1")
    row = page.get_by_test_id("work-row").filter(has_text="First contact")
    expect(row).to_have_class(re.compile("table-danger"))
    row.get_by_test_id("act").click()
    form = page.get_by_test_id("done-form")
    form.get_by_label("Done on").fill((TODAY - dt.timedelta(days=5)).isoformat())
    form.get_by_label("Note").fill("She called the office from Kutaisi.")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_text("The milestone is done.")).to_be_visible()
    expect(page.get_by_test_id("work-row").filter(has_text="First contact")).to_have_count(0)
    page.goto(f"{base}/cases/{case_id}/plan#follow-up")
    contact = page.get_by_test_id("milestone").filter(has_text="First contact")
    expect(contact).to_contain_text("Done")
    contact.get_by_test_id("milestone-link").click()
    expect(page.get_by_test_id("milestone-history")).to_contain_text("Marked done")
    expect(page.get_by_test_id("milestone-state")).to_contain_text("She called the office")
    assert page.console_errors == []
