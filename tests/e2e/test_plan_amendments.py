"""A decline replaced and referred again, through the pages, in Chromium: the Tbilisi rent
partner declines an approved line through its e-mailed link ("we only cover flats in
Tbilisi"); the Riga counsellor sees it no longer counts, picks a replacement from the
marketplace and submits the amendment; the Tbilisi case manager confirms it and, as it costs
more than was approved, the programme manager approves it, which refers the new line; its
partner accepts through the new link and the plan shows the line's history."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.extensions import db
from tests.e2e.helpers import RENT, approved_rent_plan, sign_in

pytestmark = pytest.mark.e2e

KIT = "Small business start-up kit"


def _newest_referral_link(app: Flask) -> str:
    """The answer link of the referral e-mailed last."""
    with app.app_context():
        body = db.session.scalars(
            sa.select(OutboxMessage.body_text)
            .where(OutboxMessage.key.like("referral:%:sent"))
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).one()
        db.session.remove()
    match = re.search(r"https?://\S+", body)
    assert match is not None
    return match.group(0)


def test_a_declined_line_is_replaced_and_referred_again_through_the_pages(
    browser: Any, page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    base = live_server
    database = make_app(SERVER_NAME=None, PUBLIC_BASE_URL=base)  # links to the live server
    case_id, case_number = approved_rent_plan(database)
    rent_link = _newest_referral_link(database)

    partner = browser.new_context(locale="en-GB").new_page()  # no account: the e-mailed link
    partner.goto(rent_link)
    decline = partner.get_by_test_id("decline-form")
    decline.locator("select").select_option("location")
    decline.locator("textarea").fill("We only cover flats in Tbilisi")
    decline.locator("[type=submit]").click()
    expect(partner.get_by_test_id("referral-state")).to_contain_text("declined")
    partner.context.close()

    # the Riga counsellor reads Latvian: her pages are checked by structure, not wording
    sign_in(page, base, "counsellor.riga@demo.example")
    page.goto(f"{base}/cases/{case_id}/plan")
    rent = page.locator("[data-testid=plan-line][data-line-status=declined]")
    expect(rent).to_contain_text(RENT)
    expect(rent).to_contain_text("We only cover flats in Tbilisi")
    expect(page.get_by_test_id("total")).to_contain_text(re.compile(r"\b0[.,]00"))
    expect(page.get_by_test_id("to-replace")).to_be_visible()
    page.locator("[data-testid=replace-actions] a[href*='replace=']").click()
    expect(page.get_by_test_id("replacing")).to_be_visible()
    search = page.locator("main form[role=search]")
    search.locator("[name=q]").fill("start-up kit")
    search.locator("button[type=submit]").click()
    card = page.locator("article.card", has_text=KIT)
    card.locator("[name=quantity]").fill("1")
    card.get_by_test_id("add-to-plan").locator("button").click()
    page.wait_for_url(re.compile(r"/plan$"))
    kit = page.locator("[data-testid=plan-line][data-line-status=proposed]")
    expect(kit).to_contain_text(KIT)
    expect(kit.get_by_test_id("replaces")).to_contain_text(RENT)
    expect(page.get_by_test_id("amendment-status")).to_contain_text("1")
    page.locator("[data-testid=amendment-submit] button[type=submit]").click()
    expect(page.get_by_test_id("amendment-submit")).to_have_count(0)
    expect(kit.locator("[data-testid=line-place] .text-bg-success")).to_be_visible()  # held

    manager = browser.new_context(locale="en-GB").new_page()
    sign_in(manager, base, "casemanager.tbilisi@demo.example")
    manager.goto(f"{base}/plans/review")
    row = manager.get_by_test_id("queue-row").filter(has_text=case_number)
    expect(row).to_contain_text("Amendment 1")
    row.locator("a").click()
    # the kit costs more than the three months of rent: above the approved total
    expect(manager.get_by_test_id("proposed-total")).to_contain_text("programme manager")
    manager.locator("button[formaction$='/amendment/confirm']").click()
    expect(manager.get_by_test_id("amendment-status")).to_contain_text("Waiting for approval")
    manager.context.close()

    director = browser.new_context(locale="en-GB").new_page()
    sign_in(director, base, "manager@demo.example")
    director.goto(f"{base}/plans/review")
    director.get_by_test_id("queue-row").filter(has_text=case_number).locator("a").click()
    director.get_by_role("button", name="Approve the amendment").click()
    expect(director.get_by_test_id("amendment-status")).to_have_count(0)
    referred = director.locator("[data-testid=plan-line][data-line-status=active]")
    expect(referred).to_contain_text(KIT)
    expect(referred.get_by_test_id("line-referral")).to_contain_text("Waiting for an answer")
    director.context.close()

    kit_link = _newest_referral_link(database)
    assert kit_link != rent_link  # a new referral, with its own link
    kit_partner = browser.new_context(locale="en-GB").new_page()
    kit_partner.goto(kit_link)
    expect(kit_partner.get_by_text("Tamar")).to_be_visible()
    kit_partner.get_by_test_id("accept-form").locator("[type=submit]").click()
    expect(kit_partner.get_by_test_id("referral-state")).to_contain_text("accepted")
    kit_partner.context.close()

    page.goto(f"{base}/cases/{case_id}/plan")
    kit = page.locator("[data-testid=plan-line][data-line-status=active]")
    expect(kit).to_contain_text(KIT)
    rent = page.locator("[data-testid=plan-line][data-line-status=declined]")
    expect(rent.get_by_test_id("replaced-by")).to_contain_text(KIT)
    expect(page.get_by_test_id("replace-actions")).to_have_count(0)
    assert page.console_errors == []
