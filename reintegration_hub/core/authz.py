"""Access rules in one place: every endpoint declares who may use it; office data is scoped here.

``enforce_access`` runs before every request and refuses any endpoint that declared nothing, so a
route that forgets its rule fails closed (and ``tests/core/test_authz.py`` names it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from flask import abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.core.errors import NotFound
from reintegration_hub.core.roles import ALL_OFFICES_ROLES, Actor, OfficeKind, Role
from reintegration_hub.extensions import db, login

PUBLIC = "public"
#: Endpoints Flask and extensions add for static files; they serve no data.
STATIC_SUFFIX = "static"

F = TypeVar("F", bound=Callable[..., Any])
#: The rows a ``select`` gives (``tuple[Model]``), kept through ``scoped``.
Rows = TypeVar("Rows", bound=tuple[Any, ...])
AccessRule = frozenset[Role] | str


def public(view: F) -> F:
    """Anyone may call this endpoint, signed in or not (log-in page, health check)."""
    view.hub_access = PUBLIC  # type: ignore[attr-defined]
    return view


def roles(*allowed: Role) -> Callable[[F], F]:
    """Only signed-in users with one of ``allowed`` roles may call this endpoint."""
    if not allowed:
        raise ValueError("name at least one role; use signed_in for any user")

    def decorate(view: F) -> F:
        view.hub_access = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def signed_in(view: F) -> F:
    """Any signed-in user (their own account pages)."""
    view.hub_access = frozenset(Role)  # type: ignore[attr-defined]
    return view


def access_rule(view: Callable[..., Any]) -> AccessRule | None:
    """The rule a view declared, looking through decorators and class-based views."""
    seen: Any = view
    while seen is not None:
        rule: AccessRule | None = getattr(seen, "hub_access", None)
        if rule is not None:
            return rule
        view_class = getattr(seen, "view_class", None)
        class_rule: AccessRule | None = getattr(view_class, "hub_access", None)
        if class_rule is not None:
            return class_rule
        seen = getattr(seen, "__wrapped__", None)
    return None


def is_static_endpoint(endpoint: str) -> bool:
    return endpoint == STATIC_SUFFIX or endpoint.endswith("." + STATIC_SUFFIX)


def enforce_access() -> Any:
    endpoint = request.endpoint
    if endpoint is None or is_static_endpoint(endpoint):
        return None  # unknown URL: the 404 handler answers
    rule = access_rule(current_app.view_functions[endpoint])
    if rule is None:
        current_app.logger.error("endpoint %s declares no access rule; refused", endpoint)
        abort(403)
    if rule == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login.unauthorized()
    if current_user.role not in rule:
        abort(403)
    return None


def can_access(endpoint: str) -> bool:
    """Whether the current user passes ``endpoint``'s declared rule (to show links or not)."""
    view = current_app.view_functions.get(endpoint)
    rule = access_rule(view) if view is not None else None
    if rule is None:
        return False
    if rule == PUBLIC:
        return True
    return bool(current_user.is_authenticated and current_user.role in rule)


class OfficeScoped(Protocol):
    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]: ...


class ScopedRecord(OfficeScoped, Protocol):
    """A model ``get_scoped`` fetches by its ``id``."""

    id: Any


Record = TypeVar("Record", bound=ScopedRecord)


def sees_all_offices(actor: Actor) -> bool:
    """Administrators, and programme managers of the home office. A host office's programme
    manager (a national programme run by that office) sees that office's cases and grants."""
    if actor.role == Role.PROGRAMME_MANAGER:
        return actor.office_kind == OfficeKind.HOME
    return actor.role in ALL_OFFICES_ROLES


def scoped(stmt: sa.Select[Rows], model: type[OfficeScoped], actor: Actor) -> sa.Select[Rows]:
    """``stmt`` limited to the rows of ``model`` that ``actor`` may see.

    Administrators and the home office see everything; everyone else sees what the model's
    ``visible_to(actor)`` admits. Every query of office-owned data goes through here.
    """
    if sees_all_offices(actor):
        return stmt
    return stmt.where(model.visible_to(actor))


def get_scoped(model: type[Record], object_id: int, actor: Actor) -> Record:
    """The object ``object_id`` of ``model`` if ``actor`` may see it; otherwise ``NotFound``.

    Out-of-scope and missing objects answer alike, so ids cannot be probed across offices.
    """
    stmt = scoped(sa.select(model).where(model.id == object_id), model, actor)
    obj = db.session.scalars(stmt).one_or_none()
    if obj is None:
        raise NotFound(_l("Not found."))
    return obj
