"""Who may see and change the marketplace's partners and options.

Administrators change everything; origin-office case managers the partners and options of their
own country; everyone else only reads (``visible_to`` on the models decides what). System actors
(flows, CLI, demo) act everywhere.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.models import Partner, SupportOption
from reintegration_hub.core.authz import Rows, scoped
from reintegration_hub.core.errors import NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db

#: Roles that maintain partners and options (case managers only in their own country).
MANAGING_ROLES = frozenset({Role.ADMIN, Role.CASE_MANAGER})


def is_system(actor: Actor) -> bool:
    return actor.role is None


def check_manager(actor: Actor) -> None:
    if not is_system(actor) and actor.role not in MANAGING_ROLES:
        raise PermissionDenied(
            _l("Only case managers and administrators maintain the marketplace.")
        )


def visible(stmt: sa.Select[Rows], model: Any, actor: Actor) -> sa.Select[Rows]:
    return stmt if is_system(actor) else scoped(stmt, model, actor)


def get_partner(partner_id: int, *, actor: Actor) -> Partner:
    """The partner if ``actor`` may see it; ``NotFound`` otherwise (never says which)."""
    stmt = visible(sa.select(Partner).where(Partner.id == partner_id), Partner, actor)
    partner = db.session.scalars(stmt).one_or_none()
    if partner is None:
        raise NotFound(_l("Partner not found."))
    return partner


def get_option(option_id: int, *, actor: Actor) -> SupportOption:
    """The option if ``actor`` may see it; ``NotFound`` otherwise (never says which)."""
    stmt = visible(
        sa.select(SupportOption).where(SupportOption.id == option_id), SupportOption, actor
    )
    option = db.session.scalars(stmt).unique().one_or_none()
    if option is None:
        raise NotFound(_l("Support option not found."))
    return option


def managed_partner(partner_id: int, actor: Actor) -> Partner:
    partner = get_partner(partner_id, actor=actor)
    check_manager(actor)
    return partner


def managed_option(option_id: int, actor: Actor) -> SupportOption:
    option = get_option(option_id, actor=actor)
    check_manager(actor)
    return option


def can_manage(obj: Partner | SupportOption, actor: Actor) -> bool:
    """Whether ``actor`` may change ``obj`` (pages use it to show edit buttons)."""
    if is_system(actor) or actor.role == Role.ADMIN:
        return True
    return actor.role == Role.CASE_MANAGER and obj.country_code == actor.country_code
