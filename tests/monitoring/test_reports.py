"""The donor report on hand-made cases: figures worked out by hand, XLSX and printable page,
home office only."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import PermissionDenied
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.reports import donor_report
from reintegration_hub.programmes.models import (
    TargetIndicator,
)
from tests.monitoring import casework as w

D = dt.date
PERIOD = (D(2026, 1, 1), D(2026, 6, 30))


def build_report_world() -> dict[str, Any]:
    where = w.offices()
    grant, other = w.grant("LV-AMIF-2026"), w.grant("CZ-OTHER-2026")
    _, option = w.partner_with_option(where, "Kutaisi Business Hub")

    def returned(day: dt.date | None, country: str = "GE", **kw: Any) -> Any:
        return w.case(
            where, where.riga, departed_on=day, grant_id=kw.pop("grant", grant).id,
            return_country=country, **kw,
        )  # fmt: skip

    # in the grant and the period: GE two returns (one approved plan, vulnerable), AM one
    a = returned(D(2026, 2, 1), vulnerable=True)
    line_a = w.referred_line(
        w.plan(a, D(2026, 2, 10)), option, sent=w.at(D(2026, 2, 10)),
        answered=w.at(D(2026, 2, 11)), total_eur_minor=100_000,
    )  # fmt: skip
    w.deliver(line_a, D(2026, 3, 1), amount_eur_minor=60_000)
    b = returned(D(2026, 3, 1))
    w.plan(b)  # a draft: not a reintegration beneficiary, nothing committed
    c = returned(D(2026, 4, 1), country="AM", vulnerable=True)
    w.referred_line(
        w.plan(c, D(2026, 4, 5)), option, sent=w.at(D(2026, 4, 5)),
        answered=w.at(D(2026, 4, 6)), total_eur_minor=50_000,
    )  # fmt: skip
    # not counted: before the period, another grant, not returned yet
    d = returned(D(2025, 12, 1), vulnerable=True)
    w.referred_line(
        w.plan(d, D(2025, 12, 5)), option, sent=w.at(D(2025, 12, 5)),
        answered=w.at(D(2025, 12, 6)), total_eur_minor=70_000,
    )  # fmt: skip
    returned(D(2026, 2, 1), grant=other)
    returned(None)
    db.session.commit()
    return {"where": where, "grant": grant}


def test_donor_report_figures_match_the_hand_computed_ones(app: Flask) -> None:
    world = build_report_world()
    report = donor_report(world["grant"].id, *PERIOD, actor=world["where"].programme_manager)

    by_country = {
        r.country_code: (r.returns, r.reintegration, r.vulnerable) for r in report.countries
    }
    assert by_country == {"GE": (2, 1, 1), "AM": (1, 1, 1)}
    assert [r.country_code for r in report.countries] == ["GE", "AM"]  # most returns first
    assert report.countries[0].vulnerable_share == pytest.approx(0.5)
    assert (report.totals.returns, report.totals.reintegration, report.totals.vulnerable) == (
        3,
        2,
        2,
    )
    progress = report.progress
    assert progress is not None
    assert (progress.committed_minor, progress.delivered_minor) == (150_000, 60_000)
    sources = {s.name: (s.committed_minor, s.delivered_minor) for s in progress.sources}
    assert sources == {"AMIF": (112_500, 45_000), "State budget": (37_500, 15_000)}
    targets = {t.indicator: (t.target, t.actual) for t in progress.targets}
    assert targets == {
        TargetIndicator.RETURNS: (280, 3),
        TargetIndicator.REINTEGRATION: (140, 2),
    }
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "report")).one()
    assert audit.changes == {"period": ["2026-01-01", "2026-06-30"]}


def test_counsellors_may_not_see_the_report(app: Flask, login: Any) -> None:
    world = build_report_world()
    with pytest.raises(PermissionDenied):
        donor_report(world["grant"].id, *PERIOD, actor=world["where"].riga_counsellor)
    client = login(world["where"].riga_counsellor)
    assert client.get(f"/monitoring/report?grant={world['grant'].id}").status_code == 403


def test_the_printable_page_and_the_xlsx_show_the_same_figures(app: Flask, login: Any) -> None:
    world = build_report_world()
    client = login(world["where"].programme_manager)
    query = f"grant={world['grant'].id}&from=2026-01-01&to=2026-06-30"

    page = client.get(f"/monitoring/report?{query}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Donor report: LV-AMIF-2026" in html
    assert 'data-testid="print-hint"' in html
    assert 'data-country="GE"' in html
    assert "€1,125.00" in html  # AMIF's 75 % of EUR 1,500.00 committed
    assert "css/report.css" in html

    xlsx = client.get(f"/monitoring/report?{query}&format=xlsx")
    assert xlsx.status_code == 200
    assert "attachment" in xlsx.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.get_data()))
    assert workbook.sheetnames == ["Summary", "Returns by country", "Spending"]
    countries = list(workbook["Returns by country"].iter_rows(values_only=True))
    assert countries[1][:4] == ("Georgia", 2, 1, 1)
    assert countries[-1][:4] == ("Total", 3, 2, 2)
    spending = workbook["Spending"]
    assert spending["A2"].value == "AMIF"
    assert spending["D2"].value == pytest.approx(1125.0)
    assert spending["D2"].number_format == "#,##0.00"
    summary = list(workbook["Summary"].iter_rows(values_only=True))
    assert ("Returns", 280, 3) in [row[:3] for row in summary]


def test_a_reversed_period_is_refused(app: Flask, login: Any) -> None:
    world = build_report_world()
    client = login(world["where"].programme_manager)
    response = client.get(
        f"/monitoring/report?grant={world['grant'].id}&from=2026-06-30&to=2026-01-01"
    )
    assert response.status_code == 400
    assert 'data-testid="report-error"' in response.get_data(as_text=True)
    assert client.get("/monitoring/report").status_code == 200  # the choice of grant


def test_the_dashboard_links_each_grant_to_its_donor_report(app: Flask, login: Any) -> None:
    world = build_report_world()
    client = login(world["where"].programme_manager)
    page = client.get("/monitoring/?from=2026-01-01&to=2026-06-30").get_data(as_text=True)
    grant_id = world["grant"].id
    assert f'data-testid="donor-report-{grant_id}"' in page
    assert f"/monitoring/report?grant={grant_id}&amp;from=2026-01-01&amp;to=2026-06-30" in page
