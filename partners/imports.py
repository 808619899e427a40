"""Bulk import of an office's support options from CSV or Excel: all rows or none.

Every row is checked first and every problem reported by line and column; only a clean file is
saved, inside a savepoint that is rolled back if any service still refuses a row. Imported options
are drafts: a case manager reviews and publishes them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from partners.models import (
    CapacityPeriod,
    CostBasis,
    DeliveryMode,
    Partner,
    PaymentSchedule,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
)
from partners.services import (
    LocationInput,
    OptionInput,
    TextInput,
    create_option,
    list_partners,
    validate_option,
)
from reintegration_hub.core import validation
from reintegration_hub.core.errors import DomainError, InvalidInput
from reintegration_hub.core.i18n import currency_codes
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 2000
LIST_SEPARATOR = ";"
#: A cell's value once read (a number, a date, a text).
V = TypeVar("V")

#: The template's columns, in order, with an example row (the Kutaisi course).
COLUMNS: dict[str, str] = {
    "partner": "Imereti Vocational Training Centre",
    "category": "vocational_training",
    "title_en": "Sewing and tailoring course",
    "description_en": "Three-month course with a certificate; childcare on site.",
    "language_2": "ka",
    "title_2": "კერვის კურსი",
    "description_2": "სამთვიანი კურსი სერტიფიკატით.",
    "city": "Kutaisi",
    "region": "Imereti",
    "address": "12 Tsereteli St",
    "latitude": "42.2679",
    "longitude": "42.6946",
    "service_area": "Imereti",
    "min_age": "18",
    "max_age": "",
    "sexes": "",
    "vulnerabilities_served": "single_parent",
    "vulnerabilities_required": "",
    "min_family_size": "",
    "max_family_size": "6",
    "languages_required": "ka",
    "delivery_languages": "ka",
    "eligibility_notes": "",
    "cost": "1200.00",
    "currency": "GEL",
    "cost_basis": "per_person",
    "delivery_mode": "service",
    "duration_days": "90",
    "lead_time_days": "14",
    "required_documents": "ID card; IOM referral letter",
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
    "capacity_places": "8",
    "capacity_period": "month",
    "payment_schedule": "monthly",
    "payment_months": "3",
}
REQUIRED = ("partner", "category", "title_en")
#: Columns read as something else than text (numbers, dates, choices), and lists of texts.
NOT_TEXT = frozenset(
    {"min_age", "max_age", "min_family_size", "max_family_size", "duration_days"}
    | {"lead_time_days", "capacity_places", "latitude", "longitude", "cost"}
    | {"valid_from", "valid_until", "category", "cost_basis", "delivery_mode", "capacity_period"}
)
LIST_COLUMNS = frozenset(
    {"service_area", "sexes", "vulnerabilities_served", "vulnerabilities_required"}
    | {"languages_required", "delivery_languages", "required_documents"}
)
#: Which column a service's field error belongs to.
FIELD_COLUMNS = {"texts": "title_en", "locations": "city", "cost_minor": "cost"}


@dataclass(frozen=True)
class RowError:
    line: int  # as the spreadsheet shows it: the header is line 1
    column: str
    message: str


class ImportRejected(InvalidInput):
    """The file was not imported; ``rows`` says what to fix, line by line."""

    def __init__(self, rows: list[RowError]) -> None:
        message = _l("Nothing was imported: %(count)d problems to fix.", count=len(rows))
        super().__init__(message, field_errors={"file": [message]})
        self.rows = sorted(
            rows,
            key=lambda e: (e.line, list(COLUMNS).index(e.column) if e.column in COLUMNS else -1),
        )


# --- templates ------------------------------------------------------------------------------


def template_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS.keys())
    writer.writerow(COLUMNS.values())
    return out.getvalue().encode("utf-8-sig")  # Excel opens it as UTF-8


def template_xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Support options"
    sheet.append(list(COLUMNS.keys()))
    sheet.append(list(COLUMNS.values()))
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- reading --------------------------------------------------------------------------------


def _file_error(message: Any) -> InvalidInput:
    return InvalidInput(message, field_errors={"file": [message]})


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(_l("Save the CSV file as UTF-8.")) from None
    dialect: Any = csv.excel
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    reader = csv.reader(io.StringIO(text), dialect)
    for row in reader:
        yield reader.line_num, row


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise _file_error(_l("This is not an Excel (.xlsx) workbook.")) from None
    sheet = book.worksheets[0]
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, list(row)
    book.close()


def read_rows(
    filename: str, content: bytes, *, max_rows: int = MAX_ROWS
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The header and the non-empty rows ``(line, {column: value})`` of a CSV or XLSX file."""
    name = filename.lower()
    if name.endswith(".csv"):
        rows = _csv_rows(content)
    elif name.endswith(".xlsx"):
        rows = _xlsx_rows(content)
    else:
        raise _file_error(_l("Upload a .csv or .xlsx file (use the template)."))
    header: list[str] | None = None
    data: list[tuple[int, dict[str, Any]]] = []
    for line, values in rows:
        cells = ["" if v is None else v for v in values]
        if not any(str(c).strip() for c in cells):
            continue
        if header is None:
            header = [str(c).strip().lower() for c in cells]
            continue
        data.append((line, dict(zip(header, cells, strict=False))))
        if len(data) > max_rows:
            raise _file_error(_l("Import at most %(count)d rows at a time.", count=max_rows))
    if header is None or not data:
        raise _file_error(_l("The file has no rows to import."))
    return header, data


