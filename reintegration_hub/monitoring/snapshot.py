"""The outcome snapshot: ``snapshot_outcomes`` pre-aggregates the heavy indicators into
``OutcomeCell`` rows and replaces them in one transaction.

Set-based, one ``INSERT ... SELECT ... GROUP BY`` per measure: cases, returns, arrivals and
plans by status, spending committed and delivered (each a pass over every case or plan line),
sustainability scores by partner, support category, country and grant, their distribution,
days from return to plan, milestones on time and closure reasons. A fixed number of
statements, whatever the number of cases.

The cells hold the case dimensions (grant, host office, country, vulnerability, month of
return) and the support category, so the dashboard answers every filter but a partner from
them exactly (``filters.DashboardFilters.from_cells``); scores have cells per partner too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from partners.models import SupportOption
from reintegration_hub.cases.drill import (
    DONE_TIMELINESS,
    PLAN_DAY_RANGES,
    days_to_plan,
    milestone_done,
    score_bucket,
)
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.sql import (
    constant_number,
    constant_text,
    with_work_mem,
    without_jit,
)
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus, SustainabilitySurvey
from reintegration_hub.monitoring import figures
from reintegration_hub.monitoring.models import Measure, OutcomeCell, OutcomeSnapshot
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus


@dataclass(frozen=True)
class SnapshotCounts:
    taken_at: dt.datetime
    as_of: dt.date
    cells: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.cells.values())


DIMENSIONS = ("grant_id", "host_office_id", "return_country_code", "vulnerable", "return_month")
#: The score measures per service, and what each is broken down by.
SERVICE_SCORES = {
    Measure.SCORE_PARTNER: ("partner_id",),
    Measure.SCORE_CATEGORY: ("category",),
    Measure.SCORE_SERVICE: ("partner_id", "category"),
}


def _served(by: Sequence[str]) -> Any:
    """Each case once per ``by`` (``partner_id``, ``category``) its approved plan has lines
    of: ``case_id`` then the ``by`` columns."""
    columns = {"partner_id": SupportOption.partner_id, "category": SupportOption.category}
    return (
        sa.select(Plan.returnee_id.label("case_id"), *(columns[name].label(name) for name in by))
        .join(PlanLine, PlanLine.plan_id == Plan.id)
        .join(SupportOption, SupportOption.id == PlanLine.option_id)
        .where(Plan.status == PlanStatus.APPROVED)
        .distinct()
        .subquery("served")
    )


#: The follow-up figures' measures per category served (``follow_up_figures``).
FOLLOW_UP_CATEGORY = {
    Measure.PLAN_DAYS: Measure.PLAN_DAYS_CATEGORY,
    Measure.MILESTONES: Measure.MILESTONES_CATEGORY,
    Measure.CLOSURE: Measure.CLOSURE_CATEGORY,
}
FOLLOW_UP_BASE = {by_category: base for base, by_category in FOLLOW_UP_CATEGORY.items()}


def follow_up_figures(
    cases: Any, group: Sequence[Any], as_of: dt.date
) -> list[tuple[Measure, sa.Select[Any]]]:
    """Days from return to plan approval, milestones come due by ``as_of`` (done on time,
    done late, still open) and closed cases by reason, over ``cases`` (``figures.case_rows``)
    grouped by ``group``. Each select gives the ``group`` columns, then ``office_id`` (the
    milestones' responsible office, else NULL), ``bucket``, ``n`` and ``sum_days``: the snapshot
    writes them into cells, a partner-filtered dashboard reads them live."""
    return [
        (Measure.PLAN_DAYS, _plan_days(cases, group)),
        (Measure.MILESTONES, _milestones_due(cases, group, as_of)),
        (Measure.CLOSURE, _closures(cases, group)),
    ]


def _no_office() -> Any:
    return sa.cast(sa.null(), sa.Integer).label("office_id")


def _no_days() -> Any:
    return sa.cast(sa.literal_column("0"), sa.BigInteger).label("sum_days")


def _plan_days(cases: Any, group: Sequence[Any]) -> sa.Select[Any]:
    """Approved plans per range of days from return to approval (``PLAN_DAY_RANGES``), with
    the sum of the days (for the mean)."""
    days = days_to_plan(cases.c.departed_on)
    day_bucket = sa.case(
        *(
            (days <= constant_number(last), constant_text(key))
            for key, last in PLAN_DAY_RANGES
            if last is not None
        ),
        else_=constant_text(PLAN_DAY_RANGES[-1][0]),
    )
    return (
        sa.select(
            *group,
            _no_office(),
            day_bucket.label("bucket"),
            sa.func.count().label("n"),
            sa.cast(sa.func.sum(days), sa.BigInteger).label("sum_days"),
        )
        .select_from(Plan)
        .join(cases, cases.c.case_id == Plan.returnee_id)
        .where(
            Plan.status == PlanStatus.APPROVED,
            Plan.approved_at.is_not(None),
            cases.c.departed_on.is_not(None),
        )
        .group_by(*group, day_bucket)
    )


def _milestones_due(cases: Any, group: Sequence[Any], as_of: dt.date) -> sa.Select[Any]:
    """Milestones come due by ``as_of`` per responsible office: done on time, done late,
    still open (cancelled ones do not count)."""
    timeliness = sa.case(
        *((milestone_done(key), constant_text(key)) for key in DONE_TIMELINESS),
        else_=constant_text("open"),
    )
    return (
        sa.select(
            *group,
            Milestone.office_id.label("office_id"),
            timeliness.label("bucket"),
            sa.func.count().label("n"),
            _no_days(),
        )
        .select_from(Milestone)
        .join(cases, cases.c.case_id == Milestone.returnee_id)
        .where(Milestone.due_on <= as_of, Milestone.status != MilestoneStatus.CANCELLED)
        .group_by(*group, Milestone.office_id, timeliness)
    )


def _closures(cases: Any, group: Sequence[Any]) -> sa.Select[Any]:
    """Closed cases per closure reason (``unspecified`` when none was given)."""
    reason = sa.func.coalesce(Returnee.closure_reason, constant_text("unspecified"))
    return (
        sa.select(
            *group, _no_office(), reason.label("bucket"), sa.func.count().label("n"), _no_days()
        )
        .select_from(Returnee)
        .join(cases, cases.c.case_id == Returnee.id)
        .where(Returnee.status == CaseStatus.CLOSED)
        .group_by(*group, reason)
    )


#: What a cell holds when its measure does not say (``_CellWriter.insert``).
CELL_DEFAULTS: dict[str, Any] = {
    "n": 0,
    "sum_economic": 0.0,
    "sum_social": 0.0,
    "sum_psychosocial": 0.0,
    "sum_composite": 0.0,
    "sum_days": 0,
    "returns": 0,
    "arrivals": 0,
    "committed_minor": 0,
    "delivered_minor": 0,
}
#: The columns a score cell fills after its breakdown (``SCORE`` has ``bucket`` first).
SCORE_COLUMNS = ("band", "n", "sum_economic", "sum_social", "sum_psychosocial", "sum_composite")


@dataclass
class _CellWriter:
    """Writes the cells of one measure after another, each row stamped with the snapshot's
    time, and counts the cells of each measure."""

    taken_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def stamp(self) -> Any:
        return sa.literal(self.taken_at, OutcomeCell.snapshot_at.type)

    def insert(self, measure: Measure, select: sa.Select[Any], columns: Sequence[str]) -> None:
        """``INSERT ... SELECT`` of ``measure``'s cells: ``select`` gives the stamp, the
        measure, the ``DIMENSIONS`` and ``columns``; the other figures get their defaults."""
        target = ["snapshot_at", "measure", *DIMENSIONS, *columns]
        missing = [name for name in CELL_DEFAULTS if name not in columns]
        select = select.add_columns(*(sa.literal(CELL_DEFAULTS[name]) for name in missing))
        db.session.execute(sa.insert(OutcomeCell).from_select([*target, *missing], select))
        self.counts[measure.value] = int(
            db.session.scalar(
                sa.select(sa.func.count(OutcomeCell.id)).where(OutcomeCell.measure == measure)
            )
            or 0
        )

    def insert_grouped(
        self, measure: Measure, stmt: sa.Select[Any], columns: Sequence[str]
    ) -> None:
        """``stmt``'s rows (dimensions first, then ``columns``) as ``measure``'s cells."""
        cells = stmt.subquery()
        self.insert(measure, sa.select(self.stamp, sa.literal(measure.value), *cells.c), columns)


#: memory for each sort and hash of the snapshot's statements (core.sql.with_work_mem)
SNAPSHOT_WORK_MEM_MB = 64


def snapshot_outcomes(as_of: dt.date, *, actor: Actor) -> SnapshotCounts:
    """Replace the outcome snapshot with one computed now, as of ``as_of``.

    Set-based: the previous cells and header are deleted and one ``INSERT ... SELECT ...
    GROUP BY`` per measure writes the new ones, every row stamped with the same time, in the
    caller's transaction: readers see the old snapshot or the new one, never a mix.
    """
    without_jit()
    with_work_mem(SNAPSHOT_WORK_MEM_MB)
    writer = _CellWriter(now_utc())
    db.session.execute(sa.delete(OutcomeCell))
    db.session.execute(sa.delete(OutcomeSnapshot))
    cases = figures.case_rows()
    categories = _served(("category",))
    _insert_case_cells(writer, as_of, cases, categories)
    _insert_score_cells(writer, as_of, cases)
    _insert_follow_up_cells(writer, as_of, cases, categories)
    header = OutcomeSnapshot(
        taken_at=writer.taken_at, as_of=as_of, cell_count=sum(writer.counts.values())
    )
    record_audit(
        "monitoring.snapshot",
        header,
        actor=actor,
        changes={"as_of": [None, as_of.isoformat()], "cells": [None, writer.counts]},
    )
    return SnapshotCounts(taken_at=writer.taken_at, as_of=as_of, cells=writer.counts)


def _insert_case_cells(writer: _CellWriter, as_of: dt.date, cases: Any, categories: Any) -> None:
    """Every case by plan status, and each case once per category its approved plan serves:
    cases, returns, arrivals, committed and delivered (``figures``)."""
    dims = [cases.c[name] for name in DIMENSIONS]
    writer.insert_grouped(
        Measure.CASES,
        figures.snapshot_case_cells(as_of, cases, dims),
        ["bucket", *figures.CELL_FIGURES],
    )
    writer.insert_grouped(
        Measure.CASES_CATEGORY,
        figures.snapshot_category_cells(as_of, cases, categories, dims),
        ["category", "bucket", *figures.CELL_FIGURES],
    )


def _latest_surveys(as_of: dt.date) -> Any:
    """The latest survey of each case by ``as_of`` (highest ``taken_on``, then id)."""
    ranked = (
        sa.select(
            SustainabilitySurvey.returnee_id,
            SustainabilitySurvey.economic,
            SustainabilitySurvey.social,
            SustainabilitySurvey.psychosocial,
            SustainabilitySurvey.composite,
            SustainabilitySurvey.band,
            sa.func.row_number()
            .over(
                partition_by=SustainabilitySurvey.returnee_id,
                order_by=(SustainabilitySurvey.taken_on.desc(), SustainabilitySurvey.id.desc()),
            )
            .label("rank"),
        )
        .where(SustainabilitySurvey.taken_on <= as_of)
        .subquery("ranked")
    )
    return sa.select(ranked).where(ranked.c.rank == 1).subquery("latest")


def _insert_score_cells(writer: _CellWriter, as_of: dt.date, cases: Any) -> None:
    """The latest survey's scores summed per case dimensions, tenth of the composite score
    and band; then each case once per partner, per category, per partner and category served
    (``SERVICE_SCORES``), without the tenth: a partner's or category's cells stay few (bands
    suffice)."""
    latest = _latest_surveys(as_of)
    dims = [cases.c[name] for name in DIMENSIONS]
    bucket = score_bucket(latest.c.composite)
    score_sums = [
        sa.func.count(),
        sa.func.sum(latest.c.economic),
        sa.func.sum(latest.c.social),
        sa.func.sum(latest.c.psychosocial),
        sa.func.sum(latest.c.composite),
    ]
    surveyed = latest.join(cases, cases.c.case_id == latest.c.returnee_id)
    writer.insert(
        Measure.SCORE,
        sa.select(
            writer.stamp, sa.literal(Measure.SCORE.value), *dims, bucket, latest.c.band, *score_sums
        )
        .select_from(surveyed)
        .group_by(*dims, bucket, latest.c.band),
        ["bucket", *SCORE_COLUMNS],
    )
    for measure, by in SERVICE_SCORES.items():
        served = _served(by)
        keys = [served.c[name] for name in by]
        writer.insert(
            measure,
            sa.select(
                writer.stamp, sa.literal(measure.value), *dims, *keys, latest.c.band, *score_sums
            )
            .select_from(surveyed.join(served, served.c.case_id == latest.c.returnee_id))
            .group_by(*dims, *keys, latest.c.band),
            [*by, *SCORE_COLUMNS],
        )


def _insert_follow_up_cells(
    writer: _CellWriter, as_of: dt.date, cases: Any, categories: Any
) -> None:
    """Time to plan, milestones come due and closures (``follow_up_figures``): per case, and
    per category served."""
    by_category = (
        sa.select(*cases.c, categories.c.category)
        .join(categories, categories.c.case_id == cases.c.case_id)
        .subquery("cases_by_category")
    )
    for source, extra in ((cases, []), (by_category, ["category"])):
        group = [source.c[name] for name in (*DIMENSIONS, *extra)]
        for measure, stmt in follow_up_figures(source, group, as_of):
            writer.insert_grouped(
                FOLLOW_UP_CATEGORY[measure] if extra else measure,
                stmt,
                [*extra, "office_id", "bucket", "n", "sum_days"],
            )


def latest_snapshot() -> OutcomeSnapshot | None:
    return db.session.scalars(
        sa.select(OutcomeSnapshot).order_by(OutcomeSnapshot.id.desc())
    ).first()
