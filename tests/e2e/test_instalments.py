"""The partner's path in Chromium: the Kutaisi training centre's focal point finds an accepted
referral in the inbox, with what is due of it, opens its delivery form from there and records
the first of the course's three monthly instalments; more than is left is refused at the field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import SupportOption, SupportOptionText
from partners.referrals import accept_referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.core.i18n import format_money
from reintegration_hub.demo.marketplace import KUTAISI_COURSE
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from tests.cases.helpers import details
from tests.e2e.helpers import PNG, sign_in

pytestmark = pytest.mark.e2e


def _user(email: str) -> User:
    return db.session.scalars(sa.select(User).where(User.email == email)).one()


def _accepted_course(app: Flask) -> str:
    """A Riga case returning to Kutaisi whose approved plan has the tailoring course (GEL 1,200,
    paid over three months), accepted by the centre's focal point; its case number."""
    with app.app_context():
        counsellor = _user("counsellor.riga@demo.example")
        manager = _user("casemanager.tbilisi@demo.example")
        course = db.session.scalars(
            sa.select(SupportOption)
            .join(SupportOptionText)
            .where(SupportOptionText.title == KUTAISI_COURSE.title)
        ).one()
        case = cases.register_case(
            details(origin_office_id=manager.office_id),
            consent=cases.ConsentInput(
                share_with_origin_office=True,
                share_with_partners=True,
                given_on=dt.date.today(),  # noqa: DTZ011
            ),
            confirm_duplicate=True,
            actor=counsellor,
        )
        case.case_manager_id = manager.id
        plan = plans.start_plan(case.id, actor=counsellor)
        line = plans.add_line(plan.id, course.id, actor=counsellor)
        plans.submit_plan(plan.id, actor=counsellor)
        plans.confirm_feasibility(plan.id, actor=manager)
        plans.approve_plan(plan.id, actor=_user("manager@demo.example"))
        assert line.referral_id is not None
        accept_referral(line.referral_id, actor=_user("partner.tbilisi@demo.example"))
        db.session.commit()
        number = case.case_number
        db.session.remove()
    return number


def _fill(form: Any, *, amount: str, quantity: str) -> None:
    form.locator("[name=delivered_on]").fill(dt.date.today().isoformat())  # noqa: DTZ011
    form.locator("[name=quantity]").fill(quantity)
    form.locator("[name=amount]").fill(amount)
    form.locator("[name=invoice_number]").fill("KVC-2026-117")
    form.locator("[name=certificate]").set_input_files(
        {"name": "first-month.png", "mimeType": "image/png", "buffer": PNG}
    )


def test_the_partner_records_an_instalment_from_the_inbox(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    base = live_server
    with make_app(SERVER_NAME=None).app_context():
        left_after_one = format_money(80000, "GEL")
        planned = format_money(120000, "GEL")
    number = _accepted_course(make_app(SERVER_NAME=None))
    sign_in(page, base, "partner.tbilisi@demo.example")

    page.get_by_test_id("deliveries-due").click()  # home: the deliveries to record
    row = page.get_by_test_id("referral-row").filter(has_text=number)
    expect(row.get_by_test_id("delivery-progress")).to_contain_text("0 of 3 instalments recorded")
    expect(row.get_by_test_id("delivery-progress")).to_contain_text(f"1 unit, {planned}")
    row.get_by_test_id("record-delivery").click()

    page.wait_for_url(re.compile(r"/deliveries/lines/\d+/new$"))
    expect(page.get_by_test_id("instalment-heading")).to_have_text("Instalment 1 of 3")
    form = page.get_by_test_id("delivery-form")
    expect(form.locator("[name=amount]")).to_have_value("400.00")  # a third of the fee
    _fill(form, amount="1300", quantity="0")
    form.locator("[type=submit]").click()
    expect(page.get_by_text(re.compile(r"This is more than the .* that remain"))).to_be_visible()
    page.console_errors.clear()  # the refusal's 422 is the one expected

    form = page.get_by_test_id("delivery-form")
    _fill(form, amount="400", quantity="0")
    form.locator("[type=submit]").click()
    expect(page.get_by_test_id("instalment-number")).to_have_text("1")
    page.get_by_role("link", name="Referrals").first.click()

    row = page.get_by_test_id("referral-row").filter(has_text=number)
    expect(row.get_by_test_id("delivery-progress")).to_contain_text("1 of 3 instalments recorded")
    expect(row.get_by_test_id("delivery-progress")).to_contain_text(left_after_one)
    expect(row.get_by_test_id("record-delivery")).to_have_text("Record the next instalment")
    assert page.console_errors == []
