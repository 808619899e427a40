"""Exchange rates: entered by hand or imported from a file of daily rates, all rows or none.

A rate says how many euros one unit of a currency was worth from a day on
(``core.money.ExchangeRate``); plan lines and deliveries copy the rate they used, so changing
or removing a rate later never changes what was priced with it. A rate may be given either way
round: euros per unit, or units per euro (how central banks quote the euro: 1 EUR = 2.93 GEL).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.imports import RowError, read_rows
from reintegration_hub.core.audit import AuditEntry, record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound
from reintegration_hub.core.i18n import currency_codes
from reintegration_hub.core.money import BASE_CURRENCY, ExchangeRate
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.programmes.services import Errors, clean_text, require_manager

#: The stored precision (``Numeric(18, 10)``: below 10^8) and the plausible range of a rate,
#: quoted either way: a currency worth from a ten-millionth of a euro to ten million euros.
RATE_PLACES = Decimal("1e-10")
MIN_RATE = Decimal("0.0000001")
MAX_RATE = Decimal(10_000_000)
RATE_RANGE = {"min": f"{MIN_RATE:f}", "max": f"{MAX_RATE:f}"}
#: The first day of the euro.
EARLIEST_DAY = dt.date(1999, 1, 1)
#: Rates may be entered this many days ahead (a rate fixed for the coming month).
DAYS_AHEAD = 366
MAX_IMPORT_ROWS = 20_000
MAX_IMPORT_BYTES = 4 * 1024 * 1024
#: The columns of an import file; exactly one of the two rate columns.
COLUMNS = ("currency", "date", "eur_per_unit", "units_per_eur", "source")
RATE_COLUMNS = ("eur_per_unit", "units_per_eur")


def eur_rate(value: Decimal, *, units_per_eur: bool = False) -> Decimal:
    """Euros per unit, stored to ten decimals, from a rate quoted either way round.

    Raises ``ValueError`` for a rate that is not a positive number in the plausible range."""
    if not value.is_finite() or not MIN_RATE <= value <= MAX_RATE:
        raise ValueError("rate out of range")
    rate = (Decimal(1) / value) if units_per_eur else value
    rate = rate.quantize(RATE_PLACES)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError("rate out of range")
    return rate


def _check(currency: str, valid_on: dt.date, source: str, errors: Errors) -> tuple[str, str]:
    currency = currency.strip().upper()
    if currency == BASE_CURRENCY:
        errors.setdefault("currency", []).append(_l("Euro amounts need no rate."))
    elif currency not in currency_codes():
        errors.setdefault("currency", []).append(_l("Not an ISO 4217 currency code."))
    latest = now_utc().date() + dt.timedelta(days=DAYS_AHEAD)
    if not EARLIEST_DAY <= valid_on <= latest:
        errors.setdefault("valid_on", []).append(
            _l("Give a day from 1999 (the euro) to a year from today.")
        )
    return currency, clean_text(source, "source", errors, max_length=120, required=False)


def _rate_error(errors: Errors) -> None:
    errors.setdefault("eur_per_unit", []).append(
        _l("Give a positive rate from %(min)s to %(max)s.", **RATE_RANGE)
    )


# --- by hand --------------------------------------------------------------------------------


def record_rate(
    currency: str,
    valid_on: dt.date,
    rate: Decimal,
    *,
    units_per_eur: bool = False,
    source: str = "",
    actor: Actor,
) -> ExchangeRate:
    """A new rate for ``currency`` from ``valid_on`` on; one rate per currency and day."""
    require_manager(actor)
    errors: Errors = {}
    currency, source = _check(currency, valid_on, source, errors)
    try:
        eur_per_unit = eur_rate(rate, units_per_eur=units_per_eur)
    except ValueError:
        _rate_error(errors)
    if errors:
        raise InvalidInput(_l("The rate is not valid."), field_errors=errors)
    exists = db.session.scalar(
        sa.select(ExchangeRate.id).where(
            ExchangeRate.currency == currency, ExchangeRate.valid_on == valid_on
        )
    )
    if exists is not None:
        message = _l("A rate for this currency and day exists already: change it instead.")
        raise Conflict(message, field_errors={"valid_on": [message]})
    row = ExchangeRate(
        currency=currency, valid_on=valid_on, eur_per_unit=eur_per_unit, source=source
    )
    record_audit("exchange_rate.create", row, actor=actor)
    return row


def get_rate(rate_id: int, *, actor: Actor) -> ExchangeRate:
    require_manager(actor)
    row = db.session.get(ExchangeRate, rate_id)
    if row is None:
        raise NotFound(_l("Not found."))
    return row


def update_rate(
    rate_id: int,
    rate: Decimal,
    *,
    units_per_eur: bool = False,
    source: str = "",
    actor: Actor,
) -> ExchangeRate:
    """Correct a rate; what was priced with the old one keeps it."""
    row = get_rate(rate_id, actor=actor)
    errors: Errors = {}
    _, source = _check(row.currency, row.valid_on, source, errors)
    errors.pop("valid_on", None)  # the day is not changed here
    try:
        row.eur_per_unit = eur_rate(rate, units_per_eur=units_per_eur)
    except ValueError:
        _rate_error(errors)
    if errors:
        raise InvalidInput(_l("The rate is not valid."), field_errors=errors)
    row.source = source
    record_audit("exchange_rate.update", row, actor=actor)
    return row


def delete_rate(rate_id: int, *, actor: Actor) -> None:
    """Remove a rate entered by mistake; plan lines and deliveries keep the rate they used."""
    row = get_rate(rate_id, actor=actor)
    record_audit(
        "exchange_rate.delete",
        row,
        actor=actor,
        changes={
            "currency": [row.currency, None],
            "valid_on": [row.valid_on.isoformat(), None],
            "eur_per_unit": [str(row.eur_per_unit), None],
        },
    )
    db.session.delete(row)
    db.session.flush()


def rate_list_statement(*, actor: Actor, currency: str | None = None) -> sa.Select[Any]:
    """Rates, newest day first, optionally of one currency."""
    require_manager(actor)
    stmt = sa.select(ExchangeRate)
    if currency:
        code = currency.strip().upper()
        stmt = stmt.where(ExchangeRate.currency == code if code in currency_codes() else sa.false())
    return stmt.order_by(ExchangeRate.valid_on.desc(), ExchangeRate.currency)


def list_rates(
    *, actor: Actor, currency: str | None = None, page: int = 1, page_size: int = 50
) -> Page[ExchangeRate]:
    """One page of rates and their number: two statements."""
    stmt = rate_list_statement(actor=actor, currency=currency)
    return paginate(stmt, page=page, per_page=page_size)


def rate_currencies() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(ExchangeRate.currency).distinct().order_by(ExchangeRate.currency)
        )
    )


# --- import ---------------------------------------------------------------------------------


def template_csv() -> bytes:
    """A file to start from: the columns and two example rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["currency", "date", "units_per_eur", "source"])
    writer.writerow(["GEL", "2026-03-02", "2.9312", "National Bank of Georgia"])
    writer.writerow(["GEL", "2026-03-03", "2.9287", "National Bank of Georgia"])
    return out.getvalue().encode("utf-8-sig")  # Excel opens it as UTF-8


