"""Reading the audit trail, filtered and in pages (newest first)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from reintegration_hub.auth.models import User
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db


def search_audit(
    *,
    actor: Actor,
    actor_id: int | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[tuple[AuditEntry, str | None]]:
    """Entries matching every filter given, newest first, with the acting user's name.

    Keyset pages: pass the last id seen as ``before_id`` for the next page.
    """
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only administrators read the audit trail.")
    stmt = sa.select(AuditEntry, User.full_name).outerjoin(User, User.id == AuditEntry.actor_id)
    filters: list[sa.ColumnElement[bool]] = []
    if actor_id is not None:
        filters.append(AuditEntry.actor_id == actor_id)
    if action:
        filters.append(AuditEntry.action.startswith(action.strip(), autoescape=True))
    if object_type:
        filters.append(AuditEntry.object_type == object_type.strip())
    if object_id:
        filters.append(AuditEntry.object_id == object_id.strip())
    if since:
        filters.append(AuditEntry.at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if until:
        filters.append(
            AuditEntry.at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        )
    if before_id is not None:
        filters.append(AuditEntry.id < before_id)
    rows: Any = db.session.execute(
        stmt.where(*filters).order_by(AuditEntry.id.desc()).limit(limit)
    ).all()
    return [(entry, name) for entry, name in rows]
