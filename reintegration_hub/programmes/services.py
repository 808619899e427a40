"""Rules for grants: period, budget, co-financing shares that add up, targets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.errors import Conflict, InvalidInput
from reintegration_hub.core.i18n import currency_codes
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.programmes.models import (
    Grant,
    GrantFundingSource,
    GrantTarget,
    TargetIndicator,
)

FULL_SHARE_BP = 10_000


def create_grant(
    *,
    number: str,
    title: str,
    start_on: dt.date,
    end_on: dt.date,
    currency: str,
    total_budget_minor: int,
    funding_shares: Mapping[str, int],
    targets: Mapping[TargetIndicator, int],
    actor: Actor,
) -> Grant:
    """A grant whose co-financing shares (basis points) add up to 100 %."""
    errors: dict[str, list[object]] = {}
    if end_on < start_on:
        errors["end_on"] = [_l("The grant cannot end before it starts.")]
    if currency.upper() not in currency_codes():
        errors["currency"] = [_l("Not an ISO 4217 currency code.")]
    if total_budget_minor < 0:
        errors["total_budget_minor"] = [_l("The budget cannot be negative.")]
    if sum(funding_shares.values()) != FULL_SHARE_BP or any(
        v <= 0 for v in funding_shares.values()
    ):
        errors["funding_shares"] = [_l("Co-financing shares must be positive and add up to 100%.")]
    if any(v < 0 for v in targets.values()):
        errors["targets"] = [_l("Targets cannot be negative.")]
    if errors:
        raise InvalidInput(_l("Some grant details are not valid."), field_errors=errors)
    if db.session.scalar(sa.select(Grant.id).where(Grant.number == number.strip())) is not None:
        raise Conflict(
            _l("A grant with this number exists already."),
            field_errors={"number": [_l("A grant with this number exists already.")]},
        )
    grant = Grant(
        number=number.strip(),
        title=title.strip(),
        start_on=start_on,
        end_on=end_on,
        currency=currency.upper(),
        total_budget_minor=total_budget_minor,
        funding_sources=[
            GrantFundingSource(name=name, share_bp=share) for name, share in funding_shares.items()
        ],
        targets=[GrantTarget(indicator=k, target_value=v) for k, v in targets.items()],
    )
    record_audit(
        "grant.create",
        grant,
        actor=actor,
        changes={
            "number": [None, grant.number],
            "funding_shares": [None, dict(funding_shares)],
            "targets": [None, {str(k): v for k, v in targets.items()}],
            "total_budget_minor": [None, total_budget_minor],
        },
    )
    return grant


def list_grants(*, actor: Actor) -> Sequence[Grant]:
    stmt = (
        scoped(sa.select(Grant), Grant, actor)
        .options(selectinload(Grant.funding_sources), selectinload(Grant.targets))
        .order_by(Grant.start_on.desc(), Grant.number)
    )
    return db.session.scalars(stmt).all()
