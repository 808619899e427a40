"""One definition of each figure (``monitoring.figures``): the dashboard (service, page,
downloads), the API, and the donor report (service, page, XLSX) give the same returns,
reintegration beneficiaries, vulnerable returns, committed and delivered spending and its
co-financing split for the same grant and period, counted live or from the snapshot; and a
return counts only once the departure has happened.

The world is ``dashboard_world``'s (C1-C5, see its docstring) and two more cases of grant G:

    case  country  departed            closed                         plan (approved)
    C6    GE       today + 7 (planned)  -                              line EUR 500.02, nothing
                                                                       delivered
    C7    AM       2024-02-10          withdrew 2024-02-01, before    line EUR 400.00, nothing
                                       departing                      delivered
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from partners.models import SupportOption
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import CaseStatus, ClosureReason, Returnee
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import figures
from reintegration_hub.monitoring.dashboard import (
    DASHBOARD_KEYS,
    case_counts,
    cell_case_counts,
    dashboard,
)
from reintegration_hub.monitoring.filters import DashboardFilters, month_end
from reintegration_hub.monitoring.reports import donor_report
from reintegration_hub.monitoring.snapshot import latest_snapshot, snapshot_outcomes
from reintegration_hub.plans.models import Plan, PlanLine
from reintegration_hub.programmes.models import TargetIndicator
from tests.clock import TODAY
from tests.monitoring.dashboard_world import World, approved_plan, at, returnee, world

Login = Callable[[User], FlaskClient]
D = dt.date
PLANNED = TODAY + dt.timedelta(days=7)


def _month_end(day: dt.date) -> dt.date:
    return month_end(day)


def more(w: World) -> None:
    offices = {"riga": w.riga, "tbilisi": w.tbilisi, "yerevan": w.yerevan}
    counsellors = {w.riga.id: w.riga_counsellor}
    option = db.session.scalars(
        sa.select(SupportOption).where(SupportOption.partner_id == w.p1.id)
    ).first()
    assert option is not None
    c6 = returnee(
        offices, counsellors, host="riga", country="GE", origin="tbilisi", grant=w.grant,
        departed=PLANNED, arrived=None, status=CaseStatus.IN_DELIVERY,
    )  # fmt: skip
    approved_plan(c6, TODAY - dt.timedelta(days=3), option, 50_002, None)
    c7 = returnee(
        offices, counsellors, host="riga", country="AM", origin="yerevan", grant=w.grant,
        departed=D(2024, 2, 10), arrived=None, status=CaseStatus.CLOSED,
        closure=ClosureReason.WITHDREW,
    )  # fmt: skip
    c7.closed_at = at(D(2024, 2, 1))
    approved_plan(c7, D(2024, 1, 20), option, 40_000, None)
    w.cases.update(C6=c6, C7=c7)
    db.session.commit()


@pytest.fixture(params=["live", "snapshot"])
def w(request: pytest.FixtureRequest, app: Any) -> World:
    """The world, counted live or with a snapshot taken today (its cells then answer every
    period of whole months)."""
    made = world()
    db.session.commit()
    more(made)
    if request.param == "snapshot":
        snapshot_outcomes(TODAY, actor=SystemActor("test"))
        db.session.commit()
    return made


# what each period holds, worked out by hand: returns, beneficiaries, vulnerable returns,
# committed, delivered (EUR cents), and the AMIF (75 %) / state budget (25 %) parts of both
PERIODS = {
    # C1, C2, C3, C5 returned (C7 withdrew before departing); C1, C2, C5 approved; C1
    # vulnerable; lines 1,000 + 500 + 300 (C7's 400 released: closed, nothing delivered)
    "months": (
        (D(2023, 12, 1), D(2024, 3, 31)),
        (4, 3, 1, 180_000, 110_000, (135_000, 45_000), (82_500, 27_500)),
    ),
    # not whole months (counted live): C1 (10 Jan), C2 (5 Feb); C7 withdrew
    "days": (
        (D(2024, 1, 5), D(2024, 2, 20)),
        (2, 2, 1, 150_000, 80_000, (112_500, 37_500), (60_000, 20_000)),
    ),
    # this month and the next: C6 departs next week, no return yet; its plan commits its
    # money all the same, EUR 500.02 split into parts that add up (375.015 / 125.005)
    "planned": (
        (TODAY.replace(day=1), _month_end(_month_end(TODAY) + dt.timedelta(days=1))),
        (0, 0, 0, 50_002, 0, (37_502, 12_500), (0, 0)),
    ),
    # no period (the dashboard filtered by grant G alone, and the donor report it links to):
    # every case of G, C6 too although its date lies after G's period (2023-2025)
    "none": (
        (None, None),
        (4, 3, 1, 230_002, 110_000, (172_502, 57_500), (82_500, 27_500)),
    ),
}


def _query(grant_id: int, start: dt.date | None, end: dt.date | None) -> str:
    return f"grant={grant_id}" + "".join(
        f"&{name}={day}" for name, day in (("from", start), ("to", end)) if day
    )


def _cents(text: str) -> int:
    return round(float(re.sub(r"[^\d.]", "", text)) * 100)


def _csv(client: FlaskClient, query: str) -> list[dict[str, str]]:
    response = client.get(f"/monitoring/?{query}&format=csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def _cells(html: str, testid: str) -> list[str]:
    row = re.search(rf'data-testid="{testid}">(.*?)</tr>', html, re.S)
    assert row is not None, testid
    return [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]


def everywhere(
    w: World, client: FlaskClient, start: dt.date | None, end: dt.date | None
) -> dict[str, Any]:
    """The figures of grant G from ``start`` to ``end`` (None: open) as each place gives
    them: returns, beneficiaries, vulnerable returns, committed, delivered, per-source
    committed and delivered."""
    g = w.grant.id
    query = _query(g, start, end)
    found: dict[str, Any] = {}

    board = dashboard(
        DashboardFilters(grant_id=g, period_from=start, period_to=end), actor=w.manager
    )
    vulnerable = dashboard(
        DashboardFilters(grant_id=g, period_from=start, period_to=end, vulnerable=True),
        actor=w.manager,
    )
    (grant,) = board.grants
    found["dashboard"] = (
        board.totals.returns,
        board.totals.reintegration,
        vulnerable.totals.returns,
        grant.committed_minor,
        grant.delivered_minor,
        tuple(s.committed_minor for s in grant.sources),
        tuple(s.delivered_minor for s in grant.sources),
    )
    targets = {t.indicator: t.actual for t in grant.targets}
    assert (targets[TargetIndicator.RETURNS], targets[TargetIndicator.REINTEGRATION]) == (
        board.totals.returns,
        board.totals.reintegration,
    )

    api = client.get(f"/api/v1/monitoring/dashboard?{query}").get_json()
    api_vulnerable = client.get(f"/api/v1/monitoring/dashboard?{query}&vulnerable=true")
    (api_grant,) = api["grants"]
    found["api"] = (
        api["totals"]["returns"],
        api["totals"]["reintegration"],
        api_vulnerable.get_json()["totals"]["returns"],
        api_grant["committed_minor"],
        api_grant["delivered_minor"],
        tuple(s["committed_minor"] for s in api_grant["sources"]),
        tuple(s["delivered_minor"] for s in api_grant["sources"]),
    )

    page = client.get(f"/monitoring/?{query}").get_data(as_text=True)
    stat = {
        name: int(re.search(rf'data-testid="stat-{name}">([\d,]+)<', page).group(1))
        for name in ("returns", "reintegration")
    }
    achieved = {r["Target"]: int(r["Achieved"]) for r in _csv(client, f"{query}&table=targets-{g}")}
    spending = {r["Co-financing source"]: r for r in _csv(client, f"{query}&table=spending-{g}")}
    assert (stat["returns"], stat["reintegration"]) == (
        achieved["Returns"],
        achieved["Reintegration beneficiaries"],
    )
    found["dashboard page and downloads"] = (
        stat["returns"],
        stat["reintegration"],
        vulnerable.totals.returns,  # the page has no such tile: the vulnerability filter
        _cents(spending["Total"]["Committed (approved plans)"]),
        _cents(spending["Total"]["Delivered"]),
        tuple(_cents(spending[s]["Committed (approved plans)"]) for s in ("AMIF", "State budget")),
        tuple(_cents(spending[s]["Delivered"]) for s in ("AMIF", "State budget")),
    )

    report = donor_report(g, start, end, actor=w.manager)
    assert report.progress is not None
    found["report"] = (
        report.totals.returns,
        report.totals.reintegration,
        report.totals.vulnerable,
        report.progress.committed_minor,
        report.progress.delivered_minor,
        tuple(s.committed_minor for s in report.progress.sources),
        tuple(s.delivered_minor for s in report.progress.sources),
    )
    report_targets = {t.indicator: t.actual for t in report.progress.targets}
    assert report_targets[TargetIndicator.RETURNS] == report.totals.returns
    assert report_targets[TargetIndicator.REINTEGRATION] == report.totals.reintegration

    html = client.get(f"/monitoring/report?{query}").get_data(as_text=True)
    countries = _cells(html, "report-countries-total")
    money = {
        name: [_cents(c) for c in _cells(html, f"report-source-{name}")[2:4]]
        for name in ("AMIF", "State budget", "total")
    }
    found["report page"] = (
        int(countries[0]),
        int(countries[1]),
        int(countries[2]),
        *money["total"],
        (money["AMIF"][0], money["State budget"][0]),
        (money["AMIF"][1], money["State budget"][1]),
    )

    xlsx = client.get(f"/monitoring/report?{query}&format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.get_data()))
    total = list(book["Returns by country"].iter_rows(values_only=True))[-1]
    sheet: dict[Any, tuple[Any, ...]] = {
        row[0]: row for row in book["Spending"].iter_rows(min_row=2, values_only=True)
    }
    found["report XLSX"] = (
        total[1],
        total[2],
        total[3],
        round(sheet["Total"][3] * 100),
        round(sheet["Total"][4] * 100),
        tuple(round(sheet[s][3] * 100) for s in ("AMIF", "State budget")),
        tuple(round(sheet[s][4] * 100) for s in ("AMIF", "State budget")),
    )
    return found


@pytest.mark.parametrize("period", list(PERIODS))
def test_dashboard_api_downloads_and_donor_report_give_the_same_figures(
    w: World, login: Login, period: str
) -> None:
    (start, end), expected = PERIODS[period]
    client = login(w.manager)
    found = everywhere(w, client, start, end)
    assert found == dict.fromkeys(found, expected)
    # the dashboard's own link to the report carries the same grant and period
    page = client.get(f"/monitoring/?{_query(w.grant.id, start, end)}").get_data(as_text=True)
    link = re.search(rf'data-testid="donor-report-{w.grant.id}" href="([^"]+)"', page)
    assert link is not None
    assert unescape(link.group(1)) == f"/monitoring/report?{_query(w.grant.id, start, end)}"


def test_they_agree_while_the_snapshot_is_an_hour_old(w: World, login: Login) -> None:
    """A case recorded since the snapshot: the dashboard and the report both read the
    snapshot's cells for a period of whole months (or both count live), never one of each."""
    offices = {"riga": w.riga, "tbilisi": w.tbilisi}
    returnee(
        offices, {w.riga.id: w.riga_counsellor}, host="riga", country="GE", origin="tbilisi",
        grant=w.grant, departed=D(2024, 1, 15), arrived=D(2024, 1, 16), vulnerable=True,
    )  # fmt: skip
    db.session.commit()
    (start, end), _ = PERIODS["months"]
    found = everywhere(w, login(w.manager), start, end)
    assert len(set(found.values())) == 1
    returns = next(iter(found.values()))[0]
    assert returns == (4 if latest_snapshot() else 5)  # the snapshot has not seen it


