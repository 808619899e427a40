"""Reintegration plans: the support options chosen for a returnee within the budget cap.

A case has one plan. Its lines are marketplace options with a quantity; each line keeps the
unit cost, currency and the euro rate it was priced at, so totals never move with later rates.
Every change is a numbered revision (``PlanRevision``): who did what, when, with the lines and
totals as they stood; ``Plan.version`` is the current one.

Once approved, a plan changes through numbered amendments (``PlanAmendment``): new lines are
``proposed`` until the amendment is in effect, changes and cancellations of lines in effect wait
as ``LineChange`` rows. Lines are never deleted after approval: a line whose referral was
declined or expired, or that an amendment cancelled, stays with its history and no longer counts
in the plan's total; a later line may replace it (``replaces_id``).
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from partners.models import PlaceHold, Referral, SupportOption
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.sql import partial_index
from reintegration_hub.core.validation import MONEY, accepts

if TYPE_CHECKING:  # followups.models imports this module
    from reintegration_hub.followups.models import MonitoringVisit


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"  # the counsellor builds it
    SUBMITTED = "submitted"  # waits for the origin case manager's feasibility check
    RETURNED = "returned"  # sent back with comments; the counsellor edits and resubmits
    FEASIBLE = "feasible"  # confirmed by the origin case manager; waits for the programme manager
    APPROVED = "approved"  # referrals go out; the follow-up schedule starts


#: States in which the counsellor may change lines.
EDITABLE_STATUSES = frozenset({PlanStatus.DRAFT, PlanStatus.RETURNED})


class LineStatus(enum.StrEnum):
    PROPOSED = "proposed"  # added by an amendment that is not in effect yet
    ACTIVE = "active"  # in the plan: counts in its total
    DECLINED = "declined"  # its partner declined the referral
    EXPIRED = "expired"  # its referral expired unanswered
    CANCELLED = "cancelled"  # taken out by an amendment


#: Lines that no longer count and may be replaced by another option (or referred again).
CLOSED_LINE_STATUSES = frozenset({LineStatus.DECLINED, LineStatus.EXPIRED, LineStatus.CANCELLED})


class AmendmentStatus(enum.StrEnum):
    DRAFT = "draft"  # the counsellor prepares it
    SUBMITTED = "submitted"  # waits for the origin case manager
    RETURNED = "returned"  # sent back with comments
    FEASIBLE = "feasible"  # confirmed; raises the total or goes over the cap: waits for approval
    APPROVED = "approved"  # in effect
    WITHDRAWN = "withdrawn"  # dropped by the counsellor; nothing of it took effect


#: Amendments still in play: a plan has at most one.
OPEN_AMENDMENT_STATUSES = frozenset(
    {
        AmendmentStatus.DRAFT,
        AmendmentStatus.SUBMITTED,
        AmendmentStatus.RETURNED,
        AmendmentStatus.FEASIBLE,
    }
)
#: States in which the counsellor may change an amendment's lines.
EDITABLE_AMENDMENT_STATUSES = frozenset({AmendmentStatus.DRAFT, AmendmentStatus.RETURNED})


_OPEN_AMENDMENTS_SQL = "status IN ({})".format(
    ", ".join(f"'{status.value}'" for status in sorted(OPEN_AMENDMENT_STATUSES))
)


class LineChangeKind(enum.StrEnum):
    CHANGE = "change"  # new quantity and/or notes
    CANCEL = "cancel"  # the line is taken out


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
    # the total the programme manager last approved: amendments within it (and the cap) need
    # only the origin case manager's confirmation
    approved_total_eur_minor: Mapped[int | None] = mapped_column(sa.BigInteger)

    returnee: Mapped[Returnee] = relationship()
    lines: Mapped[list[PlanLine]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="PlanLine.id",
        foreign_keys="PlanLine.plan_id",
    )
    amendments: Mapped[list[PlanAmendment]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="PlanAmendment.number",
        foreign_keys="PlanAmendment.plan_id",
    )

    @property
    def over_cap(self) -> bool:
        return self.total_eur_minor > self.cap_eur_minor

    @property
    def lines_in_effect(self) -> list[PlanLine]:
        return [line for line in self.lines if line.status == LineStatus.ACTIVE]

    @property
    def open_amendment(self) -> PlanAmendment | None:
        return next((a for a in self.amendments if a.status in OPEN_AMENDMENT_STATUSES), None)

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
        # a closed line is replaced once; the replacement may itself be replaced later
        sa.UniqueConstraint("replaces_id"),
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
    # indexed: a place freed from the waitlist finds its line by the hold
    hold_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("place_holds.id", ondelete="SET NULL"), index=True
    )
    referral_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("referrals.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    status: Mapped[LineStatus] = mapped_column(
        str_enum(LineStatus), default=LineStatus.ACTIVE, server_default=LineStatus.ACTIVE.value
    )
    # the amendment that proposed the line (None: a line of the first plan)
    amendment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("plan_amendments.id", ondelete="SET NULL"), index=True
    )
    replaces_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("plan_lines.id", ondelete="SET NULL")
    )
    effective_on: Mapped[dt.date | None]  # the day it came into effect (approval)
    closed_at: Mapped[dt.datetime | None]  # declined, expired or cancelled

    plan: Mapped[Plan] = relationship(back_populates="lines", foreign_keys=[plan_id])
    option: Mapped[SupportOption] = relationship()
    hold: Mapped[PlaceHold | None] = relationship()
    referral: Mapped[Referral | None] = relationship()
    amendment: Mapped[PlanAmendment | None] = relationship(foreign_keys=[amendment_id])
    replaces: Mapped[PlanLine | None] = relationship(remote_side="PlanLine.id")

    @property
    def reference(self) -> str:
        """How the marketplace (holds, referrals) names this line."""
        return f"plan-line:{self.id}"

    @property
    def in_effect(self) -> bool:
        return self.status == LineStatus.ACTIVE

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_LINE_STATUSES


class PlanAmendment(IdMixin, Base):
    """A numbered change of an approved plan: its lines proposed, changed or cancelled, and its
    way through the origin case manager (and the programme manager when it raises the approved
    total or goes over the cap)."""

    __tablename__ = "plan_amendments"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "number"),
        # at most one amendment in play per plan (the services lock the plan row first)
        partial_index(
            "uq_plan_amendments_open", "plan_id", where=_OPEN_AMENDMENTS_SQL, unique=True
        ),
        # the review queue: amendments waiting for a step, oldest first
        sa.Index("ix_plan_amendments_status", "status", "submitted_at"),
    )

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[AmendmentStatus] = mapped_column(
        str_enum(AmendmentStatus), default=AmendmentStatus.DRAFT
    )
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # why it was opened
    # the monitoring visit that found the plan needs a revision, if that opened it (visits
    # name the milestone they closed, milestones their plan line, lines their amendment: the
    # cycle is broken here for the order tables are created and emptied in)
    visit_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("monitoring_visits.id", ondelete="SET NULL", use_alter=True)
    )
    opened_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    justification: Mapped[str] = mapped_column(sa.Text, default="")  # over the cap
    needs_approval: Mapped[bool] = mapped_column(default=False)  # decided on submission
    total_before_eur_minor: Mapped[int | None] = mapped_column(sa.BigInteger)  # approved total
    total_after_eur_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")  # the last return's
    submitted_at: Mapped[dt.datetime | None]
    feasible_at: Mapped[dt.datetime | None]
    feasible_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[dt.datetime | None]  # in effect, or withdrawn
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    plan: Mapped[Plan] = relationship(back_populates="amendments", foreign_keys=[plan_id])
    visit: Mapped[MonitoringVisit | None] = relationship("MonitoringVisit")
    changes: Mapped[list[LineChange]] = relationship(
        back_populates="amendment", cascade="all, delete-orphan", order_by="LineChange.id"
    )

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE_AMENDMENT_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_AMENDMENT_STATUSES


class LineChange(IdMixin, Base):
    """What an amendment does to a line in effect: a new quantity and notes, or its cancellation,
    with the counsellor's reason. Kept after the amendment took effect, as its record."""

    __tablename__ = "plan_line_changes"
    __table_args__ = (
        sa.UniqueConstraint("amendment_id", "line_id"),
        sa.CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
    )

    amendment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plan_amendments.id", ondelete="CASCADE")
    )
    line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plan_lines.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[LineChangeKind] = mapped_column(str_enum(LineChangeKind))
    quantity_before: Mapped[int]
    quantity: Mapped[int | None]  # the new quantity (None: cancelled)
    notes: Mapped[str | None] = mapped_column(sa.String(1000))  # None: unchanged
    total_before_eur_minor: Mapped[int] = mapped_column(sa.BigInteger)
    total_eur_minor: Mapped[int] = mapped_column(sa.BigInteger)  # 0 when cancelled
    reason: Mapped[str] = mapped_column(sa.String(1000), default="")

    amendment: Mapped[PlanAmendment] = relationship(back_populates="changes")
    line: Mapped[PlanLine] = relationship()


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
