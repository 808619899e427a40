from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.auth.models import Office
from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, str_enum
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.sql import partial_index
from reintegration_hub.core.validation import MONEY, accepts


class TargetIndicator(enum.StrEnum):
    RETURNS = "returns"
    REINTEGRATION = "reintegration"
    SHORT_STAYS = "short_stays"
    CAPACITY_EVENTS = "capacity_events"


class PlanApprover(enum.StrEnum):
    """Who approves the reintegration plans of a grant's cases."""

    HOME_OFFICE = "home_office"  # the home office's programme managers
    GRANT_OFFICE = "grant_office"  # the host office holding the grant (IOM Riga in Latvia)


class Grant(IdMixin, TimestampMixin, Base):
    """A grant agreement funding a return and reintegration programme.

    ``office_id`` is the host office that holds the grant when a national programme is run by
    one office (the Latvian AMIF grant is IOM Riga's); none means the home office holds it.
    Programme managers of that office manage the grant; the home office's manage every grant.
    """

    __tablename__ = "grants"
    __table_args__ = (
        sa.CheckConstraint("end_on >= start_on", name="period"),
        sa.CheckConstraint("total_budget_minor >= 0", name="budget_not_negative"),
        sa.CheckConstraint("reintegration_places >= 0", name="places_not_negative"),
        sa.CheckConstraint(
            "plans_approved_by = 'home_office' OR office_id IS NOT NULL",
            name="approver_office",
        ),
    )

    number: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date]
    currency: Mapped[str] = mapped_column(sa.String(3))  # ISO 4217
    # minor units (cents)
    total_budget_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    office_id: Mapped[int | None] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    plans_approved_by: Mapped[PlanApprover] = mapped_column(
        str_enum(PlanApprover), default=PlanApprover.HOME_OFFICE
    )
    # reintegration assistance the grant funds (plans approved); None: not limited
    reintegration_places: Mapped[int | None]

    office: Mapped[Office | None] = relationship()

    funding_sources: Mapped[list[GrantFundingSource]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="GrantFundingSource.id"
    )
    targets: Mapped[list[GrantTarget]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="GrantTarget.id"
    )

    @property
    def audit_office_id(self) -> int | None:
        return self.office_id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        """A host office's programme managers manage its grants (the home office's see every
        grant: ``scoped`` never asks them). Programme terms are public to other staff."""
        if actor.role == Role.PROGRAMME_MANAGER:
            return cls.office_id == actor.office_id
        return sa.true()


class GrantFundingSource(IdMixin, Base):
    """One co-financing source and its share, e.g. AMIF 75 %, state budget 25 %."""

    __tablename__ = "grant_funding_sources"
    __table_args__ = (
        sa.UniqueConstraint("grant_id", "name"),
        sa.CheckConstraint("share_bp > 0 AND share_bp <= 10000", name="share_range"),
    )

    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(120))
    share_bp: Mapped[int]  # basis points: 7500 = 75 %

    grant: Mapped[Grant] = relationship(back_populates="funding_sources")


class GrantTarget(IdMixin, Base):
    __tablename__ = "grant_targets"
    __table_args__ = (
        sa.UniqueConstraint("grant_id", "indicator"),
        sa.CheckConstraint("target_value >= 0", name="target_not_negative"),
    )

    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"))
    indicator: Mapped[TargetIndicator] = mapped_column(str_enum(TargetIndicator))
    target_value: Mapped[int]

    grant: Mapped[Grant] = relationship(back_populates="targets")


class BudgetCapRule(IdMixin, TimestampMixin, Base):
    """A programme's rules for a case, by grant and country of return: the cap on the
    reintegration plan by family composition (e.g. the EU Reintegration Programme's EUR 2,000
    in kind per adult and EUR 1,000 per dependant), the largest household it covers and the
    voluntary departure window after a return decision.

    The most specific rule applies: the grant's for the country, the grant's for any country,
    the programme-wide one for the country, then the default rule (no grant, no country:
    ``is_default``, seeded by the migrations).
    """

    __tablename__ = "budget_cap_rules"
    __table_args__ = (
        sa.CheckConstraint(
            "per_adult_minor >= 0 AND per_dependant_minor >= 0", name="amounts_not_negative"
        ),
        sa.CheckConstraint("max_household BETWEEN 1 AND 99", name="household_range"),
        sa.CheckConstraint("adult_age BETWEEN 0 AND 99", name="adult_age_range"),
        sa.CheckConstraint(
            "min_departure_days >= 0 AND max_departure_days >= min_departure_days "
            "AND max_departure_days <= 365",
            name="departure_window",
        ),
        sa.CheckConstraint(
            "is_default = (grant_id IS NULL AND return_country_code IS NULL)",
            name="default_is_general",
        ),
        sa.UniqueConstraint("grant_id", "return_country_code"),
        # one rule per grant for any country, one programme-wide rule per country
        partial_index(
            "uq_budget_cap_rules_grant_any_country",
            "grant_id",
            where="return_country_code IS NULL",
            unique=True,
        ),
        partial_index(
            "uq_budget_cap_rules_country_any_grant",
            "return_country_code",
            where="grant_id IS NULL",
            unique=True,
        ),
        # at most one default rule
        partial_index("uq_budget_cap_rules_default", "is_default", where="is_default", unique=True),
    )

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"))
    return_country_code: Mapped[str | None] = mapped_column(sa.String(2))  # None: any country
    is_default: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    per_adult_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    per_dependant_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    adult_age: Mapped[int] = mapped_column(default=18)
    in_kind_only: Mapped[bool] = mapped_column(default=True)
    # persons: the returnee and the dependants registered with them
    max_household: Mapped[int] = mapped_column(default=12)
    # the voluntary departure deadline, in days after the return decision (inclusive)
    min_departure_days: Mapped[int] = mapped_column(default=7)
    max_departure_days: Mapped[int] = mapped_column(default=30)

    grant: Mapped[Grant | None] = relationship()

    @property
    def audit_office_id(self) -> int | None:
        return self.grant.office_id if self.grant is not None else None

    def cap_minor(self, adults: int, dependants: int) -> int:
        """The cap for a family; persons beyond the largest household covered add nothing."""
        adults = min(adults, self.max_household)
        dependants = min(dependants, self.max_household - adults)
        return adults * self.per_adult_minor + dependants * self.per_dependant_minor
