"""The case list's drill-down filters: what a monitoring figure links to.

A dashboard figure links to ``/cases`` with these filters as query parameters; the case list
applies them on top of its own filters and of the reader's scope. The dashboard's live SQL
filters its cases with the same conditions (``drill_conditions``), so a figure and the list
behind it always count the same cases.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from partners.models import SupportCategory, SupportOption
from reintegration_hub.cases.models import ClosureReason, Returnee
from reintegration_hub.core import validation
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.sql import constant_number, constant_text, days_between, utc_day
from reintegration_hub.followups.models import Milestone, MilestoneStatus, SustainabilitySurvey
from reintegration_hub.monitoring.figures import returned, vulnerable
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus

#: Milestone states a figure can point at.
MILESTONE_STATES = (MilestoneStatus.DUE, MilestoneStatus.OVERDUE)
#: Ranges of days from return to plan approval (the dashboard's buckets): key and last day,
#: each from the day after the previous one's last; "before": approved before the return.
PLAN_DAY_RANGES: tuple[tuple[str, int | None], ...] = (
    ("before", -1),
    ("0-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("90+", None),
)
#: How a milestone that came due was done: by its due date, or after it.
DONE_TIMELINESS = ("on_time", "late")
#: The histogram of composite scores: ten buckets of 0.1 (``score_bucket``).
HISTOGRAM_BUCKETS = 10


@dataclass(frozen=True, kw_only=True)
class CaseDrill:
    """Filters beyond the case list's own (status, country, host office, number).

    ``partner_id``/``category``: an approved plan has a line of that partner / category.
    ``returned_from``/``returned_to``: the departure (return) date lies in the period.
    ``returned``: the case counts as a return today (``monitoring.figures.returned``), or not.
    ``milestone``: the case has a milestone in that state, of ``milestone_office_id`` if given;
    ``timeliness``: one done on time or late (``DONE_TIMELINESS``), of that office if given.
    ``plan_days``: its plan was approved that many days after the return (``PLAN_DAY_RANGES``).
    ``band``: the band of the case's latest sustainability survey, ``score_bucket`` the tenth
    its composite score falls in (``score_bucket``); ``surveyed``: has a survey.
    """

    grant_id: int | None = None
    returned_from: dt.date | None = None
    returned_to: dt.date | None = None
    returned: bool | None = None
    origin_office_id: int | None = None
    partner_id: int | None = None
    category: SupportCategory | None = None
    vulnerable: bool | None = None
    plan_status: PlanStatus | None = None
    milestone: MilestoneStatus | None = None
    milestone_office_id: int | None = None
    timeliness: str | None = None
    plan_days: str | None = None
    closure_reason: ClosureReason | None = None
    surveyed: bool | None = None
    band: str | None = None
    score_bucket: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def query_args(self) -> dict[str, str]:
        """The query parameters that give this drill back through ``from_args``."""
        args: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool):
                args[ARG_NAMES[f.name]] = "1" if value else "0"
            elif isinstance(value, enum.Enum):
                args[ARG_NAMES[f.name]] = str(value.value)
            else:
                args[ARG_NAMES[f.name]] = str(value)
        return args

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CaseDrill:
        """Parse query parameters; a value that does not parse is ignored (no filter)."""
        return cls(
            grant_id=_int(args.get("grant")),
            returned_from=_date(args.get("returned_from")),
            returned_to=_date(args.get("returned_to")),
            returned=_bool(args.get("returned")),
            origin_office_id=_int(args.get("origin_office")),
            partner_id=_int(args.get("partner")),
            category=_enum(SupportCategory, args.get("category")),
            vulnerable=_bool(args.get("vulnerable")),
            plan_status=_enum(PlanStatus, args.get("plan_status")),
            milestone=m
            if (m := _enum(MilestoneStatus, args.get("milestone"))) in MILESTONE_STATES
            else None,
            milestone_office_id=_int(args.get("milestone_office")),
            timeliness=t if (t := args.get("timeliness")) in DONE_TIMELINESS else None,
            plan_days=d if (d := args.get("plan_days")) in dict(PLAN_DAY_RANGES) else None,
            closure_reason=_enum(ClosureReason, args.get("closure")),
            surveyed=_bool(args.get("surveyed")),
            band=validation.lenient(validation.to_text, args.get("band"), BAND_TEXT),
            score_bucket=_below(args.get("score_bucket"), HISTOGRAM_BUCKETS),
        )

    @classmethod
    def unread(cls, args: Mapping[str, str]) -> list[str]:
        """The parameters of ``args`` that ``from_args`` ignored because they do not parse."""
        kept = cls.from_args(args).query_args()
        return [name for name in ARG_NAMES.values() if args.get(name) and name not in kept]


ARG_NAMES = {
    "grant_id": "grant",
    "returned_from": "returned_from",
    "returned_to": "returned_to",
    "returned": "returned",
    "origin_office_id": "origin_office",
    "partner_id": "partner",
    "category": "category",
    "vulnerable": "vulnerable",
    "plan_status": "plan_status",
    "milestone": "milestone",
    "milestone_office_id": "milestone_office",
    "timeliness": "timeliness",
    "plan_days": "plan_days",
    "closure_reason": "closure",
    "surveyed": "surveyed",
    "band": "band",
    "score_bucket": "score_bucket",
}

E = TypeVar("E", bound=enum.Enum)
BAND_TEXT = validation.TextRule(40)


def _int(raw: str | None) -> int | None:
    value = validation.lenient(validation.to_int, raw, validation.ID)
    return int(value) if value is not None else None


def _date(raw: str | None) -> dt.date | None:
    value = validation.lenient(validation.to_date, raw, validation.PERIOD_DATE)
    return value if isinstance(value, dt.date) else None


def _below(raw: str | None, limit: int) -> int | None:
    """A whole number from 0 to ``limit`` - 1."""
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and int(text) < limit else None


def _bool(raw: str | None) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get((raw or "").lower())


def _enum(cls: type[E], raw: str | None) -> E | None:
    try:
        return cls(raw)
    except ValueError:
        return None


def served_by(partner_id: int | None, category: SupportCategory | None) -> sa.ColumnElement[bool]:
    """The case's approved plan has a line of ``partner_id`` and/or ``category``."""
    stmt = (
        sa.select(PlanLine.id)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(SupportOption, SupportOption.id == PlanLine.option_id)
        .where(Plan.returnee_id == Returnee.id, Plan.status == PlanStatus.APPROVED)
    )
    if partner_id is not None:
        stmt = stmt.where(SupportOption.partner_id == partner_id)
    if category is not None:
        stmt = stmt.where(SupportOption.category == category)
    return stmt.exists()


