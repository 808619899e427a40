"""Programme set-up pages: forms with errors at their fields, role and office checks."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa

from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan, PlanStatus
from reintegration_hub.programmes import caps
from reintegration_hub.programmes.models import BudgetCapRule, Grant, PlanApprover
from tests.cases.helpers import host_office
from tests.factories import user_with_role
from tests.plans.helpers import submitted_plan, world
from tests.programmes.helpers import grant, host_manager, riga_grant


def _grant_form(**overrides: str) -> dict[str, str]:
    return {
        "number": "AK/IOM/PMIF/2026/1",
        "title": "AVRR Latvia",
        "start_on": "2026-01-01",
        "end_on": "2027-12-31",
        "currency": "EUR",
        "total_budget": "532651.00",
        "funding-0-name": "AMIF",
        "funding-0-share": "75",
        "funding-1-name": "State budget",
        "funding-1-share": "25",
        "target_returns": "280",
        "target_reintegration": "140",
        "office_id": "",
        "plans_approved_by": "home_office",
        "reintegration_places": "140",
        **overrides,
    }


def _count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_an_administrator_creates_and_edits_a_grant_in_the_pages(client, login) -> None:
    login(user_with_role(Role.ADMIN))
    assert client.get("/programmes/grants/new").status_code == 200
    created = client.post("/programmes/grants/new", data=_grant_form())
    assert created.status_code == 302
    saved = db.session.scalars(sa.select(Grant)).one()
    assert saved.total_budget_minor == 532_651_00
    assert saved.reintegration_places == 140
    assert {s.name: s.share_bp for s in saved.funding_sources} == {
        "AMIF": 7500,
        "State budget": 2500,
    }

    page = client.get(f"/programmes/grants/{saved.id}").get_data(as_text=True)
    assert 'value="AMIF"' in page
    assert 'value="532651.00"' in page or 'value="532651"' in page
    edited = client.post(
        f"/programmes/grants/{saved.id}",
        data=_grant_form(**{"funding-1-name": "Municipality", "reintegration_places": "150"}),
    )
    assert edited.status_code == 302
    db.session.expire_all()
    assert {s.name for s in saved.funding_sources} == {"AMIF", "Municipality"}
    listing = client.get("/programmes/grants").get_data(as_text=True)
    assert "150 funded, 0 used, 150 left" in listing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"funding-1-share": "20"}, "add up to 95"),
        ({"funding-1-name": ""}, "a name and a share"),
        ({"total_budget": "NaN"}, "Not a valid decimal value"),
        ({"total_budget": "sNaN"}, "Not a valid decimal value"),
        ({"total_budget": "1e400"}, "Give a number from"),
        ({"total_budget": "10.001"}, "At most 2 decimals"),
        ({"end_on": "9999-12-31"}, "Give a date from 1900-01-01 to 2100-12-31"),
        ({"number": "AK\x00"}, "control characters"),
        ({"title": "x" * 201}, "200"),
        ({"reintegration_places": str(2**63)}, "between"),
        ({"target_returns": "-1"}, "between"),
        ({"office_id": str(2**31 - 1)}, "Not a valid choice"),
        ({"plans_approved_by": "grant_office"}, "host office that holds"),
    ],
)
def test_a_refused_grant_form_says_why_at_the_field_and_saves_nothing(
    client, login, overrides: dict, message: str
) -> None:
    login(user_with_role(Role.ADMIN))
    response = client.post("/programmes/grants/new", data=_grant_form(**overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(Grant) == 0


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER])
@pytest.mark.parametrize(
    "path",
    [
        "/programmes/grants",
        "/programmes/grants/new",
        "/programmes/cap-rules",
        "/programmes/cap-rules/new",
        "/programmes/rates",
        "/programmes/rates/import",
        "/programmes/rates/template.csv",
    ],
)
def test_only_administrators_and_programme_managers_set_up_programmes(
    client, login, role: Role, path: str
) -> None:
    login(user_with_role(role))
    assert client.get(path).status_code == 403


def test_a_host_office_manager_opens_only_its_own_grants(client, login) -> None:
    riga, vilnius = host_office(), host_office("LT", "Vilnius")
    own, foreign = riga_grant(riga), grant(number="LT-1", office_id=vilnius.id)
    login(host_manager(riga))
    assert client.get(f"/programmes/grants/{own.id}").status_code == 200
    assert client.get(f"/programmes/grants/{foreign.id}").status_code == 404
    assert client.get(f"/programmes/grants/{foreign.id}/priority").status_code == 404
    listing = client.get("/programmes/grants").get_data(as_text=True)
    assert own.number in listing
    assert foreign.number not in listing
    form = client.get("/programmes/grants/new").get_data(as_text=True)
    assert "Vilnius" not in form


def test_the_priority_page_explains_the_ranking(client, login) -> None:
    funded = grant(reintegration_places=140)
    login(user_with_role(Role.PROGRAMME_MANAGER))
    page = client.get(f"/programmes/grants/{funded.id}/priority").get_data(as_text=True)
    assert "Victim of trafficking" in page
    assert "the earliest return" in page
    assert "140" in page


def test_a_cap_rule_is_set_per_programme_and_country(client, login) -> None:
    login(user_with_role(Role.ADMIN))
    data = {
        "name": "National programme, Georgia",
        "grant_id": "",
        "return_country_code": "GE",
        "per_adult": "3000",
        "per_dependant": "500.50",
        "adult_age": "18",
        "max_household": "6",
        "min_departure_days": "10",
        "max_departure_days": "20",
        "in_kind_only": "y",
    }
    assert client.post("/programmes/cap-rules/new", data=data).status_code == 302
    rule = caps.cap_rule_for(None, "GE")
    assert rule is not None
    assert (rule.name, rule.per_dependant_minor, rule.max_household) == (
        data["name"],
        50050,
        6,
    )
    refused = client.post(
        "/programmes/cap-rules/new",
        data={**data, "name": "Other", "max_household": "0", "per_adult": "1e30"},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "between 1 and 99" in page
    assert "Give a number from" in page
    twice = client.post("/programmes/cap-rules/new", data={**data, "name": "Other"})
    assert twice.status_code == 422
    assert "has a rule for this country" in twice.get_data(as_text=True)
    assert client.get("/programmes/cap-rules").status_code == 200
    assert client.post(f"/programmes/cap-rules/{rule.id}/delete").status_code == 302
    assert db.session.get(BudgetCapRule, rule.id) is None


def test_a_rate_is_added_by_hand_and_a_bad_one_refused_at_the_field(client, login) -> None:
    login(user_with_role(Role.PROGRAMME_MANAGER))
    added = client.post(
        "/programmes/rates",
        data={
            "currency": "GEL",
            "valid_on": "2026-03-02",
            "quoted_as": "units_per_eur",
            "rate": "2.5",
            "source": "NBG",
        },
    )
    assert added.status_code == 302
    assert db.session.scalars(sa.select(ExchangeRate.eur_per_unit)).one() == Decimal("0.4")
    listing = client.get("/programmes/rates?currency=GEL").get_data(as_text=True)
    assert "2.5000" in listing
    for hostile in ("%00", "GE%00L", "%ED%A0%80", "X" * 5000):
        response = client.get(f"/programmes/rates?currency={hostile}&page=99999999999999999999")
        assert response.status_code == 200
        assert "2.5000" not in response.get_data(as_text=True)
    for rate in ("0", "NaN", "-3", "1e999"):
        refused = client.post(
            "/programmes/rates",
            data={
                "currency": "GEL",
                "valid_on": "2026-03-03",
                "quoted_as": "eur_per_unit",
                "rate": rate,
            },
        )
        assert refused.status_code == 422
    row = db.session.scalars(sa.select(ExchangeRate)).one()
    corrected = client.post(
        f"/programmes/rates/{row.id}", data={"quoted_as": "eur_per_unit", "rate": "0.35"}
    )
    assert corrected.status_code == 302
    db.session.expire_all()
    assert row.eur_per_unit == Decimal("0.35")


def test_an_import_with_errors_lists_them_by_line_and_saves_nothing(client, login) -> None:
    login(user_with_role(Role.ADMIN))
    bad = b"currency,date,units_per_eur\nGEL,2026-03-02,2.93\nGEL,2026-13-01,2.93\n"
    response = client.post(
        "/programmes/rates/import",
        data={"file": (io.BytesIO(bad), "rates.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>3</td>" in page
    assert "YYYY-MM-DD" in page
    assert _count(ExchangeRate) == 0
    good = client.post(
        "/programmes/rates/import",
        data={"file": (io.BytesIO(bad.replace(b"2026-13-01", b"2026-03-03")), "rates.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert _count(ExchangeRate) == 2
    template = client.get("/programmes/rates/template.csv")
    assert template.data.startswith("\ufeffcurrency,date,units_per_eur".encode())


def test_the_plan_approval_refusal_is_shown_on_the_plan_page(client, login) -> None:
    w = world()
    funded = grant(reintegration_places=0, plans_approved_by=PlanApprover.HOME_OFFICE)
    w.case.grant_id, w.case.departed_on = funded.id, dt.date(2026, 3, 1)
    plan = submitted_plan(w, w.option())
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    login(w.programme_manager)
    response = client.post(f"/plans/{plan.id}/approve", data={"comment": ""}, follow_redirects=True)
    assert f"/programmes/grants/{funded.id}/priority" in response.get_data(as_text=True)
    assert db.session.get(Plan, plan.id).status == PlanStatus.FEASIBLE


def test_a_host_office_manager_sees_no_other_offices_monitoring(client, login) -> None:
    login(host_manager(host_office()))
    assert client.get("/monitoring/").status_code == 403
    login(user_with_role(Role.PROGRAMME_MANAGER))
    assert client.get("/monitoring/").status_code == 200