# --- parsing one row ------------------------------------------------------------------------


@cache
def cell_rules() -> dict[str, validation.Rule]:
    """The input rule of each column, from the model columns its values go to."""
    columns: dict[str, Any] = {
        "partner": Partner.name,
        "title_en": SupportOptionText.title,
        "title_2": SupportOptionText.title,
        "description_en": SupportOptionText.description,
        "description_2": SupportOptionText.description,
        "language_2": SupportOptionText.language,
        "city": SupportOptionLocation.city,
        "region": SupportOptionLocation.region,
        "address": SupportOptionLocation.address,
        "latitude": SupportOptionLocation.latitude,
        "longitude": SupportOptionLocation.longitude,
        "cost": SupportOption.cost_minor,
    }
    rules = {}
    for name in COLUMNS:
        column = columns.get(name, getattr(SupportOption, name, None))
        rule = validation.column_rule(column) if column is not None else None
        rules[name] = rule or validation.TEXT
    return rules


class _Row:
    def __init__(self, line: int, values: dict[str, Any], errors: list[RowError]) -> None:
        self.line, self.values, self.errors = line, values, errors

    def fail(self, column: str, message: Any) -> None:
        self.errors.append(RowError(self.line, column, str(message)))

    def text(self, column: str) -> str:
        value = self.values.get(column, "")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()

    def items(self, column: str) -> list[str]:
        return [v.strip() for v in self.text(column).split(LIST_SEPARATOR) if v.strip()]

    def check_texts(self) -> None:
        """Every text cell (and every item of a list cell) against its column's rule."""
        for column in COLUMNS:
            if column in NOT_TEXT:
                continue
            value = self.text(column)
            self.check(column, value.split(LIST_SEPARATOR) if column in LIST_COLUMNS else value)

    def check(self, column: str, value: V) -> V | None:
        """``value`` if it keeps its column's rule; else None, reported."""
        try:
            validation.check(cell_rules()[column], value)
        except validation.Refused as refused:
            self.fail(column, refused.message)
            return None
        return value

    def parse(self, column: str, convert: Callable[[str], V], message: Any) -> V | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            return convert(raw)
        except (ValueError, InvalidOperation):
            self.fail(column, message)
            return None

    def integer(self, column: str) -> int | None:
        rule = cell_rules()[column]
        assert isinstance(rule, validation.NumberRule)
        raw = self.text(column)
        try:
            return validation.to_int(raw, rule) if raw else None
        except validation.Refused as refused:
            self.fail(column, refused.message)
            return None

    def decimal(self, column: str) -> Decimal | None:
        return self.check(column, self.parse(column, Decimal, _l("Give a number.")))

    def date(self, column: str) -> dt.date | None:
        value = self.values.get(column)
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return self.check(column, value)
        return self.check(
            column, self.parse(column, dt.date.fromisoformat, _l("Give a date as YYYY-MM-DD."))
        )

    def choice(self, column: str, enum_cls: Any, default: Any = None) -> Any:
        raw = self.text(column).lower()
        if not raw:
            if default is None:
                self.fail(column, _l("Required."))
            return default
        try:
            return enum_cls(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_cls)
            self.fail(column, _l("Use one of: %(values)s.", values=allowed))
            return default


def _cost_minor(row: _Row, currency: str) -> int:
    cost = row.parse("cost", Decimal, _l("Give a number."))  # in major units: checked below
    if cost is not None and not cost.is_finite():
        row.fail("cost", _l("Give a number."))
    if cost is None or not cost.is_finite() or currency not in currency_codes():
        return 0
    minor = cost.scaleb(get_currency_precision(currency))
    if minor != minor.to_integral_value() or minor < 0:
        row.fail("cost", _l("Too many decimals or negative."))
        return 0
    return int(minor) if row.check("cost", minor) is not None else 0