class RatesRejected(InvalidInput):
    """The file was not imported; ``rows`` says what to fix, line by line."""

    def __init__(self, rows: list[RowError]) -> None:
        message = _l("Nothing was imported: %(count)d problems to fix.", count=len(rows))
        order = {column: n for n, column in enumerate(COLUMNS)}
        self.rows = sorted(rows, key=lambda e: (e.line, order.get(e.column, len(order))))
        lines = [f"{e.line} {e.column}: {e.message}" for e in self.rows]
        super().__init__(message, field_errors={"file": [message], "lines": lines})


@dataclass(frozen=True)
class ImportResult:
    added: int
    changed: int
    unchanged: int


def _printable(text: str, length: int) -> str:
    """A file or column name as the audit trail and the error table may show it."""
    return "".join(c for c in text if c.isprintable())[:length]


def _cell_text(values: dict[str, Any], column: str) -> str:
    value = values.get(column, "")
    return "" if value is None else str(value).strip()


def _cell_day(values: dict[str, Any], column: str) -> dt.date:
    value = values.get(column)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(_cell_text(values, column))


def _parse(
    line: int, values: dict[str, Any], rate_column: str, problems: list[RowError]
) -> tuple[str, dt.date, Decimal, str] | None:
    errors: Errors = {}
    try:
        day = _cell_day(values, "date")
    except ValueError:
        errors["date"] = [_l("Give a date as YYYY-MM-DD.")]
        day = EARLIEST_DAY
    currency, source = _check(
        _cell_text(values, "currency"), day, _cell_text(values, "source"), errors
    )
    if "valid_on" in errors:
        errors.setdefault("date", []).extend(errors.pop("valid_on"))
    try:
        rate = eur_rate(
            Decimal(_cell_text(values, rate_column)), units_per_eur=rate_column == "units_per_eur"
        )
    except (ValueError, InvalidOperation):
        errors[rate_column] = [_l("Give a positive rate from %(min)s to %(max)s.", **RATE_RANGE)]
    for column, messages in errors.items():
        problems.extend(RowError(line, column, str(m)) for m in messages)
    return None if errors else (currency, day, rate, source)


