"""The audit trail: one row per write, with the fields it changed (before and after)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, now_utc
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db

REDACTED = "[redacted]"


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_object", "object_type", "object_id"),
        sa.Index("ix_audit_entries_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=now_utc, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    office_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offices.id", ondelete="SET NULL"), index=True
    )
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def pending_changes(obj: Any) -> dict[str, list[Any]]:
    """``{column: [before, after]}`` for the columns ``obj`` changes in the unflushed session.

    Columns named in the model's ``__audit_redact__`` are recorded as changed, never their values.
    """
    state = inspect(obj)
    redact: set[str] = set(getattr(obj, "__audit_redact__", ()))
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if state.pending or state.transient:
            if not history.added or history.added[0] is None:
                continue
            before, after = None, history.added[0]
        elif history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
        else:
            continue
        if attr.key in redact:
            before, after = (REDACTED if before is not None else None), REDACTED
        changes[attr.key] = [_plain(before), _plain(after)]
    return changes


def record_audit(
    action: str,
    obj: Any,
    *,
    actor: Actor,
    changes: dict[str, Any] | None = None,
    office_id: int | None = None,
) -> AuditEntry:
    """Write one audit row for ``action`` on ``obj``; call it before the change is flushed.

    The changed fields come from the session's pending state unless ``changes`` is given. The
    session is flushed so that a new object has its id; the caller still owns the commit.
    """
    if changes is None:
        changes = pending_changes(obj)
    db.session.add(obj)
    db.session.flush()
    entry = AuditEntry(
        actor_id=actor.id,
        actor_label=actor.audit_label,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(inspect(obj).identity[0]) if inspect(obj).identity else None,
        office_id=office_id if office_id is not None else getattr(obj, "audit_office_id", None),
        changes=changes,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