def _option_input(row: _Row) -> OptionInput:
    texts = [TextInput("en", row.text("title_en"), row.text("description_en"))]
    if row.text("language_2") or row.text("title_2"):
        if not row.text("title_2"):
            row.fail("title_2", _l("Give the title in the second language."))
        texts.append(
            TextInput(
                row.text("language_2").lower(), row.text("title_2"), row.text("description_2")
            )
        )
    locations = []
    if row.text("city"):
        locations.append(
            LocationInput(
                row.text("city"),
                row.text("region"),
                row.text("address"),
                row.decimal("latitude"),
                row.decimal("longitude"),
            )
        )
    elif row.text("region") or row.text("address"):
        row.fail("city", _l("Give the city of the location."))
    currency = (row.text("currency") or "EUR").upper()
    if currency not in currency_codes():
        row.fail("currency", _l("Not an ISO 4217 currency code."))
    return OptionInput(
        category=row.choice("category", SupportCategory),
        texts=texts,
        locations=locations,
        service_area=row.items("service_area"),
        min_age=row.integer("min_age"),
        max_age=row.integer("max_age"),
        sexes=[v.lower() for v in row.items("sexes")],
        vulnerabilities_served=[v.lower() for v in row.items("vulnerabilities_served")],
        vulnerabilities_required=[v.lower() for v in row.items("vulnerabilities_required")],
        min_family_size=row.integer("min_family_size"),
        max_family_size=row.integer("max_family_size"),
        languages_required=[v.lower() for v in row.items("languages_required")],
        eligibility_notes=row.text("eligibility_notes"),
        cost_minor=_cost_minor(row, currency),
        currency=currency,
        cost_basis=row.choice("cost_basis", CostBasis, CostBasis.PER_PERSON),
        delivery_mode=row.choice("delivery_mode", DeliveryMode, DeliveryMode.SERVICE),
        duration_days=row.integer("duration_days"),
        lead_time_days=row.integer("lead_time_days") or 0,
        delivery_languages=[v.lower() for v in row.items("delivery_languages")],
        required_documents=row.items("required_documents"),
        valid_from=row.date("valid_from"),
        valid_until=row.date("valid_until"),
        capacity_places=row.integer("capacity_places"),
        capacity_period=row.choice("capacity_period", CapacityPeriod, CapacityPeriod.MONTH),
        payment_schedule=row.choice("payment_schedule", PaymentSchedule, PaymentSchedule.ONE_OFF),
        payment_months=row.integer("payment_months"),
    )


# --- importing ------------------------------------------------------------------------------


def _partners_by_name(office_id: int | None, actor: Actor) -> dict[str, Partner]:
    partners = list_partners(actor=actor)
    if actor.role == Role.CASE_MANAGER:
        partners = [p for p in partners if p.country_code == actor.country_code]
    if office_id is not None:
        partners = [p for p in partners if p.office_id == office_id]
    return {p.name.strip().lower(): p for p in partners}


def _report(row: _Row, error: DomainError) -> None:
    for name, messages in (error.field_errors or {"": [error.message]}).items():
        column = FIELD_COLUMNS.get(name, name) or "partner"
        for message in messages:
            row.fail(column, message)


def import_options(
    filename: str, content: bytes, *, office_id: int | None = None, actor: Actor
) -> list[SupportOption]:
    """Create one draft option per row, all or none.

    Raises ``InvalidInput`` (field ``file``) when the file cannot be read, and ``ImportRejected``
    with every problem by line and column when any row is wrong; then nothing is saved.
    """
    header, rows = read_rows(filename, content)
    errors: list[RowError] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    errors += [RowError(1, c, str(_l("This column is missing."))) for c in missing]
    errors += [RowError(1, c, str(_l("Unknown column; see the template."))) for c in unknown]
    if errors:
        raise ImportRejected(errors)
    partners = _partners_by_name(office_id, actor)
    parsed: list[tuple[_Row, Partner, OptionInput]] = []
    for line, values in rows:
        row = _Row(line, values, errors)
        row.check_texts()
        for column in REQUIRED:
            if not row.text(column):
                row.fail(column, _l("Required."))
        partner = partners.get(row.text("partner").lower())
        if row.text("partner") and partner is None:
            row.fail("partner", _l("No partner of yours has this name."))
        data = _option_input(row)
        try:
            validate_option(data)
        except DomainError as error:
            _report(row, error)
        if partner is not None:
            parsed.append((row, partner, data))
    if errors:
        raise ImportRejected(errors)
    savepoint = db.session.begin_nested()
    created: list[SupportOption] = []
    for row, partner, data in parsed:
        try:
            with db.session.begin_nested():
                created.append(create_option(partner.id, data, actor=actor))
        except DomainError as error:
            _report(row, error)
        except sa.exc.IntegrityError:
            row.fail("partner", _l("The database refused this row."))
    if errors:
        savepoint.rollback()
        raise ImportRejected(errors)
    savepoint.commit()
    return created
