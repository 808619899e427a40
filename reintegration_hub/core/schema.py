"""Hooks that keep Alembic's autogenerate in step with the models (used by migrations/env.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out the full-text search objects that only migrations create and the models do not
    map: tables and indexes whose names carry ``_fts`` or ``_trgm`` (SQLite FTS5 tables,
    PostgreSQL full-text and trigram indexes) and columns whose names contain ``fts`` (the
    stored generated ``tsvector`` column on PostgreSQL)."""
    if not name or not reflected or compare_to is not None:
        return True
    if type_ == "column":
        return "fts" not in name
    return not (type_ in {"table", "index"} and ("_fts" in name or "_trgm" in name))


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as the plain SQLAlchemy types they store, so revisions never
    import application code."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False
