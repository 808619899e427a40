"""Programme activities: short stays (people housed before departure) and
capacity-building events, recorded by the home office toward a grant's targets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.filters import MONITORING_ROLES, require_monitoring
from reintegration_hub.monitoring.models import ActivityKind, ProgrammeActivity
from reintegration_hub.programmes.models import Grant


def record_activity(
    grant_id: int,
    kind: ActivityKind,
    occurred_on: dt.date,
    people_count: int,
    note: str = "",
    *,
    actor: Actor,
) -> ProgrammeActivity:
    """A short stay (people housed before departure) or a capacity-building event toward the
    grant's targets."""
    if actor.role not in MONITORING_ROLES or not sees_all_offices(actor):
        raise PermissionDenied(_l("Only the home office records programme activities."))
    if db.session.get(Grant, grant_id) is None:
        raise NotFound(_l("Not found."))
    errors: dict[str, list[Any]] = {}
    if people_count < 0 or people_count > 100_000:
        errors["people_count"] = [_l("Give a number of people from 0 to 100,000.")]
    if occurred_on > now_utc().date():
        errors["occurred_on"] = [_l("The date cannot be in the future.")]
    if len(note) > 500:
        errors["note"] = [_l("At most 500 characters.")]
    if errors:
        raise InvalidInput(_l("Some details are not valid."), field_errors=errors)
    activity = ProgrammeActivity(
        grant_id=grant_id,
        kind=kind,
        occurred_on=occurred_on,
        people_count=people_count,
        note=note.strip(),
        recorded_by_id=actor.id,
    )
    record_audit("activity.record", activity, actor=actor)
    return activity


def list_activities(
    *, actor: Actor, grant_id: int | None = None, limit: int = 100
) -> Sequence[ProgrammeActivity]:
    require_monitoring(actor)
    stmt = sa.select(ProgrammeActivity).order_by(
        ProgrammeActivity.occurred_on.desc(), ProgrammeActivity.id.desc()
    )
    if grant_id is not None:
        stmt = stmt.where(ProgrammeActivity.grant_id == grant_id)
    return db.session.scalars(stmt.limit(limit)).all()