def test_a_departure_planned_for_next_week_is_no_return_until_it_happens(
    w: World, login: Login
) -> None:
    planned = DashboardFilters(grant_id=w.grant.id, period_from=PLANNED, period_to=PLANNED)
    board = dashboard(planned, actor=w.manager)
    assert (board.totals.cases, board.totals.returns, board.totals.reintegration) == (1, 0, 0)
    assert board.months == []  # no month of returns to show
    everything = dashboard(DashboardFilters(), actor=w.manager)
    # C1, C2, C3, C5 (C4 never left, C6 not yet, C7 withdrew first) of seven cases
    assert (everything.totals.cases, everything.totals.returns) == (7, 4)
    assert everything.totals.arrivals == 3  # C1, C3, C5
    # counted live as of its departure day, it is a return (and a beneficiary)
    on_the_day = dashboard(planned, actor=w.manager, as_of=PLANNED)
    assert (on_the_day.totals.returns, on_the_day.totals.reintegration) == (1, 1)
    report = donor_report(w.grant.id, PLANNED, PLANNED, actor=w.manager, as_of=PLANNED)
    assert (report.totals.returns, report.as_of) == (1, PLANNED)

    # the figures' links list the same cases: C6 is a case, not a return
    client = login(w.manager)
    page = client.get(f"/monitoring/?grant={w.grant.id}").get_data(as_text=True)

    def listed(testid: str) -> set[str]:
        href = re.search(rf'href="([^"]+)" data-testid="{testid}"', page)
        assert href is not None
        listing = client.get(unescape(href.group(1))).get_data(as_text=True)
        return set(re.findall(r">([A-Z]{2}-\d{4}-\d{5})</a>", listing))

    numbers = {name: case.case_number for name, case in w.cases.items()}
    assert listed("stat-returns") == {numbers[n] for n in ("C1", "C2", "C3", "C5")}
    assert listed("stat-reintegration") == {numbers[n] for n in ("C1", "C2", "C5")}
    assert numbers["C6"] in listed("stat-cases")
    not_returned = client.get(f"/cases/?grant={w.grant.id}&returned=0").get_data(as_text=True)
    assert set(re.findall(r">([A-Z]{2}-\d{4}-\d{5})</a>", not_returned)) == {
        numbers["C6"],
        numbers["C7"],
    }


