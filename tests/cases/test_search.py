"""Case search: a name in any script or misspelt, a date of birth, part of a case number or of a
phone number; only within the reader's scope; anonymised cases are not found by their names."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.cases import retention, services
from reintegration_hub.cases.models import LegalStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.core.vocabulary import Sex
from reintegration_hub.extensions import db
from tests.cases.closed_cases import ACTOR, DAYS, NOW, closed_case
from tests.cases.helpers import case_manager, counsellor, details, host_office, register
from tests.factories import bearer, user_with_role


def found(q: str, actor) -> set[int]:
    return {case.id for case in services.list_cases(actor=actor, q=q).items}


@pytest.fixture
def riga(app: Flask):
    return counsellor(host_office("LV"))


def test_a_georgian_surname_is_found_in_latin_cyrillic_georgian_and_misspelt(app, riga) -> None:
    case = register(riga, last_name="კაპანაძე", first_name="ნინო")
    other = register(riga, last_name="Beridze", first_name="Giorgi")
    for q in (
        "Kapanadze",
        "Капанадзе",
        "კაპანაძე",
        "Kapanadse",  # misspelt
        "kapandze",  # a letter missing
        "KAPAN",  # the start of the name
        "Nino Kapanadze",
        "kapanadse nino",  # either order
    ):
        assert found(q, riga) == {case.id}, q
    assert found("Beridze", riga) == {other.id}
    assert found("Kapanadze Giorgi", riga) == set()
    assert found("Lomidze", riga) == set()


def test_an_armenian_surname_is_found_in_latin_and_cyrillic(app, riga) -> None:
    case = register(riga, first_name="Արամ", last_name="Կարապետյան", nationality="AM")
    assert found("Karapetian", riga) == {case.id}
    assert found("Карапетян", riga) == {case.id}
    assert found("aram karapetyan", riga) == {case.id}


def test_a_name_of_several_words_is_found_as_written(app, riga) -> None:
    case = register(riga, last_name="van der Berg")
    assert found("van der berg", riga) == {case.id}
    assert found("vanderberg", riga) == {case.id}


def test_date_of_birth_iso_or_day_month_year(app, riga) -> None:
    case = register(riga, date_of_birth=dt.date(1990, 4, 12))
    register(riga, first_name="Eka", date_of_birth=dt.date(1985, 1, 3))
    assert found("1990-04-12", riga) == {case.id}
    assert found("12.04.1990", riga) == {case.id}
    assert found("Nino 12.04.1990", riga) == {case.id}
    assert found("1990-04-13", riga) == set()


def test_the_end_of_the_case_number(app, riga) -> None:
    cases = [register(riga, first_name=f"P{i}") for i in range(12)]
    twelfth = cases[-1]
    assert twelfth.case_number.endswith("-00012")
    assert found("00012", riga) == {twelfth.id}
    assert found("12", riga) == {twelfth.id}
    assert found(twelfth.case_number.lower(), riga) == {twelfth.id}
    assert found(twelfth.case_number.split("-", 1)[1], riga) == {twelfth.id}  # "2026-00012"
    assert found("XX-2026-00012", riga) == set()
    assert found("13", riga) == set()


def test_the_end_of_a_phone_number_whatever_its_spacing(app, riga) -> None:
    case = register(riga, contact_after_return="Tel. +995 (555) 12-34-56, via her brother")
    eka = register(riga, first_name="Eka", contact_after_return="+995 599 000 111")
    assert found("555123456", riga) == {case.id}
    assert found("+995 555 12 34 56", riga) == {case.id}
    assert found("12-34-56", riga) == {case.id}
    assert found("0111", riga) == {eka.id}
    assert found("777123", riga) == set()
    assert found("555 12 34", riga) == set()  # the middle of a number is not its end


def test_an_edit_replaces_the_keys(app, riga) -> None:
    case = register(riga, last_name="Kapanadze")
    services.update_case(case.id, details(last_name="Lomidze"), actor=riga)
    assert found("Kapanadze", riga) == set()
    assert found("Lomidse", riga) == {case.id}


def test_another_offices_cases_never_match(app, riga) -> None:
    prague = counsellor(host_office("CZ", "Prague"))
    mine = register(riga, last_name="Kapanadze", consent_origin=True)
    theirs = register(prague, last_name="Kapanadze", contact_after_return="+995 555 000 000")
    tbilisi = case_manager()
    assert found("Kapanadze", riga) == {mine.id}
    assert found("Kapanadze", prague) == {theirs.id}
    assert found("555 000 000", riga) == {mine.id}
    assert found(theirs.case_number, riga) == set()
    assert found("Kapanadze", tbilisi) == {mine.id}  # shared with the origin office only
    assert found("Kapanadze", user_with_role(Role.ADMIN)) == {mine.id, theirs.id}


def test_an_anonymised_case_is_no_longer_found_by_its_old_name(app: Flask) -> None:
    w = closed_case(DAYS)
    admin = user_with_role(Role.ADMIN)
    assert found("Beridze", admin) == {w.case.id}
    assert found("555 000 000", admin) == {w.case.id}
    retention.anonymise_closed_cases(NOW, actor=ACTOR)
    db.session.expire_all()
    assert found("Beridze", admin) == set()
    assert found("Nino", admin) == set()
    assert found("Berdze", admin) == set()
    assert found("555 000 000", admin) == set()
    assert found(w.case.case_number, admin) == {w.case.id}  # the number stays


def test_list_page_and_menu_search_find_the_case_without_showing_names(client, login) -> None:
    actor = counsellor()
    case = register(actor, last_name="კაპანაძე")
    other = register(actor, last_name="Beridze", first_name="Giorgi")
    login(actor)
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="menu-search"' in home
    assert 'name="q"' in home
    page = client.get("/cases/", query_string={"q": "Kapanadse"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert case.case_number in body
    assert other.case_number not in body
    assert "კაპანაძე" not in body  # the list shows numbers only
    assert 'value="Kapanadse"' in body  # the query stays in the search field


def test_api_list_takes_the_same_query_and_shows_numbers_only(client) -> None:
    actor = counsellor()
    case = register(actor, last_name="Капанадзе")
    register(actor, last_name="Beridze", first_name="Giorgi")
    listed = client.get("/api/v1/cases", query_string={"q": "kapanadse"}, headers=bearer(actor))
    assert listed.status_code == 200
    assert [row["case_number"] for row in listed.get_json()] == [case.case_number]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    assert "Капанадзе" not in listed.get_data(as_text=True)
    assert "Nino" not in listed.get_data(as_text=True)


@pytest.mark.parametrize("q", ["Kapa\x00nadze", "x" * 201, "Kapa\x1bnadze"])
def test_hostile_queries_are_refused_clearly(client: FlaskClient, login, q: str) -> None:
    actor = counsellor()
    login(actor)
    page = client.get("/cases/", query_string={"q": q})
    assert page.status_code == 400
    api = client.get("/api/v1/cases", query_string={"q": q}, headers=bearer(actor))
    assert api.status_code == 422
    assert "q" in api.get_json()["errors"]["query"]


def test_punctuation_only_asks_for_nothing(app, riga) -> None:
    case = register(riga)
    assert found(" - . ", riga) == {case.id}


def test_registration_details_stay_as_written(app, riga) -> None:
    # the keys are the search's; the names and contact keep their script and spelling
    case = services.register_case(
        services.CaseDetails(
            first_name="ნინო",
            last_name="კაპანაძე",
            date_of_birth=dt.date(1990, 4, 12),
            sex=Sex.FEMALE,
            nationality="GE",
            return_country_code="GE",
            legal_status=LegalStatus.OTHER,
            contact_after_return="+995 555",
        ),
        confirm_duplicate=True,
        actor=riga,
    )
    assert (case.full_name, case.contact_after_return) == ("ნინო კაპანაძე", "+995 555")
    assert (case.last_name_key, case.last_name_sound, case.phone_key) == (
        "kapanadze",
        "kpnds",
        "555599",
    )
