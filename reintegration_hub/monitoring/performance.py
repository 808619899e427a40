"""Partner performance: how each marketplace partner answers and delivers, and how the
returnees it served fare, pre-aggregated into ``partner_performance``.

The refresh is one DELETE and one INSERT ... SELECT: every figure is a GROUP BY over the
referrals, deliveries and surveys, never a loop per partner. Medians are computed with window
functions (row number and count per partner, then the mean of the one or two middle rows), the
same SQL on PostgreSQL and SQLite; only date arithmetic differs between the two (``core.sql``).

Definitions (as of a day, counting what had happened by its end):

- *acceptance rate*: accepted / (accepted + declined + expired) referrals sent by then; an
  accepted referral is one answered without a decline reason (it may since have been delivered
  or withdrawn);
- *time to accept*: hours from sending to the acceptance, median;
- *time to deliver*: days from sending the referral to the delivery of its line (its first
  instalment, for a line delivered in several), median;
- *delivered within 12 months*: of the accepted lines that were delivered (their last
  instalment recorded) or whose year after the return is over, the share delivered at most
  365 days after the return (the return date
  the milestones count from: the departure, else the plan's approval day);
- *scores*: the mean, per dimension and composite, of the latest sustainability survey of each
  returnee the partner delivered to;
- *satisfaction*: the mean of the scores (1-5) returnees gave the partner's delivered supports
  through their feedback links by then, and how many scores (``feedback.models``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from partners.models import Partner, PartnerPerformance, Referral
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.sql import days_between, hours_between, utc_day
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackScore
from reintegration_hub.followups.models import SustainabilitySurvey
from reintegration_hub.plans.models import Plan, PlanLine

#: A line counts as delivered within 12 months when delivered at most this long after return.
YEAR_DAYS = 365


def _median_by_partner(values: sa.Select[Any], name: str) -> sa.Subquery:
    """``(partner_id, <name>)``: the median of ``values``' ``(partner_id, value)`` rows."""
    inner = values.subquery(f"{name}_values")
    ranked = sa.select(
        inner.c.partner_id,
        inner.c.value,
        sa.func.row_number()
        .over(partition_by=inner.c.partner_id, order_by=inner.c.value)
        .label("position"),
        sa.func.count().over(partition_by=inner.c.partner_id).label("n"),
    ).subquery(f"{name}_ranked")
    # the middle row, or the two middle rows of an even count (integer division on both)
    middle = ranked.c.position.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2])
    return (
        sa.select(ranked.c.partner_id, sa.func.avg(ranked.c.value).label(name))
        .where(middle)
        .group_by(ranked.c.partner_id)
        .subquery(name)
    )


def _ratio(part: Any, whole: Any) -> sa.ColumnElement[Any]:
    return sa.case((whole > 0, sa.cast(part, sa.Float) / whole), else_=sa.null())


def performance_select(as_of: dt.date, refreshed_at: dt.datetime) -> sa.Select[Any]:
    """One row per partner, in ``PartnerPerformance``'s column order of :data:`COLUMNS`: the
    partner joined to one subquery per group of figures, each counted as of the end of
    ``as_of``."""
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    as_of_value = sa.bindparam("as_of_day", as_of, type_=sa.Date)
    referrals = _referral_counts(end)
    to_accept = _hours_to_accept(end)
    lines = _line_counts(end, as_of_value)
    to_deliver = _days_to_deliver(as_of_value)
    scores = _served_scores(as_of_value)
    satisfaction = _satisfaction(as_of_value)
    return (
        sa.select(
            Partner.id,
            as_of_value,
            sa.bindparam("refreshed_at", refreshed_at, type_=PartnerPerformance.refreshed_at.type),
            _zero(referrals.c.sent),
            _zero(referrals.c.decided),
            _zero(referrals.c.accepted),
            _ratio(referrals.c.accepted, referrals.c.decided),
            to_accept.c.hours_to_accept,
            _zero(lines.c.delivered),
            to_deliver.c.days_to_deliver,
            _zero(lines.c.due),
            _zero(lines.c.within_year),
            _ratio(lines.c.within_year, lines.c.due),
            _zero(scores.c.surveyed),
            scores.c.economic,
            scores.c.social,
            scores.c.psychosocial,
            scores.c.composite,
            _zero(satisfaction.c.answers),
            satisfaction.c.satisfaction,
        )
        .select_from(Partner)
        .outerjoin(referrals, referrals.c.partner_id == Partner.id)
        .outerjoin(to_accept, to_accept.c.partner_id == Partner.id)
        .outerjoin(lines, lines.c.partner_id == Partner.id)
        .outerjoin(to_deliver, to_deliver.c.partner_id == Partner.id)
        .outerjoin(scores, scores.c.partner_id == Partner.id)
        .outerjoin(satisfaction, satisfaction.c.partner_id == Partner.id)
    )


