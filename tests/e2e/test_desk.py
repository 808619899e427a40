"""The caseworker's desk in Chromium: the to-do list leads to the milestone; the plan printed
to PDF for signature holds the returnee's name and the plan's lines."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import Partner, SupportOption
from reintegration_hub.extensions import db
from tests.e2e.helpers import RENT, approved_rent_plan, option_id, returned_case, sign_in

pytestmark = pytest.mark.e2e


def test_the_todo_list_leads_to_the_milestone(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    case_id = returned_case(make_app)  # its first contact overdue, the case manager's
    sign_in(page, live_server, "casemanager.tbilisi@demo.example")
    first = page.get_by_test_id("todo-milestone").filter(has_text="First contact")
    expect(first).to_be_visible()
    target = first.get_attribute("href")
    assert re.fullmatch(r"/follow-up/milestones/\d+", target)
    first.click()
    page.wait_for_url(f"{live_server}{target}")
    expect(page.locator(f"a[href='/cases/{case_id}/plan#follow-up']")).to_be_visible()
    expect(page.get_by_test_id("done-form")).to_be_visible()


def test_the_printed_plan_holds_the_name_and_the_lines(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from pypdf import PdfReader

    database = make_app(SERVER_NAME=None)
    case_id, _number = approved_rent_plan(database)
    with database.app_context():
        partner = db.session.scalar(
            sa.select(Partner.name)
            .join(SupportOption, SupportOption.partner_id == Partner.id)
            .where(SupportOption.id == option_id(RENT))
        )
        db.session.remove()

    sign_in(page, live_server, "counsellor.riga@demo.example")
    page.goto(f"{live_server}/cases/{case_id}/plan")
    page.get_by_test_id("print-plan").click()
    page.wait_for_url(re.compile(r"/plan/print"))
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")

    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Tamar" in text  # the returnee's name
    assert partner in text  # the line's partner
    assert page.get_by_test_id("print-line").count() == 1
    assert page.get_by_test_id("print-hint").is_hidden()  # print media: no hint, no menu
    assert page.locator("nav.navbar").is_hidden()
