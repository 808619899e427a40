"""The hostile inputs issue 13 found answering 500 (PostgreSQL refuses NUL bytes and integers
past its columns; Python's dates end in year 9999): each is now refused at the field, with
nothing written."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners import imports
from partners.models import SupportOption
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from tests.cases.helpers import PAYLOAD, counsellor, origin_office, register
from tests.deliveries.helpers import JPEG, build_world
from tests.factories import OfficeFactory, PartnerFactory, UserFactory, bearer
from tests.monitoring import casework


def count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def json_errors(response: Any) -> dict[str, Any]:
    """The field messages of a refused API request (``errors`` by location, or flat)."""
    errors = response.get_json()["errors"]
    return errors.get("json") or errors.get("query") or errors.get("form_and_files") or errors


# --- the API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Ar\x00am"),
        ("first_name", "Ar\ud800am"),  # a lone surrogate: JSON allows "\ud800", UTF-8 does not
        ("last_name", "Petro\u202esyan"),  # a bidi override hides what the name says
        ("last_name", "Petro\u200bsyan"),  # a zero-width space makes a twin of a name
        ("contact_after_return", "+995 555\x00 123"),
        ("origin_office_id", 2**31),
        ("case_manager_id", 2**63),
        ("date_of_birth", "1800-01-01"),
        ("date_of_birth", "9999-12-31"),
        ("departed_on", "9999-12-31"),
        ("arrived_on", "9999-12-01"),
    ],
)
def test_registering_a_case_refuses_hostile_values_at_the_field(
    client: Any, field: str, value: Any
) -> None:
    response = client.post(
        "/api/v1/cases", json={**PAYLOAD, field: value}, headers=bearer(counsellor())
    )
    assert response.status_code == 422
    assert field in json_errors(response)
    assert count(Returnee) == 0


def test_a_dependant_born_in_1800_is_refused(client: Any) -> None:
    dependants = [{"relation": "child", "date_of_birth": "1800-01-01"}]
    response = client.post(
        "/api/v1/cases", json={**PAYLOAD, "dependants": dependants}, headers=bearer(counsellor())
    )
    assert response.status_code == 422
    assert "date_of_birth" in json_errors(response)["dependants"]["0"]
    assert count(Returnee) == 0


@pytest.mark.parametrize(
    "query",
    [
        "number=%00",
        "host_office_id=87178291200",
        "page=99999999999999999999999",
        "page_size=99999999999999999999999",
    ],
)
def test_the_case_list_api_refuses_hostile_query_values(client: Any, query: str) -> None:
    admin = UserFactory(role=Role.ADMIN, office=OfficeFactory(kind=OfficeKind.HOME))
    response = client.get(f"/api/v1/cases?{query}", headers=bearer(admin))
    assert response.status_code == 422
    assert query.split("=")[0] in json_errors(response)


def test_an_invoice_number_with_a_nul_byte_is_refused(client: Any) -> None:
    world = build_world()
    response = client.post(
        "/api/v1/deliveries",
        data={
            "plan_line_id": str(world.line.id),
            "delivered_on": dt.datetime.now(dt.UTC).date().isoformat(),
            "amount_minor": "45000",
            "currency": "GEL",
            "invoice_number": "INV\x00-9",
            "certificate": (io.BytesIO(JPEG), "receipt.jpg"),
        },
        headers=bearer(world.case_manager),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "invoice_number" in json_errors(response)
    assert count(Delivery) == 0


# --- the pages -------------------------------------------------------------------------------

#: The case form's own fields, filled as a counsellor would.
FORM = {k: v for k, v in PAYLOAD.items() if isinstance(v, str)}


@pytest.mark.parametrize(
    "query",
    ["number=%00", "office_id=87178291200", "page=99999999999999999999999"],
)
def test_the_case_list_page_answers_a_hostile_query_with_400(
    app: Flask, login: Any, query: str
) -> None:
    admin = UserFactory(role=Role.ADMIN, office=OfficeFactory(kind=OfficeKind.HOME))
    response = login(admin).get(f"/cases/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.get_data(as_text=True)


def test_the_registration_form_shows_a_nul_byte_at_its_field(app: Flask, login: Any) -> None:
    user = counsellor()
    form = {**FORM, "first_name": "Ar\x00am", "contact_after_return": "Tbilisi\x00"}
    response = login(user).post("/cases/new", data={**form, "departed_on": "9999-12-31"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.count("control characters") == 2
    assert "Give a date" in page
    assert count(Returnee) == 0


def test_the_edit_form_refuses_a_departure_in_9999(app: Flask, login: Any) -> None:
    user = counsellor()
    case = register(user)
    origin_office()
    response = login(user).post(
        f"/cases/{case.id}/edit",
        data={
            **FORM,
            "departed_on": "9999-12-31",
            "dependants-0-relation": "child",
            "dependants-0-date_of_birth": "1800-01-01",
        },
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Returnee, case.id).departed_on is None


def test_the_donor_report_of_a_period_in_9999_is_a_clear_refusal(app: Flask, login: Any) -> None:
    grant = casework.grant("LV-AMIF-2026")
    admin = UserFactory(role=Role.ADMIN, office=OfficeFactory(kind=OfficeKind.HOME))
    client = login(admin)
    response = client.get(f"/monitoring/report?grant={grant.id}&from=9999-12-01&to=9999-12-31")
    assert response.status_code == 400
    assert "Give a date from 2000-01-01" in response.get_data(as_text=True)
    assert client.get(f"/monitoring/report?grant={2**40}").status_code == 400


# --- the import ------------------------------------------------------------------------------


def _import_csv(changes: dict[str, str]) -> bytes:
    partner = PartnerFactory(name="Imereti Vocational Training Centre")
    row = {**imports.COLUMNS, "partner": partner.name, "currency": "EUR", **changes}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(imports.COLUMNS))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("cost", "1e23"),
        ("title_en", "x" * 10_000),  # the column holds 200
        ("description_en", "Three months\x00"),
        ("min_age", str(2**31)),
        ("capacity_places", str(2**63)),
        ("valid_until", "9999-12-31"),
    ],
    ids=["cost-1e23", "title-10000", "description-nul", "age-2^31", "places-2^63", "9999"],
)
def test_an_import_refuses_a_hostile_cell_by_line_and_column(
    app: Flask, column: str, value: str
) -> None:
    content = _import_csv({column: value})
    manager = UserFactory(
        role=Role.CASE_MANAGER, office=OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE")
    )
    with pytest.raises(imports.ImportRejected) as refused:
        imports.import_options("options.csv", content, actor=manager)
    assert (2, column) in {(e.line, e.column) for e in refused.value.rows}
    assert count(SupportOption) == 0
