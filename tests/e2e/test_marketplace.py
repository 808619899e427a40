"""The marketplace in Chromium: a case manager lists a support option, a counsellor finds it,
and the demo's Kutaisi course is found for a single mother of two."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e


def test_case_manager_creates_and_publishes_a_listing_a_counsellor_finds(
    browser, page, live_server
) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "casemanager.tbilisi@demo.example")
    page.goto(f"{live_server}/marketplace/partners")
    page.locator("main table a").first.click()
    page.get_by_test_id("new-option").click()

    form = page.get_by_test_id("option-form")
    form.get_by_label("Category").select_option("vocational_training")
    texts = page.get_by_test_id("option-texts")
    texts.locator("select").first.select_option("en")
    texts.get_by_label("Title").first.fill("Beekeeping starter course")
    texts.get_by_label("Description").first.fill("Six weeks of hives, honey and selling at market.")
    locations = page.get_by_test_id("option-locations")
    locations.get_by_label("City").first.fill("Kutaisi")
    locations.get_by_label("Region").first.fill("Imereti")
    form.get_by_label("Cost", exact=True).fill("450")
    form.get_by_label("Currency").select_option("GEL")
    form.get_by_label("Delivery languages").select_option(["ka"])
    form.get_by_label("Places").fill("6")
    page.get_by_test_id("save-option").click()

    expect(page.get_by_test_id("option-title")).to_have_text("Beekeeping starter course")
    page.get_by_test_id("status-published").click()
    expect(page.get_by_test_id("option-status")).to_have_text("Published")
    assert page.console_errors == []

    counsellor = browser.new_context(locale="en-GB").new_page()
    sign_in(counsellor, live_server, "counsellor.riga@demo.example")
    counsellor.goto(f"{live_server}/marketplace/search?q=beekeeping&country=GE")
    card = counsellor.locator("article.card", has_text="Beekeeping starter course")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("free-places")).to_contain_text("6")
    counsellor.context.close()


def test_counsellor_finds_the_kutaisi_course_for_a_single_mother_of_two(page, live_server) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "counsellor.riga@demo.example")
    page.goto(f"{live_server}/marketplace/search")
    search = page.get_by_role("search")
    search.locator("[name=city]").fill("Kutaisi")
    search.locator("[name=category]").select_option("vocational_training")
    search.locator("[name=language]").select_option("ka")
    search.locator("[name=sex]").select_option("female")
    search.locator("[name=family_size]").fill("3")
    search.locator("[name=vulnerabilities]").select_option(["single_parent"])
    search.locator("button[type=submit]").click()

    card = page.locator("article.card").first
    expect(card).to_be_visible()
    expect(card.get_by_test_id("verdict")).to_have_class("text-success small mt-2 mb-0")
    expect(card.get_by_test_id("free-places")).not_to_be_empty()
    expect(card.get_by_test_id("cost")).to_contain_text("GEL")
    assert page.console_errors == []
