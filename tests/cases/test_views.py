from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.extensions import db
from tests.cases.helpers import counsellor, host_office, origin_office, register


def _form(**overrides: str) -> dict[str, str]:
    return {
        "first_name": "Giorgi",
        "last_name": "Kapanadze",
        "date_of_birth": "1985-06-01",
        "sex": "male",
        "nationality": "GE",
        "return_country_code": "GE",
        "return_city": "Kutaisi",
        "languages": "ka",
        "legal_status": "irregular_stay",
        "dependants-0-relation": "child",
        "dependants-0-date_of_birth": "2016-02-02",
        "dependants-0-accompanying": "y",
        "vuln_single_parent": "y",
        "vuln_single_parent_notes": "two children",
        "share_with_origin_office": "y",
        "consent_given_on": "2026-01-05",
        **overrides,
    }


def test_counsellor_registers_a_case_with_dependants(client, login) -> None:
    actor = counsellor()
    login(actor)
    response = client.post("/cases/new", data=_form())
    assert response.status_code == 302
    case = db.session.scalars(sa.select(Returnee)).one()
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    assert len(case.dependants) == 1
    assert [v.category.value for v in case.vulnerabilities] == ["single_parent"]
    assert case.shares_with_origin


def test_registration_warns_of_a_duplicate_and_needs_confirmation(client, login) -> None:
    other = register(
        counsellor(host_office("CZ", "Prague")),
        first_name="Giorgi",
        last_name="Kapanadze",
        date_of_birth=dt.date(1985, 6, 1),
    )
    login(counsellor())
    warned = client.post("/cases/new", data=_form(first_name="Giorgy"))
    assert warned.status_code == 409
    page = warned.get_data(as_text=True)
    assert other.case_number in page
    assert "Prague" not in page
    assert "Register anyway" in page
    assert db.session.scalar(sa.select(sa.func.count(Returnee.id))) == 1
    confirmed = client.post("/cases/new", data=_form(first_name="Giorgy", confirm_duplicate="y"))
    assert confirmed.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Returnee.id))) == 2


def test_invalid_deadline_is_shown_next_to_the_field(client, login) -> None:
    login(counsellor())
    response = client.post(
        "/cases/new",
        data=_form(return_decision_on="2026-03-01", departure_deadline_on="2026-03-03"),
    )
    assert response.status_code == 422
    assert "7 to 30 days" in response.get_data(as_text=True)


def test_case_page_shows_names_the_list_does_not_and_views_are_audited(client, login) -> None:
    actor = counsellor()
    case = register(actor)
    login(actor)
    listing = client.get("/cases/").get_data(as_text=True)
    assert case.case_number in listing
    assert "Beridze" not in listing
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert "Nino Beridze" in page.get_data(as_text=True)
    client.get(f"/cases/{case.id}")
    views = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "case.view")).all()
    assert len(views) == 2
    assert all(v.actor_id == actor.id and v.object_id == str(case.id) for v in views)


def test_deadline_warning_on_the_case_page(client, login) -> None:
    actor = counsellor()
    today = now_utc().date()
    near = register(
        actor,
        return_decision_on=today - dt.timedelta(days=10),
        departure_deadline_on=today + dt.timedelta(days=3),
    )
    far = register(
        actor,
        first_name="Other",
        date_of_birth=dt.date(1970, 1, 1),
        return_decision_on=today,
        departure_deadline_on=today + dt.timedelta(days=20),
    )
    login(actor)
    assert 'data-testid="deadline-warning"' in client.get(f"/cases/{near.id}").get_data(
        as_text=True
    )
    assert 'data-testid="deadline-warning"' not in client.get(f"/cases/{far.id}").get_data(
        as_text=True
    )


