""" "Its own, else the default": the one rule for what applies to an owner (a grant's budget cap
rule, a grant's milestone template).

One statement: the rows that are the owner's own or the fallback, the owner's own first.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa

from reintegration_hub.extensions import db

T = TypeVar("T")
#: ``(own, fallback)``: the condition of the owner's own row and that of the fallback row.
Preference = tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]


def owned_by(owner_column: Any, owner_id: Any) -> sa.ColumnElement[bool]:
    """``owner_column == owner_id``; no row when there is no owner (``owner_id`` None)."""
    return owner_column == owner_id if owner_id is not None else sa.false()


def own_else_default(stmt: sa.Select[tuple[T]], *preferences: Preference) -> T | None:
    """The first row of ``stmt`` that is, for each preference, the owner's own or the fallback;
    the owner's own before the fallback, the first preference deciding first. ``None`` when not
    even a fallback exists."""
    for own, fallback in preferences:
        stmt = stmt.where(sa.or_(own, fallback))
    ranked = stmt.order_by(*(sa.case((own, 0), else_=1) for own, _ in preferences))
    return db.session.scalars(ranked.limit(1)).first()
