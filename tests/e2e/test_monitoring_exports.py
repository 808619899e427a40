"""The home office in Chromium: downloads the case list as CSV, finds the partner with the best
outcomes for business start-up in Georgia, and downloads the donor report."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from partners.models import Partner, PartnerPerformance, SupportCategory, SupportOption
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.demo import data
from reintegration_hub.extensions import db
from reintegration_hub.programmes.models import Grant
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def monitoring_server(make_app: Any) -> Iterator[dict[str, Any]]:
    """The demo world with its programme history (as ``flask demo load``), served over HTTP."""
    from reintegration_hub.demo.monitoring import load_monitoring

    app = make_app(LOGIN_RATE_LIMIT="1000 per minute", SERVER_NAME=None)
    with app.app_context():
        data.load()
        db.session.commit()
        load_monitoring(actor=SystemActor("demo"))
        db.session.commit()
        names = set(db.session.scalars(sa.select(Returnee.last_name)))
        grant = db.session.scalars(sa.select(Grant).order_by(Grant.id)).first()
        assert grant is not None
        best = db.session.execute(
            sa.select(Partner.name, PartnerPerformance.composite)
            .join(PartnerPerformance, PartnerPerformance.partner_id == Partner.id)
            .where(
                Partner.id.in_(
                    sa.select(SupportOption.partner_id).where(
                        SupportOption.category == SupportCategory.BUSINESS_START_UP,
                        SupportOption.country_code == "GE",
                    )
                ),
                PartnerPerformance.composite.is_not(None),
            )
            .order_by(PartnerPerformance.composite.desc())
        ).all()
        cases = db.session.scalar(sa.select(sa.func.count(Returnee.id)))
        facts = {"names": names, "grant_id": grant.id, "best": best, "cases": cases}
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", **facts}
    server.shutdown()
    thread.join()


def test_programme_manager_downloads_the_case_list_as_csv(page: Any, monitoring_server) -> None:
    from playwright.sync_api import expect

    base = monitoring_server["url"]
    sign_in(page, base, "manager@demo.example")
    page.goto(f"{base}/cases/")
    expect(page.get_by_test_id("export-cases-csv")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_test_id("export-cases-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    path = Path(download.path())
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == monitoring_server["cases"]
    assert all(row["Case number"] for row in rows)
    text = path.read_text(encoding="utf-8-sig")
    assert not any(name and name in text for name in monitoring_server["names"])
    assert page.console_errors == []


def test_home_office_finds_the_best_partner_and_downloads_the_donor_report(
    page: Any, monitoring_server
) -> None:
    from playwright.sync_api import expect

    base = monitoring_server["url"]
    best = monitoring_server["best"]
    assert len(best) >= 2  # the demo's business start-up partners in Georgia differ
    sign_in(page, base, "manager@demo.example")
    page.goto(f"{base}/marketplace/search?category=business_start_up&country=GE&sort=outcomes")
    first = page.locator("article.card").first
    expect(first).to_contain_text(best[0].name)

    page.goto(f"{base}/monitoring/report?grant={monitoring_server['grant_id']}")
    expect(page.get_by_test_id("report-countries")).to_be_visible()
    expect(page.get_by_test_id("print-hint")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_test_id("report-xlsx").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert workbook.sheetnames == ["Summary", "Returns by country", "Spending"]
    spending = [row[0] for row in workbook["Spending"].iter_rows(min_row=2, values_only=True)]
    assert spending[:2] == ["AMIF", "State budget"]
    assert page.console_errors == []
