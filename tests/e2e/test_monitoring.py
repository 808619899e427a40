"""The home office's dashboard in Chromium, on the demo world with its programme history: the
grant's progress against 280/140/56 and its co-financing split, then the overdue count of IOM
Yerevan opened to the cases behind it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from reintegration_hub.core.roles import SystemActor
from reintegration_hub.demo import data
from reintegration_hub.demo.monitoring import load_monitoring
from reintegration_hub.extensions import db
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def monitored_server(make_app) -> Iterator[str]:
    app = make_app(LOGIN_RATE_LIMIT="1000 per minute", SERVER_NAME=None)
    with app.app_context():
        data.load()
        db.session.commit()
        load_monitoring(actor=SystemActor("demo"))
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_programme_manager_sees_grant_progress_and_opens_an_offices_overdue_cases(
    page, monitored_server
) -> None:
    from playwright.sync_api import expect

    sign_in(page, monitored_server, "manager@demo.example")
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Monitoring"
    ).click()
    expect(page.get_by_role("heading", name="Programme monitoring")).to_be_visible()
    expect(page.get_by_test_id("snapshot-time")).to_contain_text("From the outcome snapshot")
    targets = page.locator("[data-testid^='table-targets-']")
    for label, target in (
        ("Returns", "280"),
        ("Reintegration beneficiaries", "140"),
        ("Short stays before departure", "56"),
    ):
        row = targets.locator("tr", has_text=label)
        expect(row.locator("td").nth(1)).to_have_text(target)
    money = page.locator("[data-testid^='grant-money-']")
    expect(money).to_contain_text("AMIF 75%")
    expect(money).to_contain_text("State budget 25%")
    chart = page.locator("[data-testid^='figure-targets-'] svg[role=img]")
    expect(chart.locator("title").first).to_contain_text("Progress to the targets")

    yerevan = page.get_by_test_id("table-milestones").locator("tr", has_text="IOM Yerevan")
    overdue = yerevan.get_by_test_id("drill-milestones-overdue")
    count = int(overdue.inner_text())
    assert count > 0
    overdue.click()
    page.wait_for_url(re.compile(r"/cases/\?.*milestone=overdue"))
    expect(page.get_by_test_id("drill-filters")).to_be_visible()
    cases = int(page.get_by_test_id("case-count").inner_text().split()[0])
    assert 0 < cases <= count  # a case may have several overdue milestones
    expect(page.get_by_test_id("case-row").first).to_be_visible()
    assert page.console_errors == []  # no CSP violation: no inline script or style