def test_committed_follows_deliveries_and_closure(w: World) -> None:
    """A closed case commits only what was delivered; a line delivered for more than planned
    commits what was delivered."""
    lines = {
        name: db.session.scalars(
            sa.select(PlanLine).join(Plan).where(Plan.returnee_id == w.cases[name].id)
        ).one()
        for name in ("C1", "C7")
    }
    db.session.add(
        Delivery(
            plan_line_id=lines["C7"].id,
            delivered_on=D(2024, 1, 25),
            amount_minor=15_000,
            currency="EUR",
            eur_rate=Decimal(1),
            amount_eur_minor=15_000,
            certificate_key="test-c7",
            certificate_name="handover.pdf",
            certificate_type="application/pdf",
            certificate_size=1,
            certificate_sha256="0" * 64,
        )
    )
    delivery = db.session.scalars(
        sa.select(Delivery).where(Delivery.plan_line_id == lines["C1"].id)
    ).one()
    delivery.amount_eur_minor = 105_000  # EUR 1,050.00 on a EUR 1,000.00 line
    db.session.commit()
    counts = case_counts(DashboardFilters(), DASHBOARD_KEYS, TODAY)
    # C1 1,050 (delivered, more than its line), C2 500, C5 300, C6 500.02, C7 150 (delivered
    # before it was closed; the rest released)
    assert counts.totals.committed_minor == 105_000 + 50_000 + 30_000 + 50_002 + 15_000
    assert counts.totals.delivered_minor == 105_000 + 30_000 + 15_000
    snapshot_outcomes(TODAY, actor=SystemActor("test"))
    taken = latest_snapshot()
    assert taken is not None
    cells = cell_case_counts(DashboardFilters(), DASHBOARD_KEYS, taken)
    assert cells.totals == counts.totals


