"""Monitoring: programme activities the home office records, and the outcome snapshot.

``OutcomeCell`` rows are the pre-aggregated heavy indicators: one row per combination of the
dashboard's case dimensions (grant, host office, country of return, vulnerable or not, month of
return) and, per measure, partner and support category, the responsible office, or a bucket
(score histogram bucket, band, days from return to plan, milestone timeliness, closure
reason, plan status). Each holds a count and sums, so the dashboard re-aggregates a few
thousand rows under any filter instead of scanning every case. ``snapshot_outcomes`` replaces
them all, with the ``OutcomeSnapshot`` header, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, IdMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor


class ActivityKind(enum.StrEnum):
    SHORT_STAY = "short_stay"  # short-term accommodation before departure (people)
    CAPACITY_EVENT = "capacity_event"  # a capacity-building event (counted per event)


class ProgrammeActivity(IdMixin, Base):
    """Work toward a grant's targets that is not a case: short stays, capacity-building events."""

    __tablename__ = "programme_activities"
    __table_args__ = (
        sa.Index("ix_programme_activities_grant", "grant_id", "kind", "occurred_on"),
        sa.CheckConstraint("people_count >= 0", name="people_not_negative"),
    )

    grant_id: Mapped[int] = mapped_column(sa.ForeignKey("grants.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind))
    occurred_on: Mapped[dt.date]
    people_count: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        return sa.false()  # the home office's own records (it sees every office anyway)


class Measure(enum.StrEnum):
    SCORE = "score"  # latest survey per case; bucket = histogram bucket 0-9, band
    SCORE_PARTNER = "score_partner"  # the same per partner served (band, no bucket)
    SCORE_CATEGORY = "score_category"  # the same per support category served
    SCORE_SERVICE = "score_service"  # the same per partner and category served
    PLAN_DAYS = "plan_days"  # days from return to plan approval; bucket = range
    MILESTONES = "milestones"  # milestones due by the snapshot day; bucket = timeliness
    CLOSURE = "closure"  # closed cases; bucket = closure reason
    PLAN_DAYS_CATEGORY = "plan_days_category"  # the three above per category served
    MILESTONES_CATEGORY = "milestones_category"
    CLOSURE_CATEGORY = "closure_category"
    CASES = "cases"  # every case; bucket = plan status ("none": no plan); returns, spending
    CASES_CATEGORY = "cases_category"  # cases served in a category (approved plans), as CASES


class OutcomeSnapshot(IdMixin, Base):
    """When the cells were computed, and as of which day."""

    __tablename__ = "outcome_snapshots"

    taken_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    as_of: Mapped[dt.date]
    cell_count: Mapped[int] = mapped_column(default=0)


class OutcomeCell(IdMixin, Base):
    __tablename__ = "outcome_cells"
    __table_args__ = (sa.Index("ix_outcome_cells_measure", "measure", "grant_id"),)

    snapshot_at: Mapped[dt.datetime]
    measure: Mapped[Measure] = mapped_column(str_enum(Measure))
    grant_id: Mapped[int | None]
    host_office_id: Mapped[int | None]
    return_country_code: Mapped[str | None] = mapped_column(sa.String(2))
    vulnerable: Mapped[bool] = mapped_column(default=False)
    return_month: Mapped[dt.date | None]  # first day of the month of return
    partner_id: Mapped[int | None]
    category: Mapped[str | None] = mapped_column(sa.String(32))
    office_id: Mapped[int | None]  # the milestone's responsible office
    bucket: Mapped[str | None] = mapped_column(sa.String(40))
    band: Mapped[str | None] = mapped_column(sa.String(40))
    n: Mapped[int] = mapped_column(default=0)
    sum_economic: Mapped[float] = mapped_column(default=0.0)
    sum_social: Mapped[float] = mapped_column(default=0.0)
    sum_psychosocial: Mapped[float] = mapped_column(default=0.0)
    sum_composite: Mapped[float] = mapped_column(default=0.0)
    sum_days: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # CASES and CASES_CATEGORY: n cases, of which returned and arrived, and the approved
    # plans' lines committed and delivered (EUR minor units)
    returns: Mapped[int] = mapped_column(default=0)
    arrivals: Mapped[int] = mapped_column(default=0)
    committed_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    delivered_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
