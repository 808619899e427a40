"""After the programme manager approves a plan in Chromium, the Riga counsellor sees one unread
notification in the menu, opens the inbox, follows the notice to the plan, and it is read."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.e2e.helpers import TODAY, course_plan, sign_in

pytestmark = pytest.mark.e2e


def test_the_counsellor_follows_the_approval_notice_from_the_menu(
    browser: Any, page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    case_id = course_plan(
        make_app, first_name="Nana", departed_on=TODAY + dt.timedelta(days=10), approve=False
    )
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
