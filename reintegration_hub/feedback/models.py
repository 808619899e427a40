"""A feedback request per delivered plan line, and the returnee's scores.

``FeedbackRequest``: one per delivery that completed a plan line (unique on the delivery), with
the random nonce its link's signature covers, when the link expires, when it was sent and when
it was answered (with the returnee's comment). ``FeedbackScore``: the satisfaction score (1-5)
given to each delivered support of an answered request, unique per request and support, so a
second answer of the same request fails on the database even when two arrive together. Each
score keeps the partner, category and return country it counts for and the day it was given:
the dashboard's and the partner ranking's figures are one GROUP BY over this table, on its own
indexes, never a join through the cases.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from partners.models import SupportCategory
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import Base, IdMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.followups.models import Milestone
from reintegration_hub.plans.models import PlanLine

#: The scores a returnee gives: 1 (very dissatisfied) to 5 (very satisfied).
MIN_SCORE, MAX_SCORE = 1, 5


class FeedbackRequest(IdMixin, Base):
    """The request to score a delivered plan line, sent by SMS or handed over as a link."""

    __tablename__ = "feedback_requests"
    # the returnee's own words: the audit trail records that the comment changed, never it
    __audit_redact__ = ("comment",)
    __table_args__ = (sa.Index("ix_feedback_requests_case", "returnee_id", "created_at"),)

    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"), unique=True
    )
    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    plan_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plan_lines.id", ondelete="CASCADE"), index=True
    )
    # random, covered by the link's signature: a new nonce revokes the link
    nonce: Mapped[str] = mapped_column(sa.String(16))
    language: Mapped[str] = mapped_column(sa.String(8))  # the form's and the message's
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]  # by SMS, or handed over by the case manager
    answered_at: Mapped[dt.datetime | None]
    comment: Mapped[str] = mapped_column(sa.String(1000), default="")
    # the case manager's task a low score opened
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("milestones.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    delivery: Mapped[Delivery] = relationship()
    returnee: Mapped[Returnee] = relationship()
    plan_line: Mapped[PlanLine] = relationship()
    task: Mapped[Milestone | None] = relationship()
    scores: Mapped[list[FeedbackScore]] = relationship(
        back_populates="request", order_by="FeedbackScore.id"
    )

    @property
    def audit_office_id(self) -> int:
        return self.returnee.origin_office_id or self.returnee.host_office_id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        """Whoever sees the case (partners do not: a returnee's opinion of them is not theirs
        to read case by case; they see their figures)."""
        return sa.exists().where(Returnee.id == cls.returnee_id, Returnee.visible_to(actor))


class FeedbackScore(IdMixin, Base):
    """One support's score in an answered request."""

    __tablename__ = "feedback_scores"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "plan_line_id"),
        sa.CheckConstraint(f"score BETWEEN {MIN_SCORE} AND {MAX_SCORE}", name="score_range"),
        # the figures: by partner (performance, dashboard), category and country, by period
        sa.Index("ix_feedback_scores_partner", "partner_id", "answered_on", "score"),
        sa.Index("ix_feedback_scores_category", "category", "answered_on", "score"),
        sa.Index("ix_feedback_scores_country", "return_country_code", "answered_on", "score"),
    )

    request_id: Mapped[int] = mapped_column(
        sa.ForeignKey("feedback_requests.id", ondelete="CASCADE")
    )
    plan_line_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_lines.id", ondelete="CASCADE"))
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id", ondelete="CASCADE"))
    category: Mapped[SupportCategory] = mapped_column(str_enum(SupportCategory))
    return_country_code: Mapped[str] = mapped_column(sa.String(2))
    returnee_id: Mapped[int] = mapped_column(
        sa.ForeignKey("returnees.id", ondelete="CASCADE"), index=True
    )
    answered_on: Mapped[dt.date]
    score: Mapped[int]

    request: Mapped[FeedbackRequest] = relationship(back_populates="scores")
    plan_line: Mapped[PlanLine] = relationship()
