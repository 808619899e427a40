"""The dashboard page: who sees it, its filters, and that every drill-down link leads to the
cases behind its figure, within the reader's scope (``dashboard_world``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.models import ProgrammeActivity
from reintegration_hub.monitoring.snapshot import snapshot_outcomes
from tests.monitoring.dashboard_world import AS_OF, World, world

Login = Callable[[User], FlaskClient]


@pytest.fixture
def w(app) -> World:
    made = world()
    snapshot_outcomes(AS_OF, actor=SystemActor("test"))
    db.session.commit()
    return made


def links(html: str, testid: str) -> list[str]:
    return [
        unescape(href)
        for href in re.findall(rf'<a href="([^"]+)" data-testid="{re.escape(testid)}"', html)
    ]


def case_numbers(client: FlaskClient, href: str) -> set[str]:
    page = client.get(href).get_data(as_text=True)
    return set(re.findall(r">([A-Z]{2}-\d{4}-\d{5})</a>", page))


def numbers(w: World, *names: str) -> set[str]:
    return {w.cases[name].case_number for name in names}


def test_counsellors_case_managers_and_partners_are_refused(w: World, login: Login) -> None:
    for user in (w.riga_counsellor, w.tbilisi_manager):
        client = login(user)
        assert client.get("/monitoring/").status_code == 403
        assert client.get("/monitoring/activities").status_code == 403
        assert client.get("/api/v1/monitoring/dashboard").status_code == 403


def test_the_home_office_sees_targets_spending_and_the_snapshot_time(
    w: World, login: Login
) -> None:
    for user in (w.manager, w.admin):
        page = login(user).get("/monitoring/")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'data-testid="snapshot-time"' in html
        assert "G/2024/1" in html
        assert "€1,800.00" in html  # committed
        assert "AMIF" in html
        assert "75%" in html
        assert "<title" in html
        assert 'role="img"' in html
        assert "Partner One" in html


def test_the_overdue_count_of_an_office_leads_to_its_cases(w: World, login: Login) -> None:
    client = login(w.manager)
    html = client.get("/monitoring/").get_data(as_text=True)
    overdue = links(html, "drill-milestones-overdue")
    by_office = {parse_qs(urlsplit(h).query)["milestone_office"][0]: h for h in overdue}
    assert set(by_office) == {str(w.tbilisi.id), str(w.yerevan.id)}
    assert case_numbers(client, by_office[str(w.tbilisi.id)]) == numbers(w, "C1", "C2")
    assert case_numbers(client, by_office[str(w.yerevan.id)]) == numbers(w, "C5")
    # the same link keeps a counsellor to her own office's cases (C5 is Riga's)
    vilnius = login(w.vilnius_counsellor)
    assert case_numbers(vilnius, by_office[str(w.yerevan.id)]) == set()
    riga = login(w.riga_counsellor)
    assert case_numbers(riga, by_office[str(w.yerevan.id)]) == numbers(w, "C5")


def test_drill_down_links_keep_the_filters_and_name_the_figure(w: World, login: Login) -> None:
    client = login(w.manager)
    html = client.get(f"/monitoring/?host_office={w.riga.id}&vulnerable=0").get_data(as_text=True)
    (approved,) = links(html, "drill-plans-cases")[:1]
    query = parse_qs(urlsplit(approved).query)
    assert query["office_id"] == [str(w.riga.id)]
    assert query["vulnerable"] == ["0"]
    assert case_numbers(client, approved) == numbers(w, "C2", "C5")  # Riga, not vulnerable
    partner_links = links(
        client.get("/monitoring/").get_data(as_text=True), "drill-scores-partner-n"
    )
    partner_one = next(h for h in partner_links if f"partner={w.p1.id}" in h)
    assert case_numbers(client, partner_one) == numbers(w, "C1")
    closures = links(client.get("/monitoring/").get_data(as_text=True), "drill-closures-cases")
    assert {frozenset(case_numbers(client, h)) for h in closures} == {
        frozenset(numbers(w, "C4")),
        frozenset(numbers(w, "C5")),
    }


def test_every_table_downloads_as_csv(w: World, login: Login) -> None:
    client = login(w.manager)
    response = client.get("/monitoring/?table=milestones&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert "IOM Tbilisi,1,2" in text
    assert client.get(f"/monitoring/?table=targets-{w.grant.id}&format=xlsx").status_code == 200


def test_filters_are_kept_in_the_form(w: World, login: Login) -> None:
    html = (
        login(w.manager)
        .get(f"/monitoring/?grant={w.grant.id}&from=2024-01-01&country=GE&category=housing")
        .get_data(as_text=True)
    )
    assert f'<option value="{w.grant.id}" selected>' in html
    assert 'value="2024-01"' in html
    assert '<option value="GE" selected>' in html
    assert '<option value="housing" selected>' in html


def test_the_partner_filter_lists_every_partner_and_keeps_the_chosen_one(
    w: World, login: Login
) -> None:
    w.p2.name = 'Fields & <Sons> "Ltd"'
    db.session.commit()
    html = login(w.manager).get(f"/monitoring/?partner={w.p1.id}").get_data(as_text=True)
    assert f'<option value="{w.p1.id}" selected>{w.p1.name} ({w.p1.country_code})</option>' in html
    assert (
        f'<option value="{w.p2.id}">Fields &amp; &lt;Sons&gt; &#34;Ltd&#34; '
        f"({w.p2.country_code})</option>"
    ) in html


def test_a_table_with_no_rows_says_so(w: World, login: Login) -> None:
    html = login(w.manager).get("/monitoring/?country=UZ").get_data(as_text=True)
    body = html[html.index('data-testid="table-plans"') :]
    body = body[: body.index("</table>")]
    assert '<td colspan="2" class="text-muted">Nothing to show.</td>' in body


def test_the_home_office_records_a_short_stay(w: World, login: Login) -> None:
    client = login(w.manager)
    response = client.post(
        "/monitoring/activities",
        data={
            "grant_id": w.grant.id,
            "kind": "short_stay",
            "occurred_on": "2024-08-01",
            "people_count": "5",
            "note": "Family of five",
        },
    )
    assert response.status_code == 302
    assert db.session.query(ProgrammeActivity).filter_by(note="Family of five").count() == 1
    assert client.post("/monitoring/activities", data={"grant_id": w.grant.id}).status_code == 422


def test_each_score_bucket_time_to_plan_range_and_timeliness_leads_to_its_cases(
    w: World, login: Login
) -> None:
    client = login(w.manager)
    html = client.get("/monitoring/").get_data(as_text=True)
    by_bucket = {
        parse_qs(urlsplit(h).query)["score_bucket"][0]: case_numbers(client, h)
        for h in links(html, "drill-score-distribution-cases")
    }
    # latest composites: C1 0.8 (its older 0.2 left out), C2 0.4
    assert by_bucket == {
        str(b): {"4": numbers(w, "C2"), "8": numbers(w, "C1")}.get(str(b), set()) for b in range(10)
    }
    by_range = {
        parse_qs(urlsplit(h).query)["plan_days"][0]: case_numbers(client, h)
        for h in links(html, "drill-plan-days-plans")
    }
    # approved 15 days after the return (C1), 6 days before it (C2), 121 days after (C5)
    assert by_range == {
        "before": numbers(w, "C2"),
        "0-30": numbers(w, "C1"),
        "31-60": set(),
        "61-90": set(),
        "90+": numbers(w, "C5"),
    }

    def by_office(testid: str) -> dict[str, set[str]]:
        found = {}
        for href in links(html, testid):
            office = parse_qs(urlsplit(href).query).get("milestone_office", ["all"])[0]
            found[office] = case_numbers(client, href)
        return found

    # Tbilisi did C1's m1 on time; Riga did C1's m3 late
    tbilisi, yerevan, riga = str(w.tbilisi.id), str(w.yerevan.id), str(w.riga.id)
    assert by_office("drill-on-time-on_time") == {
        tbilisi: numbers(w, "C1"),
        riga: set(),
        yerevan: set(),
        "all": numbers(w, "C1"),
    }
    assert by_office("drill-on-time-late") == {
        tbilisi: set(),
        riga: numbers(w, "C1"),
        yerevan: set(),
        "all": numbers(w, "C1"),
    }


def test_the_api_answers_the_same_figures(w: World, login: Login) -> None:
    client = login(w.manager)
    body = client.get(f"/api/v1/monitoring/dashboard?host_office={w.riga.id}").get_json()
    assert body["totals"] == {"cases": 3, "returns": 3, "arrivals": 2, "reintegration": 3}
    (grant,) = body["grants"]
    assert grant["committed_minor"] == 180_000
    assert body["counted_at"] == body["outcomes"]["taken_at"]  # counted from the snapshot
    by_partner = client.get(f"/api/v1/monitoring/dashboard?partner={w.p1.id}").get_json()
    assert by_partner["counted_at"] is None  # a partner filter is counted live
    outcomes = client.get("/api/v1/monitoring/outcomes?vulnerable=true").get_json()
    assert outcomes["overall"]["n"] == 1
    assert (
        client.get("/api/v1/monitoring/dashboard?from=2025-01-01&to=2024-01-01").status_code == 422
    )
    activities = client.get(f"/api/v1/monitoring/activities?grant={w.grant.id}").get_json()
    assert sorted(a["people_count"] for a in activities) == [3, 4, 20]
