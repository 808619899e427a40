"""Bulk import of options from CSV and Excel: all or nothing, problems by line and column."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from flask import Flask
from openpyxl import Workbook, load_workbook

from partners import imports
from partners.models import OptionStatus, SupportOption
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.extensions import db
from tests.factories import PartnerFactory
from tests.partners.helpers import COLUMNS, as_csv, case_manager, rows


def as_xlsx(data: list[dict[str, str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for row in data:
        values: list[object] = [row[c] for c in COLUMNS]
        values[COLUMNS.index("capacity_places")] = int(row["capacity_places"])  # a real number cell
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def count_options() -> int:
    return db.session.scalar(sa.select(sa.func.count(SupportOption.id)))


@pytest.mark.parametrize(("name", "encode"), [("options.csv", as_csv), ("options.xlsx", as_xlsx)])
def test_a_good_file_creates_every_option_as_a_draft(app: Flask, name: str, encode) -> None:
    partner = PartnerFactory(name="Imereti Vocational Training Centre")
    created = imports.import_options(name, encode(rows(partner.name, 4)), actor=case_manager())
    assert len(created) == 4 == count_options()
    option = created[0]
    assert option.status == OptionStatus.DRAFT
    assert option.partner_id == partner.id
    assert option.cost_minor == 15050
    assert option.capacity_places == 8
    assert {t.language for t in option.texts} == {"en", "ka"}
    assert option.locations[0].city == "City 0"
    assert option.required_documents == [
        "ID card",
        "IOM referral letter",
    ]


def test_two_bad_rows_import_nothing_and_are_reported_by_line_and_column(app: Flask) -> None:
    partner = PartnerFactory()
    data = rows(partner.name, 4)
    data[1]["category"] = "gardening"
    data[3]["min_age"] = "60"
    data[3]["max_age"] = "30"
    with pytest.raises(imports.ImportRejected) as error:
        imports.import_options("options.csv", as_csv(data), actor=case_manager())
    problems = {(e.line, e.column) for e in error.value.rows}
    assert problems == {(3, "category"), (5, "max_age")}
    assert count_options() == 0


def test_rows_the_services_refuse_roll_the_whole_file_back(app: Flask) -> None:
    partner = PartnerFactory()
    data = rows(partner.name, 3)
    data[2]["currency"] = "AMD"  # a real currency without a recorded exchange rate
    with pytest.raises(imports.ImportRejected) as error:
        imports.import_options("options.xlsx", as_xlsx(data), actor=case_manager())
    assert [(e.line, e.column) for e in error.value.rows] == [(4, "currency")]
    assert count_options() == 0


def test_partners_of_another_country_are_unknown(app: Flask) -> None:
    partner = PartnerFactory()
    with pytest.raises(imports.ImportRejected) as error:
        imports.import_options("o.csv", as_csv(rows(partner.name, 1)), actor=case_manager("AM"))
    assert [(e.line, e.column) for e in error.value.rows] == [(2, "partner")]


def test_missing_and_unknown_columns_are_reported_on_the_header_line(app: Flask) -> None:
    content = b"partner,title_en,colour\nX,Course,blue\n"
    with pytest.raises(imports.ImportRejected) as error:
        imports.import_options("o.csv", content, actor=case_manager())
    assert {(e.line, e.column) for e in error.value.rows} == {(1, "category"), (1, "colour")}


@pytest.mark.parametrize(
    ("name", "content"),
    [("options.pdf", b"%PDF-1.4"), ("options.xlsx", b"not a zip"), ("o.csv", b"\xff\xfe\x00bad")],
)
def test_a_wrong_file_is_a_clear_error(app: Flask, name: str, content: bytes) -> None:
    with pytest.raises(InvalidInput) as error:
        imports.import_options(name, content, actor=case_manager())
    assert "file" in error.value.field_errors
    assert not isinstance(error.value, imports.ImportRejected)


def test_the_templates_have_the_columns_and_an_example_row(app: Flask) -> None:
    sheet = load_workbook(io.BytesIO(imports.template_xlsx())).active
    assert [c.value for c in sheet[1]] == COLUMNS
    header = imports.template_csv().decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == COLUMNS


def test_the_import_page_reports_problems_and_offers_templates(app: Flask, login) -> None:
    partner = PartnerFactory()
    client = login(case_manager())
    page = client.get("/marketplace/import")
    assert b'data-testid="template-xlsx"' in page.data
    template = client.get("/marketplace/import/template.xlsx")
    assert template.status_code == 200
    assert template.mimetype == imports.XLSX_MIMETYPE
    data = rows(partner.name, 2)
    data[0]["category"] = "nope"
    bad = client.post(
        "/marketplace/import",
        data={"file": (io.BytesIO(as_csv(data)), "options.csv")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert b'data-testid="import-errors"' in bad.data
    assert count_options() == 0
    good = client.post(
        "/marketplace/import",
        data={"file": (io.BytesIO(as_csv(rows(partner.name, 2))), "options.csv")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    assert count_options() == 2
    wrong = client.post(
        "/marketplace/import",
        data={"file": (io.BytesIO(b"x"), "options.txt")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422
    assert b"Upload a .csv or .xlsx file." in wrong.data
