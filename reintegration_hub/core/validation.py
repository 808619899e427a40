"""The input rules: what a text, a number or a date must be before any service or database
sees it. One place, applied by the WTForms base forms (``core.forms``), the marshmallow base
schema (``core.schemas``), the query-string helpers (``core.web``) and the imports.

- **Text**: no control characters (NUL, which PostgreSQL refuses, and the others that break
  exports), no lone surrogates (not encodable as UTF-8), at most the column's length; names
  (a field called ``name`` or ``*_name``) also refuse direction overrides and zero-width
  characters, which make a name read differently from what is stored.
- **Integers** within their column (32-bit ``Integer``, 64-bit ``BigInteger``); ids from 1;
  page numbers up to ``MAX_PAGE``; money (minor units) from 0 to ``MAX_AMOUNT_MINOR``.
- **Decimals** within their ``Numeric`` column, finite.
- **Dates** within a plausible range for what they are (``BIRTH_DATE``, ``TRAVEL_DATE``,
  ``PERIOD_DATE``), else within 1900-2100 (``ANY_DATE``), so date arithmetic never overflows.

A column says which rule it takes: its type and length, or ``info=accepts(RULE)`` for what the
type cannot say (a date of birth, money). Forms and schemas that name their model
(``class Meta: model = ...``) take the rule of the column of the same name, so a length is
written once, in the model.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Every table's id is a 32-bit integer.
MAX_ID = INT32_MAX
#: Page numbers of every list (pages, API): beyond, offsets stop fitting the database.
MAX_PAGE = 10_000
#: Characters of a text whose column sets no length.
MAX_TEXT = 10_000
#: Money in minor units: ten billion of a two-decimal currency.
MAX_AMOUNT_MINOR = 10**12
#: Decimals without a ``Numeric`` column to bound them.
MAX_DECIMAL = Decimal(10) ** 15

# C0 controls but tab, line feed and carriage return; openpyxl refuses the same in a cell
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
SURROGATE = re.compile("[\ud800-\udfff]")
# bidi marks, embeddings, overrides and isolates; zero-width spaces, joiners and the BOM
INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

CONTROL_MESSAGE = _l("Remove the control characters (such as NUL) from this text.")
SURROGATE_MESSAGE = _l("This text has a broken character; type it again.")
INVISIBLE_MESSAGE = _l(
    "A name may not contain invisible characters (direction marks, zero-width spaces)."
)


class Refused(ValueError):
    """A value broke an input rule; ``message`` says how to fix it (lazily translated)."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def is_name(field_name: str) -> bool:
    """Whether a field holds a name (of a person or an organisation): the stricter text rule."""
    return field_name == "name" or field_name.endswith("_name")


# --- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRule:
    max_length: int = MAX_TEXT
    name: bool = False
    takes: ClassVar[tuple[type, ...]] = (str,)

    def problems(self, value: Any) -> list[Any]:
        found = []
        if CONTROL.search(value):
            found.append(CONTROL_MESSAGE)
        if SURROGATE.search(value):
            found.append(SURROGATE_MESSAGE)
        if self.name and INVISIBLE.search(value):
            found.append(INVISIBLE_MESSAGE)
        if len(value) > self.max_length:
            found.append(_l("At most %(max)d characters.", max=self.max_length))
        return found

    def named(self, name: bool) -> TextRule:
        return TextRule(self.max_length, name) if name != self.name else self


@dataclass(frozen=True)
class NumberRule:
    minimum: int | Decimal
    maximum: int | Decimal
    message: Any = None
    takes: ClassVar[tuple[type, ...]] = (int, Decimal, float)

    def problems(self, value: Any) -> list[Any]:
        if (isinstance(value, Decimal) and not value.is_finite()) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            return [_l("Give a number.")]
        if self.minimum <= value <= self.maximum:
            return []
        if self.message is not None:
            return [self.message]
        return [_l("Give a number from %(min)s to %(max)s.", min=self.minimum, max=self.maximum)]


