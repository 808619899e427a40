"""What a role's home page shows about the actor's own corner of the programme; whether the
application is ready to serve (``readiness``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.error import URLError
from urllib.request import urlopen

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

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


log = logging.getLogger(__name__)


def readiness(prefect_api: str | None, *, timeout: float = 2.0) -> dict[str, str]:
    """``ok`` or ``unavailable`` for each dependency a request needs: the database, and the
    Prefect API when one is configured. The reason goes to the log, never to the caller."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("readiness: the database does not answer: %s", type(error).__name__)
        checks["database"] = "unavailable"
    if prefect_api:
        health = f"{prefect_api.rstrip('/')}/health"  # an http(s) address (config.validate)
        try:
            with urlopen(health, timeout=timeout) as answer:  # noqa: S310
                checks["prefect"] = "ok" if answer.status == 200 else "unavailable"
        except (URLError, OSError) as error:
            log.warning("readiness: the Prefect API does not answer: %s", type(error).__name__)
            checks["prefect"] = "unavailable"
    return checks
