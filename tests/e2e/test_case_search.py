"""The menu's search box: a counsellor finds a case by a misspelt Georgian surname."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from reintegration_hub.auth.models import User
from reintegration_hub.cases import services
from reintegration_hub.cases.models import LegalStatus
from reintegration_hub.core.vocabulary import Sex
from reintegration_hub.demo import data
from reintegration_hub.extensions import db
from tests.e2e.conftest import serving
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

COUNSELLOR = "counsellor.riga@demo.example"


@pytest.fixture
def demo_with_georgian_case(make_app) -> Iterator[tuple[str, str]]:
    """The demo, plus a case of IOM Riga whose names are written in Georgian script; yields the
    base URL and the case number."""
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute", SERVER_NAME=None)
    with app.app_context():
        data.load()
        counsellor = db.session.scalars(sa.select(User).where(User.email == COUNSELLOR)).one()
        case = services.register_case(
            services.CaseDetails(
                first_name="თამარ",
                last_name="ჯაფარიძე",  # Japaridze
                date_of_birth=dt.date(1987, 3, 15),
                sex=Sex.FEMALE,
                nationality="GE",
                return_country_code="GE",
                legal_status=LegalStatus.REJECTED_ASYLUM_SEEKER,
            ),
            confirm_duplicate=True,
            actor=counsellor,
        )
        number = case.case_number
        db.session.commit()
        db.session.remove()
    with serving(app) as base_url:
        yield base_url, number


def test_misspelt_georgian_surname_in_the_menu_finds_the_case(
    page, demo_with_georgian_case
) -> None:
    from playwright.sync_api import expect

    base_url, number = demo_with_georgian_case
    sign_in(page, base_url, COUNSELLOR)
    box = page.get_by_test_id("menu-search").locator("input[name=q]")
    box.fill("Japaridse")  # Latin letters, and an s for the z
    with page.expect_navigation():
        box.press("Enter")
    rows = page.get_by_test_id("case-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(number)
    expect(rows.first).not_to_contain_text("ჯაფარიძე")  # the list shows numbers only
    rows.first.get_by_role("link", name=number).click()
    expect(page.locator("main")).to_contain_text("თამარ ჯაფარიძე")
    assert page.console_errors == []
