from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, str_enum
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.validation import MONEY, accepts


class TargetIndicator(enum.StrEnum):
    RETURNS = "returns"
    REINTEGRATION = "reintegration"
    SHORT_STAYS = "short_stays"
    CAPACITY_EVENTS = "capacity_events"


class Grant(IdMixin, TimestampMixin, Base):
    """A grant agreement funding a return and reintegration programme."""

    __tablename__ = "grants"
    __table_args__ = (
        sa.CheckConstraint("end_on >= start_on", name="period"),
        sa.CheckConstraint("total_budget_minor >= 0", name="budget_not_negative"),
    )

    number: Mapped[str] = mapped_column(sa.String(64), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    start_on: Mapped[dt.date]
    end_on: Mapped[dt.date]
    currency: Mapped[str] = mapped_column(sa.String(3))  # ISO 4217
    # minor units (cents)
    total_budget_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))

    funding_sources: Mapped[list[GrantFundingSource]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="GrantFundingSource.id"
    )
    targets: Mapped[list[GrantTarget]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="GrantTarget.id"
    )

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        # programme terms are public to staff; figures per case are scoped where cases live
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
    """A programme's cap on a reintegration plan by family composition, e.g. the EU
    Reintegration Programme's EUR 2,000 in kind per adult and EUR 1,000 per dependant.

    A grant's own rule applies to its cases; the default rule (``is_default``) to the rest.
    """

    __tablename__ = "budget_cap_rules"
    __table_args__ = (
        sa.CheckConstraint(
            "per_adult_minor >= 0 AND per_dependant_minor >= 0", name="amounts_not_negative"
        ),
        # at most one default rule
        sa.Index(
            "uq_budget_cap_rules_default",
            "is_default",
            unique=True,
            postgresql_where=sa.text("is_default"),
            sqlite_where=sa.text("is_default"),
        ),
    )

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    grant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("grants.id", ondelete="CASCADE"), unique=True
    )
    is_default: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    per_adult_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    per_dependant_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    adult_age: Mapped[int] = mapped_column(default=18)
    in_kind_only: Mapped[bool] = mapped_column(default=True)

    def cap_minor(self, adults: int, dependants: int) -> int:
        return adults * self.per_adult_minor + dependants * self.per_dependant_minor
