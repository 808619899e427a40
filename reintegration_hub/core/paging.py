"""One page of a long list, for the pages and services that list by page.

:func:`paginate` turns a select into a :class:`Page` with two statements whatever the page
size: one count (:func:`count_rows`) and one slice. The API's lists page without the count,
by keyset where their order allows (:func:`sort_keys`, :func:`rows_after`). Page numbers are
bounded here as a last resort; the pages and the API refuse a number beyond
``validation.MAX_PAGE`` before that (``core.web.query_page``, ``core.api.Blueprint.paginate``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql import operators

from reintegration_hub.extensions import db

T = TypeVar("T")
U = TypeVar("U")
#: The furthest page anyone may ask for: a bigger number would overflow the database's
#: OFFSET, and nobody pages that far.
MAX_PAGE = 1_000_000
#: The most rows one page holds.
MAX_PER_PAGE = 100


def page_number(requested: int) -> int:
    """A requested page number within 1 and ``MAX_PAGE``."""
    return max(1, min(requested, MAX_PAGE))


def page_length(requested: int) -> int:
    """A requested number of rows per page within 1 and ``MAX_PER_PAGE``."""
    return max(1, min(requested, MAX_PER_PAGE))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def offset(self) -> int:
        """How many rows come before this page's first."""
        return (self.page - 1) * self.per_page

    def map(self, convert: Callable[[list[T]], Sequence[U]]) -> Page[U]:
        """The same page with its items converted (all at once, so in a fixed number of
        statements)."""
        return Page(list(convert(self.items)), self.total, self.page, self.per_page)


def count_rows(stmt: sa.Select[Any]) -> int:
    """How many rows ``stmt`` gives (its order dropped: counting needs none)."""
    rows = stmt.order_by(None).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(rows)) or 0)


def paginate(stmt: sa.Select[tuple[T]], *, page: int, per_page: int) -> Page[T]:
    """The page ``page`` of ``stmt``'s entities, ``per_page`` to a page (both bounded), and
    their total: two statements."""
    bounds: Page[T] = Page([], count_rows(stmt), page_number(page), page_length(per_page))
    rows = db.session.scalars(stmt.offset(bounds.offset).limit(bounds.per_page)).unique()
    return replace(bounds, items=list(rows))


# --- keyset pages: "the rows after this one", without an offset or a count --------------------


@dataclass(frozen=True)
class SortKey:
    """One term of a list's order: a column, and whether it runs from the highest value."""

    column: Any
    descending: bool


def sort_keys(stmt: sa.Select[Any]) -> tuple[SortKey, ...] | None:
    """The terms of ``stmt``'s ORDER BY if a keyset can page it, else None: every term is a
    column that holds no NULL (a NULL compares with nothing), and the last one is a primary
    key, so that no two rows share a position (rows would be skipped at a page's edge)."""
    keys = []
    for term in stmt._order_by_clauses:
        descending = False
        if isinstance(term, sa.UnaryExpression):
            if term.modifier not in (operators.desc_op, operators.asc_op):
                return None  # NULLS FIRST / LAST: nullable terms
            descending = term.modifier is operators.desc_op
            term = term.element
        if not isinstance(term, sa.Column) or term.nullable:
            return None
        keys.append(SortKey(term, descending))
    if not keys or not keys[-1].column.primary_key:
        return None
    return tuple(keys)


def rows_after(keys: Sequence[SortKey], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """The rows that come after the row whose sort key values are ``values`` in the order of
    ``keys``: one row-value comparison when every term runs the same way (an index on the
    terms answers it), else the lexicographic expansion."""
    if len(keys) == 1:
        key, value = keys[0], values[0]
        beyond: sa.ColumnElement[bool] = (
            key.column < value if key.descending else key.column > value
        )
        return beyond
    if all(k.descending for k in keys) or not any(k.descending for k in keys):
        left = sa.tuple_(*(k.column for k in keys))
        pairs = zip(keys, values, strict=True)
        right = sa.tuple_(*(sa.literal(v, k.column.type) for k, v in pairs))
        return left < right if keys[0].descending else left > right
    terms = []
    for i, key in enumerate(keys):
        equal = [k.column == v for k, v in zip(keys[:i], values[:i], strict=True)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        terms.append(sa.and_(*equal, beyond))
    return sa.or_(*terms)


def key_values(row: Sequence[Any]) -> list[Any]:
    """A row's sort key values as plain JSON values (dates and times as ISO text)."""
    plain = []
    for value in row:
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, dt.date):  # datetimes too
            value = value.isoformat()
        plain.append(value)
    return plain


def typed_values(keys: Sequence[SortKey], plain: Sequence[Any]) -> list[Any]:
    """``key_values`` read back into the columns' Python types; ValueError when they do not
    fit (a list from another order, another version)."""
    if len(plain) != len(keys):
        raise ValueError("not this list's sort key")
    typed = []
    for key, value in zip(keys, plain, strict=True):
        column_type = key.column.type
        if isinstance(column_type, sa.TypeDecorator):  # e.g. UTCDateTime: its impl's type
            column_type = column_type.impl_instance
        try:
            kind = column_type.python_type
        except NotImplementedError:
            kind = object
        enum_class = getattr(column_type, "enum_class", None)
        if enum_class is not None:
            value = enum_class(value)
        elif kind is dt.datetime and isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        elif kind is dt.date and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        elif kind in (int, str, bool) and type(value) is not kind:
            raise ValueError("not this list's sort key")
        typed.append(value)
    return typed