def test_prague_counsellor_cannot_open_a_riga_case(client, login) -> None:
    riga_case = register(counsellor(host_office("LV", "Riga")))
    login(counsellor(host_office("CZ", "Prague")))
    assert client.get(f"/cases/{riga_case.id}").status_code == 404
    assert client.get(f"/cases/{riga_case.id}/edit").status_code == 404
    assert riga_case.case_number not in client.get("/cases/").get_data(as_text=True)


def test_status_actions_assess_then_close_with_reason(client, login) -> None:
    actor = counsellor()
    case = register(actor)
    login(actor)
    client.post(f"/cases/{case.id}/status", data={"status": "assessed"})
    db.session.refresh(case)
    assert case.status == CaseStatus.ASSESSED
    client.post(f"/cases/{case.id}/status", data={"status": "closed", "reason": ""})
    db.session.refresh(case)
    assert case.status == CaseStatus.ASSESSED  # no reason: refused
    client.post(f"/cases/{case.id}/status", data={"status": "closed", "reason": "moved_away"})
    db.session.refresh(case)
    assert case.status == CaseStatus.CLOSED


def test_edit_replaces_details_and_consent_history_grows(client, login) -> None:
    actor = counsellor()
    case = register(actor)
    login(actor)
    form = client.get(f"/cases/{case.id}/edit")
    assert form.status_code == 200
    response = client.post(
        f"/cases/{case.id}/edit",
        data=_form(
            first_name="Nino",
            last_name="Beridze",
            date_of_birth="1990-04-12",
            sex="female",
            return_city="Batumi",
        ),
    )
    assert response.status_code == 302
    db.session.refresh(case)
    assert case.return_city == "Batumi"
    client.post(
        f"/cases/{case.id}/consent",
        data={"share_with_origin_office": "y", "given_on": "2026-02-01"},
    )
    db.session.refresh(case)
    assert len(case.consents) == 2
    assert case.shares_with_origin


def test_the_consent_form_starts_from_the_consent_in_force(client, login) -> None:
    actor = counsellor()
    case = register(actor, consent_origin=True)
    login(actor)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    start = page.index(f'action="/cases/{case.id}/consent"')
    form = page[start : page.index("</form>", start)]
    ticked = set(re.findall(r'<input checked[^>]* name="(\w+)"', form))
    assert ticked == {"share_with_origin_office"}
    assert re.search(r'name="given_on"[^>]*value="[^"]+"', form) is None  # the new one's day


def test_case_managers_see_consented_cases_but_cannot_edit(client, login) -> None:
    from tests.cases.helpers import case_manager

    manager = case_manager(origin_office("GE"))
    shared = register(counsellor(), consent_origin=True)
    private = register(
        counsellor(), consent_origin=False, first_name="Else", date_of_birth=dt.date(1971, 1, 1)
    )
    login(manager)
    listing = client.get("/cases/").get_data(as_text=True)
    assert shared.case_number in listing
    assert private.case_number not in listing
    assert client.get(f"/cases/{shared.id}").status_code == 200
    assert client.get(f"/cases/{private.id}").status_code == 404
    assert client.get(f"/cases/{shared.id}/edit").status_code == 403
    assert client.get("/cases/new").status_code == 403


def test_list_filters_and_paginates(client, login) -> None:
    actor = counsellor()
    for i in range(30):
        register(
            actor, first_name=f"P{i}", date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=i)
        )
    login(actor)
    first = client.get("/cases/").get_data(as_text=True)
    assert first.count('data-testid="case-row"') == 25
    assert "30 cases" in first
    second = client.get("/cases/?page=2").get_data(as_text=True)
    assert second.count('data-testid="case-row"') == 5
    filtered = client.get("/cases/?status=closed").get_data(as_text=True)
    assert filtered.count('data-testid="case-row"') == 0


def test_register_page_renders_dependant_rows_and_vulnerability(client, login) -> None:
    login(counsellor())
    page = client.get("/cases/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="dependant-row"') == 4
    assert "Victim of trafficking" in html
    assert "Register anyway" not in html
