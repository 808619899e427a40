from __future__ import annotations

import pytest
from babel.support import Translations

from reintegration_hub import PROJECT_ROOT
from reintegration_hub.demo import data
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

HOME_HEADINGS = {
    "admin": "Administration",
    "programme_manager": "Programme monitoring",
    "counsellor": "Counselling returnees",
    "case_manager": "Reintegration in the country of return",
    "partner": "Partner referrals",
}


def translated(text: str, language: str) -> str:
    catalogues = PROJECT_ROOT / "reintegration_hub" / "translations"
    return str(Translations.load(str(catalogues), [language]).gettext(text))


@pytest.mark.parametrize("user", data.USERS, ids=lambda u: u.email.split("@")[0])
def test_each_demo_user_lands_on_their_role_home_page(page, live_server, user) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, user.email)
    heading = translated(HOME_HEADINGS[user.role.value], user.language)
    expect(page.get_by_test_id("home-heading")).to_have_text(heading)
    expect(page.get_by_test_id("whoami")).to_contain_text(user.office)
    assert page.console_errors == []  # no CSP violation, no failing script


def test_menu_shows_only_what_the_role_may_open(browser, page, live_server) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "casemanager.tbilisi@demo.example")
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    admin_context = browser.new_context(locale="en-GB")
    admin_page = admin_context.new_page()
    sign_in(admin_page, live_server, "admin@demo.example")
    admin_nav = admin_page.get_by_role("navigation", name="Main navigation")
    expect(admin_nav.get_by_role("link", name="Users")).to_be_visible()
    admin_context.close()


def test_wrong_password_is_shown_next_to_the_field(page, live_server) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "admin@demo.example", "wrong password!")
    expect(page.get_by_text("E-mail or password is not correct.")).to_be_visible()


def test_language_switch_translates_the_page(page, live_server) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "admin@demo.example")
    page.get_by_label("Language").select_option("lv")
    expect(page.locator("html")).to_have_attribute("lang", "lv")


def test_api_docs_render_from_vendored_assets(page, live_server) -> None:
    from playwright.sync_api import expect

    sign_in(page, live_server, "admin@demo.example")
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.get_by_text("Reintegration Hub API").first).to_be_visible()
    assert page.console_errors == []
