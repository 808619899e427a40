"""One page of a long list, for the pages and services that list by page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
#: The furthest page anyone may ask for: a bigger number would overflow the database's
#: OFFSET, and nobody pages that far.
MAX_PAGE = 1_000_000


def page_number(requested: int) -> int:
    """A requested page number within 1 and ``MAX_PAGE``."""
    return max(1, min(requested, MAX_PAGE))


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
