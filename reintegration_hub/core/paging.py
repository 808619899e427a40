"""One page of a long list, for the pages and services that list by page.

:func:`paginate` turns a select into a :class:`Page` with two statements whatever the page
size: one count (:func:`count_rows`) and one slice. Page numbers are bounded here as a last
resort; the pages and the API refuse a number beyond ``validation.MAX_PAGE`` before that
(``core.web.query_page``, ``core.api.Blueprint.paginate``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

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
