"""The Tbilisi case manager marks an overdue first contact done from the follow-up work list, in
Chromium, on the demo world (a Riga counsellor's case returned to Georgia 40 days ago)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.e2e.helpers import TODAY, returned_case, sign_in

pytestmark = pytest.mark.e2e


def test_the_tbilisi_case_manager_marks_the_first_contact_done(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    case_id = returned_case(make_app)
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
