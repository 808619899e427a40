"""What a role's home page shows about the actor's own corner of the programme."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.roles import Actor, OfficeKind
from reintegration_hub.extensions import db
from reintegration_hub.programmes.models import Grant


@dataclass(frozen=True)
class Overview:
    active_users: int
    offices_by_kind: dict[OfficeKind, int]
    grants: int


def overview(*, actor: Actor) -> Overview:
    """Counts for the home page, each one aggregate query within the actor's scope."""
    users = scoped(sa.select(sa.func.count(User.id)).where(User.is_active), User, actor)
    offices = scoped(
        sa.select(Office.kind, sa.func.count(Office.id)).where(Office.is_active), Office, actor
    ).group_by(Office.kind)
    return Overview(
        active_users=db.session.scalar(users) or 0,
        offices_by_kind={OfficeKind(k): n for k, n in db.session.execute(offices).all()},
        grants=db.session.scalar(scoped(sa.select(sa.func.count(Grant.id)), Grant, actor)) or 0,
    )
