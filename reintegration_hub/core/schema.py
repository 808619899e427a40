"""Hooks that keep Alembic's autogenerate in step with the models (used by migrations/env.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave out what the models do not describe: SQLite full-text search shadow tables."""
    return not (type_ == "table" and reflected and compare_to is None and name and "_fts" in name)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as the plain SQLAlchemy types they store, so revisions never
    import application code."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False