def score_bucket(score: Any) -> sa.ColumnElement[str]:
    """The histogram bucket of a composite score, as text: "0" for [0, 0.1) ... "9" for
    [0.9, 1] (portable: no floor()). Constants are literal SQL, so the snapshot can group by
    it (see ``core.sql``)."""
    whens: list[tuple[Any, Any]] = [
        (score >= constant_number(b / HISTOGRAM_BUCKETS), constant_text(str(b)))
        for b in range(HISTOGRAM_BUCKETS - 1, 0, -1)
    ]
    return sa.case(*whens, else_=constant_text("0"))


def latest_band_is(band: str) -> sa.ColumnElement[bool]:
    return latest_survey_where(SustainabilitySurvey.band == band)


def latest_survey_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The case's latest sustainability survey (the newest, then the highest id) meets
    ``condition``."""
    later = aliased(SustainabilitySurvey)
    return (
        sa.select(SustainabilitySurvey.id)
        .where(
            SustainabilitySurvey.returnee_id == Returnee.id,
            condition,
            ~sa.exists().where(
                later.returnee_id == SustainabilitySurvey.returnee_id,
                sa.or_(
                    later.taken_on > SustainabilitySurvey.taken_on,
                    sa.and_(
                        later.taken_on == SustainabilitySurvey.taken_on,
                        later.id > SustainabilitySurvey.id,
                    ),
                ),
            ),
        )
        .exists()
    )


def days_to_plan(departed_on: Any = Returnee.departed_on) -> sa.ColumnElement[int]:
    """Days from the return (``departed_on``) to the day ``Plan`` was approved."""
    return days_between(utc_day(Plan.approved_at), departed_on)


def plan_days_in(key: str, days: sa.ColumnElement[int]) -> sa.ColumnElement[bool]:
    """``days`` lies in the range ``key`` of ``PLAN_DAY_RANGES``."""
    first: int | None = None
    for name, last in PLAN_DAY_RANGES:
        if name == key:
            bounds = [days >= first] if first is not None else []
            return sa.and_(*bounds, *([days <= last] if last is not None else []))
        first = None if last is None else last + 1
    raise ValueError(f"no such range: {key}")


def milestone_done(timeliness: str) -> sa.ColumnElement[bool]:
    """``Milestone`` was done by its due date (``on_time``) or after it (``late``): the day it
    was done as recorded, else the day it was recorded."""
    done_on = sa.func.coalesce(Milestone.completed_on, utc_day(Milestone.completed_at))
    return sa.and_(
        Milestone.status == MilestoneStatus.DONE,
        done_on <= Milestone.due_on if timeliness == "on_time" else done_on > Milestone.due_on,
    )


def drill_conditions(drill: CaseDrill) -> list[sa.ColumnElement[bool]]:
    """``WHERE`` conditions on ``Returnee`` for ``drill`` (each backed by an index)."""
    where: list[sa.ColumnElement[bool]] = []
    if drill.grant_id is not None:
        where.append(Returnee.grant_id == drill.grant_id)
    if drill.returned_from is not None:
        where.append(Returnee.departed_on >= drill.returned_from)
    if drill.returned_to is not None:
        where.append(Returnee.departed_on <= drill.returned_to)
    if drill.returned is not None:
        has_returned = returned(now_utc().date())
        where.append(
            has_returned
            if drill.returned
            else sa.or_(Returnee.departed_on.is_(None), ~has_returned)
        )
    if drill.origin_office_id is not None:
        where.append(Returnee.origin_office_id == drill.origin_office_id)
    if drill.partner_id is not None or drill.category is not None:
        where.append(served_by(drill.partner_id, drill.category))
    if drill.vulnerable is not None:
        where.append(vulnerable() if drill.vulnerable else ~vulnerable())
    if drill.plan_status is not None:
        where.append(
            sa.exists().where(Plan.returnee_id == Returnee.id, Plan.status == drill.plan_status)
        )
    if drill.milestone is not None:
        milestones = sa.select(Milestone.id).where(
            Milestone.returnee_id == Returnee.id, Milestone.status == drill.milestone
        )
        if drill.milestone_office_id is not None:
            milestones = milestones.where(Milestone.office_id == drill.milestone_office_id)
        where.append(milestones.exists())
    if drill.timeliness is not None:
        done = sa.select(Milestone.id).where(
            Milestone.returnee_id == Returnee.id,
            Milestone.due_on <= now_utc().date(),  # came due, as the snapshot counts them
            milestone_done(drill.timeliness),
        )
        if drill.milestone_office_id is not None:
            done = done.where(Milestone.office_id == drill.milestone_office_id)
        where.append(done.exists())
    if drill.plan_days is not None:
        where.append(
            sa.exists().where(
                Plan.returnee_id == Returnee.id,
                Plan.status == PlanStatus.APPROVED,
                plan_days_in(drill.plan_days, days_to_plan()),
            )
        )
    if drill.closure_reason is not None:
        where.append(Returnee.closure_reason == drill.closure_reason)
    if drill.surveyed is not None:
        surveyed = sa.exists().where(SustainabilitySurvey.returnee_id == Returnee.id)
        where.append(surveyed if drill.surveyed else ~surveyed)
    if drill.band is not None:
        where.append(latest_band_is(drill.band))
    if drill.score_bucket is not None:
        bucket = score_bucket(SustainabilitySurvey.composite)
        where.append(latest_survey_where(bucket == str(drill.score_bucket)))
    return where