def _years_from(today: dt.date, years: int) -> dt.date:
    try:
        return today.replace(year=today.year + years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + years, day=28)


@dataclass(frozen=True)
class DateRule:
    """Dates from ``earliest(today)`` to ``latest(today)``; ``message`` takes both."""

    earliest: Callable[[dt.date], dt.date]
    latest: Callable[[dt.date], dt.date]
    message: Any = field(default=_l("Give a date from %(earliest)s to %(latest)s."), compare=False)
    takes: ClassVar[tuple[type, ...]] = (dt.date,)

    def bounds(self, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
        today = today or dt.datetime.now(dt.UTC).date()
        return self.earliest(today), self.latest(today)

    def problems(self, value: Any) -> list[Any]:
        if isinstance(value, dt.datetime):
            value = value.date()
        earliest, latest = self.bounds()
        if earliest <= value <= latest:
            return []
        return [self.message % {"earliest": earliest.isoformat(), "latest": latest.isoformat()}]


Rule = TextRule | NumberRule | DateRule

INT32 = NumberRule(INT32_MIN, INT32_MAX)
INT64 = NumberRule(INT64_MIN, INT64_MAX)
INT16 = NumberRule(-(2**15), 2**15 - 1)
ID = NumberRule(1, MAX_ID, _l("Give an id from 1 to %(max)d.", max=MAX_ID))
PAGE = NumberRule(1, MAX_PAGE, _l("Give a page from 1 to %(max)d.", max=MAX_PAGE))
MONEY = NumberRule(
    0,
    MAX_AMOUNT_MINOR,
    _l("Give an amount from 0 to %(max)d (in cents or other minor units).", max=MAX_AMOUNT_MINOR),
)
TEXT = TextRule()

ANY_DATE = DateRule(lambda _today: dt.date(1900, 1, 1), lambda _today: dt.date(2100, 12, 31))
#: Born after 1900, not in the future.
BIRTH_DATE = DateRule(
    lambda _today: dt.date(1900, 1, 1),
    lambda today: today,
    _l("Give a date of birth from %(earliest)s to today."),
)
#: A return decision, its deadline, a departure, an arrival: within a few years of today (ten
#: years back: cases of a programme's earlier grants are still recorded and edited).
TRAVEL_DATE = DateRule(lambda today: _years_from(today, -10), lambda today: _years_from(today, 2))
#: A day something happened that is written down afterwards (a case note): from 1900 to today.
PAST_DATE = DateRule(
    lambda _today: dt.date(1900, 1, 1),
    lambda today: today,
    _l("Give a date from %(earliest)s to today."),
)
#: A day to come back to something (a note's follow-up): from today to two years ahead.
FOLLOW_UP_DATE = DateRule(
    lambda today: today,
    lambda today: _years_from(today, 2),
    _l("Give a date from today to %(latest)s."),
)
#: A day of a reporting period (monitoring, donor report).
PERIOD_DATE = DateRule(lambda _today: dt.date(2000, 1, 1), lambda today: _years_from(today, 10))


def accepts(rule: Rule) -> dict[str, Rule]:
    """A column's ``info``: the rule its input takes where the type cannot say it, as in
    ``mapped_column(info=accepts(BIRTH_DATE))``."""
    return {"accepts": rule}


# --- rules of columns and fields ---------------------------------------------------------------


def column_rule(column: Any) -> Rule | None:
    """The rule of a model column (a ``Column`` or a mapped attribute), from ``accepts`` or
    its type; None for a type that needs none (enumerations, booleans, JSON)."""
    column = getattr(column, "expression", column)  # an InstrumentedAttribute
    if not isinstance(column, sa.Column):
        return None
    if "accepts" in column.info:
        rule: Rule = column.info["accepts"]
        return rule
    kind = column.type
    if isinstance(kind, sa.Enum):
        return None
    if isinstance(kind, sa.String):
        return TextRule(kind.length or MAX_TEXT, is_name(column.key))
    if column.primary_key or column.foreign_keys:
        return ID
    if isinstance(kind, sa.BigInteger):
        return INT64
    if isinstance(kind, sa.SmallInteger):
        return INT16
    if isinstance(kind, sa.Integer):
        return INT32
    if isinstance(kind, sa.Numeric) and kind.precision is not None:
        scale = kind.scale or 0
        bound = Decimal(10) ** (kind.precision - scale) - Decimal(10) ** -scale
        return NumberRule(-bound, bound)
    if isinstance(kind, sa.Date):
        return ANY_DATE
    return None


def text_length(column: Any) -> int:
    """The length of a text column, for a field whose name is not the column's."""
    rule = column_rule(column)
    assert isinstance(rule, TextRule), column
    return rule.max_length


def model_column(model: Any, name: str) -> Any:
    """``model``'s column mapped as ``name``, or None."""
    if model is None:
        return None
    columns = sa.inspect(model).columns
    return columns.get(name)


def default_rule(kind: str, name: str) -> Rule | None:
    """The rule of a field of ``kind`` (``text``, ``integer``, ``decimal``, ``date``) that no
    column describes: named ``id``/``*_id``, an id; ``page``, a page number; any other
    integer fits a ``BigInteger`` (an input stored in a narrower column names its model, or a
    rule of its own)."""
    if kind == "text":
        return TextRule(MAX_TEXT, is_name(name))
    if kind == "integer":
        if name == "id" or name.endswith("_id"):
            return ID
        return PAGE if name == "page" else INT64
    if kind == "decimal":
        return NumberRule(-MAX_DECIMAL, MAX_DECIMAL)
    if kind == "date":
        return ANY_DATE
    return None


def field_rule(kind: str, name: str, model: Any = None) -> Rule | None:
    """The rule of a form or schema field: its model column's when that says one, else the
    default for its kind. A text column's rule keeps the field's name for the name check."""
    column = model_column(model, name)
    rule = (column_rule(column) if column is not None else None) or default_rule(kind, name)
    if isinstance(rule, TextRule):
        return rule.named(rule.name or is_name(name))
    return rule


# --- checking and parsing ----------------------------------------------------------------------


def check(rule: Rule | None, value: Any) -> None:
    """``Refused`` with the first problem of ``value`` (None and "" pass: required is another
    rule); lists are checked item by item."""
    if rule is None or value is None or value == "":
        return
    if isinstance(value, list | tuple):
        for item in value:
            check(rule, item)
        return
    problems = rule.problems(value) if isinstance(value, rule.takes) else []
    if problems:
        raise Refused(problems[0])


def to_int(raw: str, rule: NumberRule = INT32) -> int:
    """A whole number typed as text, within ``rule``; ``Refused`` otherwise."""
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    # a whole number of at most 30 digits ("8.0" from a spreadsheet is 8; "1e999999" is not
    # turned into a million digits)
    if not number.is_finite() or number.adjusted() > 30 or number != number.to_integral_value():
        raise Refused(_l("Give a whole number."))
    value = int(number)
    check(rule, value)
    return value


def to_date(raw: str, rule: DateRule = ANY_DATE) -> dt.date:
    """A date typed as YYYY-MM-DD, within ``rule``; ``Refused`` otherwise."""
    try:
        value = dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise Refused(_l("Give a date as YYYY-MM-DD.")) from None
    check(rule, value)
    return value


def to_text(raw: str, rule: TextRule = TEXT) -> str:
    """``raw`` without surrounding blanks, within ``rule``; ``Refused`` otherwise."""
    value = raw.strip()
    check(rule, value)
    return value


def lenient(parse: Callable[[str, Any], Any], raw: str | None, rule: Any) -> Any:
    """``parse(raw, rule)``, or None when ``raw`` is missing or refused: for filters that
    ignore what does not parse (a hand-edited address shows the unfiltered figure)."""
    if raw is None or not raw.strip():
        return None
    try:
        return parse(raw, rule)
    except Refused:
        return None