def _counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _zero(column: Any) -> sa.ColumnElement[int]:
    return sa.func.coalesce(column, 0)


def _answered(end: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(Referral.answered_at.is_not(None), Referral.answered_at < end)


def _accepted(end: dt.datetime) -> sa.ColumnElement[bool]:
    """Answered by ``end`` without a decline reason (whatever happened since)."""
    return sa.and_(_answered(end), Referral.decline_reason.is_(None))


def _referral_counts(end: dt.datetime) -> sa.Subquery:
    """Per partner, referrals sent by ``end``, accepted, and decided (accepted, declined or
    expired)."""
    declined = sa.and_(_answered(end), Referral.decline_reason.is_not(None))
    expired = sa.and_(Referral.status == "expired", Referral.expires_at < end)
    return (
        sa.select(
            Referral.partner_id,
            sa.func.count().label("sent"),
            _counted(_accepted(end)).label("accepted"),
            _counted(sa.or_(_accepted(end), declined, expired)).label("decided"),
        )
        .where(Referral.sent_at < end)
        .group_by(Referral.partner_id)
        .subquery("referral_counts")
    )


def _hours_to_accept(end: dt.datetime) -> sa.Subquery:
    """Per partner, the median hours from sending a referral to its acceptance."""
    return _median_by_partner(
        sa.select(
            Referral.partner_id,
            hours_between(Referral.answered_at, Referral.sent_at).label("value"),
        ).where(Referral.sent_at < end, _accepted(end)),
        "hours_to_accept",
    )


def _line_counts(end: dt.datetime, as_of_value: Any) -> sa.Subquery:
    """Per partner, of the accepted referrals' lines: delivered, due within the year after
    the return (delivered, or that year over) and delivered within it."""
    delivered = sa.and_(Delivery.id.is_not(None), Delivery.delivered_on <= as_of_value)
    return_day = sa.func.coalesce(Returnee.departed_on, utc_day(Plan.approved_at))
    days_after_return = days_between(Delivery.delivered_on, return_day)
    year_over = days_between(as_of_value, return_day) >= YEAR_DAYS
    return (
        sa.select(
            Referral.partner_id,
            _counted(delivered).label("delivered"),
            _counted(sa.or_(delivered, year_over)).label("due"),
            _counted(sa.and_(delivered, days_after_return <= YEAR_DAYS)).label("within_year"),
        )
        .select_from(Referral)
        .join(PlanLine, PlanLine.referral_id == Referral.id)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        # a line is delivered by its final instalment (one row per line)
        .outerjoin(Delivery, sa.and_(Delivery.plan_line_id == PlanLine.id, Delivery.final))
        .where(Referral.sent_at < end, _accepted(end))
        .group_by(Referral.partner_id)
        .subquery("line_counts")
    )


def _days_to_deliver(as_of_value: Any) -> sa.Subquery:
    """Per partner, the median days from sending a referral to its line's first
    instalment (until the delivery starts)."""
    return _median_by_partner(
        sa.select(
            Referral.partner_id,
            days_between(Delivery.delivered_on, utc_day(Referral.sent_at)).label("value"),
        )
        .select_from(Delivery)
        .join(PlanLine, PlanLine.id == Delivery.plan_line_id)
        .join(Referral, Referral.id == PlanLine.referral_id)
        .where(Delivery.instalment == 1, Delivery.delivered_on <= as_of_value),
        "days_to_deliver",
    )


def _served_scores(as_of_value: Any) -> sa.Subquery:
    """Per partner, the mean scores of the latest survey of each returnee it delivered to,
    and how many were surveyed."""
    served = (
        sa.select(Referral.partner_id, Plan.returnee_id)
        .select_from(Delivery)
        .join(PlanLine, PlanLine.id == Delivery.plan_line_id)
        .join(Referral, Referral.id == PlanLine.referral_id)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .where(Delivery.delivered_on <= as_of_value)
        .distinct()
        .subquery("served")
    )
    survey = SustainabilitySurvey
    latest = (
        sa.select(
            survey.returnee_id,
            survey.economic,
            survey.social,
            survey.psychosocial,
            survey.composite,
            sa.func.row_number()
            .over(
                partition_by=survey.returnee_id,
                order_by=(survey.taken_on.desc(), survey.id.desc()),
            )
            .label("recency"),
        )
        .where(survey.taken_on <= as_of_value)
        .subquery("latest_surveys")
    )
    return (
        sa.select(
            served.c.partner_id,
            sa.func.count().label("surveyed"),
            sa.func.avg(latest.c.economic).label("economic"),
            sa.func.avg(latest.c.social).label("social"),
            sa.func.avg(latest.c.psychosocial).label("psychosocial"),
            sa.func.avg(latest.c.composite).label("composite"),
        )
        .join(latest, sa.and_(latest.c.returnee_id == served.c.returnee_id, latest.c.recency == 1))
        .group_by(served.c.partner_id)
        .subquery("scores")
    )


def _satisfaction(as_of_value: Any) -> sa.Subquery:
    """Per partner, the returnees' feedback scores given by ``as_of``: how many, and their
    mean (on the partner's score index)."""
    return (
        sa.select(
            FeedbackScore.partner_id,
            sa.func.count().label("answers"),
            sa.func.avg(sa.cast(FeedbackScore.score, sa.Float)).label("satisfaction"),
        )
        .where(FeedbackScore.answered_on <= as_of_value)
        .group_by(FeedbackScore.partner_id)
        .subquery("satisfaction")
    )


#: The columns :func:`performance_select` fills, in its order.
COLUMNS = (
    "partner_id",
    "as_of",
    "refreshed_at",
    "referrals_sent",
    "referrals_decided",
    "referrals_accepted",
    "acceptance_rate",
    "median_hours_to_accept",
    "lines_delivered",
    "median_days_to_deliver",
    "lines_due_within_year",
    "lines_delivered_within_year",
    "delivered_within_year_share",
    "returnees_surveyed",
    "economic",
    "social",
    "psychosocial",
    "composite",
    "feedback_answers",
    "satisfaction",
)


def refresh_partner_performance(as_of: dt.date | None = None) -> int:
    """Rewrite ``partner_performance`` as of the end of ``as_of`` (default: today, UTC): one
    row per partner. Flushes, the caller commits; returns the number of partners written.

    Derived figures only (no case data), so no audit row: the table is recomputed whole each
    time and keeps when and as of which day it was.
    """
    as_of = as_of or now_utc().date()
    table = sa.table(PartnerPerformance.__tablename__, *(sa.column(c) for c in COLUMNS))
    db.session.execute(sa.delete(table))
    db.session.execute(
        sa.insert(table).from_select(list(COLUMNS), performance_select(as_of, now_utc()))
    )
    db.session.flush()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def performance_of(partner_id: int) -> PartnerPerformance | None:
    return db.session.get(PartnerPerformance, partner_id)