def import_rates(filename: str, content: bytes, *, actor: Actor) -> ImportResult:
    """Daily rates from a CSV (or XLSX) file with the columns ``currency``, ``date`` and
    ``eur_per_unit`` or ``units_per_eur`` (and optionally ``source``), all or none.

    A day already recorded takes the file's rate. Raises ``InvalidInput`` (field ``file``) when
    the file cannot be read and ``RatesRejected`` with every problem by line and column."""
    require_manager(actor)
    if len(content) > MAX_IMPORT_BYTES:
        message = _l(
            "The file is too large: import at most %(count)d rows at a time.", count=MAX_IMPORT_ROWS
        )
        raise InvalidInput(message, field_errors={"file": [message]})
    header, rows = read_rows(filename, content, max_rows=MAX_IMPORT_ROWS)
    problems: list[RowError] = []
    rate_columns = [c for c in RATE_COLUMNS if c in header]
    for column in ("currency", "date"):
        if column not in header:
            problems.append(RowError(1, column, str(_l("This column is missing."))))
    if len(rate_columns) != 1:
        problems.append(
            RowError(1, "eur_per_unit", str(_l("Give either eur_per_unit or units_per_eur.")))
        )
    problems += [
        RowError(1, _printable(column, 40), str(_l("Unknown column; see the template.")))
        for column in header
        if column and column not in COLUMNS
    ]
    if problems:
        raise RatesRejected(problems)
    parsed: dict[tuple[str, dt.date], tuple[int, Decimal, str]] = {}
    for line, values in rows:
        row = _parse(line, values, rate_columns[0], problems)
        if row is None:
            continue
        currency, day, rate, source = row
        if (currency, day) in parsed:
            problems.append(
                RowError(
                    line,
                    "date",
                    str(
                        _l(
                            "The same currency and day as line %(line)d.",
                            line=parsed[currency, day][0],
                        )
                    ),
                )
            )
        parsed[currency, day] = (line, rate, source)
    if problems:
        raise RatesRejected(problems)
    return _save(parsed, filename, actor)


def _save(
    parsed: dict[tuple[str, dt.date], tuple[int, Decimal, str]], filename: str, actor: Actor
) -> ImportResult:
    """Insert the new days and update the changed ones, in a fixed number of statements per
    currency; one audit row for the file."""
    changed = unchanged = 0
    currencies = sorted({currency for currency, _ in parsed})
    existing: dict[tuple[str, dt.date], ExchangeRate] = {}
    for currency in currencies:
        days = [day for c, day in parsed if c == currency]
        for row in db.session.scalars(
            sa.select(ExchangeRate).where(
                ExchangeRate.currency == currency,
                ExchangeRate.valid_on.between(min(days), max(days)),
            )
        ):
            existing[row.currency, row.valid_on] = row
    new_rows: list[ExchangeRate] = []
    for (currency, day), (_, rate, source) in parsed.items():
        found = existing.get((currency, day))
        if found is None:
            new_rows.append(
                ExchangeRate(currency=currency, valid_on=day, eur_per_unit=rate, source=source)
            )
        elif found.eur_per_unit != rate or found.source != source:
            found.eur_per_unit, found.source = rate, source
            changed += 1
        else:
            unchanged += 1
    added = len(new_rows)
    db.session.add_all(new_rows)
    db.session.add(
        AuditEntry(
            actor_id=actor.id,
            actor_label=actor.audit_label,
            action="exchange_rate.import",
            object_type="ExchangeRate",
            object_id=None,
            office_id=actor.office_id,
            changes={
                "file": [None, _printable(filename, 200)],
                "currencies": [None, currencies],
                "added": [None, added],
                "changed": [None, changed],
                "unchanged": [None, unchanged],
            },
        )
    )
    db.session.flush()
    return ImportResult(added, changed, unchanged)
