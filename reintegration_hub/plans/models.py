"""Reintegration plans: the support options chosen for a returnee within the budget cap.

A case has one plan. Its lines are marketplace options with a quantity; each line keeps the
unit cost, currency and the euro rate it was priced at, so totals never move with later rates.
Every change is a numbered revision (``PlanRevision``): who did what, when, with the lines and
totals as they stood; ``Plan.version`` is the current one.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from partners.models import PlaceHold, Referral, SupportOption
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.validation import MONEY, accepts


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"  # the counsellor builds it
    SUBMITTED = "submitted"  # waits for the origin case manager's feasibility check
    RETURNED = "returned"  # sent back with comments; the counsellor edits and resubmits
    FEASIBLE = "feasible"  # confirmed by the origin case manager; waits for the programme manager
    APPROVED = "approved"  # referrals go out; the follow-up schedule starts


#: States in which the counsellor may change lines.
EDITABLE_STATUSES = frozenset({PlanStatus.DRAFT, PlanStatus.RETURNED})


class Plan(IdMixin, TimestampMixin, Base):
    __tablename__ = "plans"
    __table_args__ = (sa.Index("ix_plans_status", "status", "id"),)

    returnee_id: Mapped[int] = mapped_column(
        sa.ForeignKey("returnees.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.DRAFT)
    version: Mapped[int] = mapped_column(default=1)
    # the cap in force for the family, in euro cents, and the rule it came from
    cap_eur_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    cap_rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("budget_cap_rules.id"))
    total_eur_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    over_cap_justification: Mapped[str] = mapped_column(sa.Text, default="")
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")  # the last return's comments
    submitted_at: Mapped[dt.datetime | None]
    feasible_at: Mapped[dt.datetime | None]
    feasible_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    returnee: Mapped[Returnee] = relationship()
    lines: Mapped[list[PlanLine]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanLine.id"
    )

    @property
    def over_cap(self) -> bool:
        return self.total_eur_minor > self.cap_eur_minor

    @property
    def audit_office_id(self) -> int:
        return self.returnee.host_office_id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        """A plan is seen by whoever sees its case."""
        # correlated: SQLite would build the whole IN list first
        return sa.exists().where(Returnee.id == cls.returnee_id, Returnee.visible_to(actor))


class PlanLine(IdMixin, Base):
    __tablename__ = "plan_lines"
    __table_args__ = (
        sa.Index("ix_plan_lines_plan", "plan_id", "id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(sa.ForeignKey("support_options.id"), index=True)
    quantity: Mapped[int] = mapped_column(default=1)
    notes: Mapped[str] = mapped_column(sa.String(1000), default="")
    # price when chosen: unit cost in the option's currency and the euro rate of that day
    unit_cost_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    currency: Mapped[str] = mapped_column(sa.String(3))
    eur_rate: Mapped[Decimal] = mapped_column(sa.Numeric(18, 10))
    rate_on: Mapped[dt.date]
    total_eur_minor: Mapped[int] = mapped_column(sa.BigInteger)
    hold_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("place_holds.id", ondelete="SET NULL")
    )
    referral_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    plan: Mapped[Plan] = relationship(back_populates="lines")
    option: Mapped[SupportOption] = relationship()
    hold: Mapped[PlaceHold | None] = relationship()
    referral: Mapped[Referral | None] = relationship()

    @property
    def reference(self) -> str:
        """How the marketplace (holds, referrals) names this line."""
        return f"plan-line:{self.id}"


class PlanRevision(IdMixin, Base):
    """One change of a plan: the version it made, who, when, and the plan as it then stood."""

    __tablename__ = "plan_revisions"
    __table_args__ = (sa.Index("ix_plan_revisions_plan", "plan_id", "id"),)

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    version: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(40))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(sa.String(120))
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # {"total_eur_minor": ..., "cap_eur_minor": ..., "lines": [{option_id, title, quantity, ...}]}
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship()
