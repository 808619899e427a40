"""After the programme manager approves a plan in Chromium, the Riga counsellor sees one unread
notification in the menu, opens the inbox, follows the notice to the plan, and it is read."""

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
from reintegration_hub.cases.models import LegalStatus
from reintegration_hub.core.vocabulary import Sex
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

TODAY = dt.date.today()  # noqa: DTZ011 - the live server runs on the real clock


def _user(email: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def _feasible_plan(make_app: Callable[..., Flask]) -> int:
    """Through the services, on the live server's database: a Riga counsellor's case with a
    plan the Tbilisi case manager found feasible, waiting for approval."""
    app = make_app()
    with app.app_context():
        adviser = _user("counsellor.riga@demo.example")
        manager = _user("casemanager.tbilisi@demo.example")
        case = cases.register_case(
            cases.CaseDetails(
                first_name="Nana",
                last_name="Beridze",
                date_of_birth=dt.date(1990, 4, 12),
                sex=Sex.FEMALE,
                nationality="GE",
                return_country_code="GE",
                return_region="Imereti",
                return_city="Kutaisi",
                legal_status=LegalStatus.IRREGULAR_STAY,
                origin_office_id=manager.office_id,
                case_manager_id=manager.id,
                departed_on=TODAY + dt.timedelta(days=10),
            ),
            dependants=[],
            consent=cases.ConsentInput(
                share_with_origin_office=True, share_with_partners=True, given_on=TODAY
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
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def test_the_counsellor_follows_the_approval_notice_from_the_menu(
    browser: Any, page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    case_id = _feasible_plan(make_app)
    base = live_server

    director = browser.new_context(locale="en-GB").new_page()
    sign_in(director, base, "manager@demo.example")
    director.goto(f"{base}/cases/{case_id}/plan")
    director.get_by_role("button", name="Approve the plan").click()
    expect(director.get_by_test_id("plan-status")).to_have_text("Approved")
    director.context.close()

    sign_in(page, base, "counsellor.riga@demo.example")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_test_id("inbox-link").click()
    notice = page.get_by_test_id("notice")
    expect(notice).to_have_count(1)
    expect(notice).to_have_attribute("data-unread", "true")
    expect(notice).to_have_class(re.compile("fw-bold"))
    notice.get_by_role("link").click()

    page.wait_for_url(re.compile(rf"/cases/{case_id}/plan$"))
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    page.get_by_test_id("inbox-link").click()
    expect(page.get_by_test_id("notice")).to_have_attribute("data-unread", "false")
    assert page.console_errors == []