@pytest.mark.parametrize(
    ("amount", "shares", "parts"),
    [
        (12_679_150, [7500, 2500], [9_509_363, 3_169_787]),  # the demo grant's committed
        (50_002, [7500, 2500], [37_502, 12_500]),
        (100, [3333, 3333, 3334], [33, 33, 34]),
        (2, [3333, 3333, 3334], [1, 0, 1]),
        (0, [7500, 2500], [0, 0]),
        (3, [5000, 2500], [1, 1]),  # short of 100 %: 1.5 and 0.75 make 2 (75 % of 3)
    ],
)
def test_a_split_by_co_financing_shares_adds_up_to_the_whole(
    amount: int, shares: list[int], parts: list[int]
) -> None:
    assert figures.split(amount, shares) == parts
    if sum(shares) == 10_000:
        assert sum(parts) == amount


def test_a_case_closed_before_its_departure_date_never_returned(w: World) -> None:
    c7 = db.session.get(Returnee, w.cases["C7"].id)
    assert c7 is not None
    one = DashboardFilters(
        return_country_code="AM", period_from=D(2024, 2, 1), period_to=D(2024, 2, 29)
    )
    assert dashboard(one, actor=w.manager).totals.returns == 0
    c7.closed_at = at(D(2024, 2, 10))  # closed on the day it departed: it did depart
    db.session.commit()
    assert case_counts(one, DASHBOARD_KEYS, TODAY).totals.returns == 1
