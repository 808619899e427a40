"""Roles, office kinds and the ``Actor`` every service receives."""

from __future__ import annotations

import enum
from typing import Protocol


class Role(enum.StrEnum):
    ADMIN = "admin"
    PROGRAMME_MANAGER = "programme_manager"
    COUNSELLOR = "counsellor"
    CASE_MANAGER = "case_manager"
    PARTNER = "partner"


class OfficeKind(enum.StrEnum):
    HOST = "host"
    ORIGIN = "origin"
    HOME = "home"


#: Roles that see every office's data (no office filter); a programme manager only when
#: working in the home office (``core.authz.sees_all_offices``).
ALL_OFFICES_ROLES = frozenset({Role.ADMIN, Role.PROGRAMME_MANAGER})


class Actor(Protocol):
    """Who does something: a signed-in user, or a system process (``id`` None)."""

    @property
    def id(self) -> int | None: ...

    @property
    def role(self) -> Role | None: ...

    @property
    def office_id(self) -> int | None: ...

    @property
    def office_kind(self) -> OfficeKind | None: ...

    @property
    def country_code(self) -> str | None: ...

    @property
    def audit_label(self) -> str: ...


class SystemActor:
    """A process acting on its own (a flow, a CLI command): audited under its name."""

    id = None
    role = None
    office_id = None
    office_kind = None
    country_code = None

    def __init__(self, name: str) -> None:
        self.audit_label = f"system:{name}"

    def __repr__(self) -> str:
        return f"SystemActor({self.audit_label!r})"
