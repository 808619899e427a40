"""Grants and programme managers for the programme set-up tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.programmes import services
from reintegration_hub.programmes.models import Grant, PlanApprover, TargetIndicator
from tests.factories import OfficeFactory, UserFactory, user_with_role


def terms(**overrides: Any) -> services.GrantTerms:
    """The Latvian AMIF grant's terms, running through 2035 so that cases registered today fit."""
    values: dict[str, Any] = {
        "number": "AK/IOM/PMIF/2026/1",
        "title": "Assisted voluntary return and reintegration (Latvia)",
        "start_on": dt.date(2025, 1, 1),
        "end_on": dt.date(2035, 12, 31),
        "currency": "EUR",
        "total_budget_minor": 532_651_00,
        "funding_shares": {"AMIF": 7500, "State budget": 2500},
        "targets": {TargetIndicator.RETURNS: 280, TargetIndicator.REINTEGRATION: 140},
        **overrides,
    }
    return services.GrantTerms(**values)


def grant(actor: Any = None, **overrides: Any) -> Grant:
    return services.create_grant(
        **terms(**overrides).__dict__, actor=actor or user_with_role(Role.ADMIN)
    )


def home_manager() -> User:
    return user_with_role(Role.PROGRAMME_MANAGER)


def host_manager(office: Office | None = None) -> User:
    """IOM Riga's programme manager: a national programme run by the host office."""
    office = office or OfficeFactory(kind=OfficeKind.HOST, country_code="LV", city="Riga")
    user: User = UserFactory(role=Role.PROGRAMME_MANAGER, office=office)
    return user


def riga_grant(office: Office, **overrides: Any) -> Grant:
    """A grant IOM Riga holds and whose plans it approves."""
    return grant(office_id=office.id, plans_approved_by=PlanApprover.GRANT_OFFICE, **overrides)
