"""The dashboard's figures: case counts, returns and arrivals by month, plans by status,
open milestones by office, spending and targets per grant, and the outcomes.

Case counts and spending come from the snapshot's cells (``snapshot``) when they answer the
filters exactly (``DashboardFilters.from_cells``: any filter but a partner, periods of whole
months), else live SQL with the same figures (``tests/monitoring`` checks the two agree);
``count_cases`` picks which, for the dashboard and the donor report alike. Open milestones,
budgets, targets and programme activities are always live SQL over indexed columns. A fixed
number of statements either way, whatever the number of cases. What a return, a beneficiary,
committed and delivered spending are is defined once, in ``figures``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from partners.models import Partner
from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.memo import remembered
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackScore
from reintegration_hub.feedback.services import LOW_SCORE
from reintegration_hub.followups.models import Milestone, MilestoneStatus
from reintegration_hub.monitoring import figures
from reintegration_hub.monitoring.figures import BucketCount, CaseCounts, MonthCount, Totals
from reintegration_hub.monitoring.filters import DashboardFilters, require_monitoring
from reintegration_hub.monitoring.models import (
    ActivityKind,
    Measure,
    OutcomeSnapshot,
    ProgrammeActivity,
)
from reintegration_hub.monitoring.outcomes import Outcomes, read_outcomes
from reintegration_hub.monitoring.snapshot import latest_snapshot
from reintegration_hub.plans.models import PlanStatus
from reintegration_hub.programmes.models import Grant, TargetIndicator


@dataclass
class OfficeMilestones:
    office_id: int
    office: str
    due: int
    overdue: int


@dataclass
class SourceSplit:
    name: str
    share_bp: int
    budget_minor: int
    committed_minor: int
    delivered_minor: int
    remaining_minor: int


@dataclass
class TargetProgress:
    indicator: TargetIndicator
    target: int
    actual: int

    @property
    def percent(self) -> float:
        return 100.0 * self.actual / self.target if self.target else 0.0


@dataclass
class GrantProgress:
    grant_id: int
    number: str
    title: str
    currency: str
    budget_minor: int
    committed_minor: int
    delivered_minor: int
    sources: list[SourceSplit]
    targets: list[TargetProgress]

    @property
    def remaining_minor(self) -> int:
        return self.budget_minor - self.committed_minor


@dataclass
class SatisfactionRow:
    """The returnees' feedback scores of one partner, category or country."""

    key: Any  # partner id, category, country code
    name: str
    answers: int
    mean: float
    low: int  # scores at or under the low mark (``feedback.services.LOW_SCORE``)


@dataclass
class Satisfaction:
    by_partner: list[SatisfactionRow]
    by_category: list[SatisfactionRow]
    by_country: list[SatisfactionRow]


@dataclass
class Dashboard:
    filters: DashboardFilters
    totals: Totals
    months: list[MonthCount]
    plans_by_status: list[BucketCount]
    milestones: list[OfficeMilestones]
    grants: list[GrantProgress]
    outcomes: Outcomes
    satisfaction: Satisfaction
    #: when the case counts and spending are the snapshot's, its time; None when live
    counted_at: dt.datetime | None = None
    #: the day returns and arrivals are counted up to (the snapshot's, or today's when live)
    as_of: dt.date | None = None


#: The case dimensions the dashboard's case counts are grouped by (``count_cases``).
DASHBOARD_KEYS = ("grant_id", "return_month")


def dashboard(
    filters: DashboardFilters, *, actor: Actor, as_of: dt.date | None = None
) -> Dashboard:
    """Every figure of the dashboard under ``filters``: a fixed number of statements.
    ``as_of``: the day returns count up to when counted live (default today)."""
    require_monitoring(actor)
    snapshot = latest_snapshot()
    counts = count_cases(filters, DASHBOARD_KEYS, snapshot=snapshot, as_of=as_of)
    return Dashboard(
        filters=filters,
        totals=counts.totals,
        months=counts.months(),
        plans_by_status=counts.plans(),
        milestones=_open_milestones(filters),
        grants=grant_progress(filters, counts.per_grant),
        outcomes=read_outcomes(filters, snapshot),
        satisfaction=satisfaction(filters),
        counted_at=counts.counted_at,
        as_of=counts.as_of,
    )


def count_cases(
    filters: DashboardFilters,
    by: Sequence[str],
    *,
    snapshot: OutcomeSnapshot | None,
    as_of: dt.date | None = None,
) -> CaseCounts:
    """Cases, returns, arrivals, beneficiaries and spending under ``filters``, grouped by the
    case dimensions ``by`` (``grant_id``, ``return_month``, ``return_country_code``,
    ``vulnerable``) and plan status: from ``snapshot``'s cells when they answer the filters
    exactly (``DashboardFilters.from_cells``; as of the snapshot's day, remembered for
    ``MEMO_SECONDS``), else live (as of ``as_of``, default today). The dashboard and the donor
    report both count through here."""
    if snapshot is not None and filters.from_cells:
        return remembered(
            "case-counts",
            (snapshot.id, snapshot.taken_at, filters, tuple(by)),
            lambda: cell_case_counts(filters, by, snapshot),
        )
    return case_counts(filters, by, as_of or now_utc().date())


def case_counts(filters: DashboardFilters, by: Sequence[str], as_of: dt.date) -> CaseCounts:
    """The case counts and spending live: a pass over the cases, one over the approved plans'
    lines (committed, and delivered where a delivery is)."""
    counts = CaseCounts(as_of=as_of)
    where = filters.case_conditions()
    for *keys, status, cases, returns, arrivals in db.session.execute(
        figures.live_case_statement(as_of, where, by)
    ):
        counts.add(dict(zip(by, keys, strict=True)), status, [cases, returns, arrivals, 0, 0])
    for grant_id, committed, delivered in db.session.execute(figures.live_money_statement(where)):
        counts.add({"grant_id": grant_id}, PlanStatus.APPROVED, [0, 0, 0, committed, delivered])
    return counts


def cell_case_counts(
    filters: DashboardFilters, by: Sequence[str], snapshot: OutcomeSnapshot
) -> CaseCounts:
    """The case counts and spending from the snapshot's cells (``from_cells`` filters): one
    statement over a few thousand rows."""
    measure = Measure.CASES_CATEGORY if filters.category is not None else Measure.CASES
    stmt = figures.cell_statement(measure, filters.cell_conditions(service=True), by)
    counts = CaseCounts(as_of=snapshot.as_of, counted_at=snapshot.taken_at)
    for *keys, status, cases, returns, arrivals, committed, delivered in db.session.execute(stmt):
        counts.add(
            dict(zip(by, keys, strict=True)),
            status,
            [cases, returns, arrivals, committed, delivered],
        )
    return counts


def satisfaction(filters: DashboardFilters) -> Satisfaction:
    """The returnees' feedback scores by partner, by category and by country of return: the
    number of scores, their mean and the low ones, under the filters (partner, category and
    country on the scores' own indexed columns; the case filters through the case). Three
    GROUP BY statements whatever the number of answers."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.partner_id is not None:
        where.append(FeedbackScore.partner_id == filters.partner_id)
    if filters.category is not None:
        where.append(FeedbackScore.category == filters.category)
    if filters.return_country_code:
        where.append(FeedbackScore.return_country_code == filters.return_country_code)
    # the other filters select cases (grant, return period, host office, vulnerability)
    case_where = replace(
        filters, partner_id=None, category=None, return_country_code=None
    ).case_conditions()
    if case_where:
        where.append(FeedbackScore.returnee_id.in_(sa.select(Returnee.id).where(*case_where)))
    figures_of = (
        sa.func.count().label("answers"),
        sa.func.avg(sa.cast(FeedbackScore.score, sa.Float)).label("mean"),
        sa.func.coalesce(
            sa.func.sum(sa.case((FeedbackScore.score <= LOW_SCORE, 1), else_=0)), 0
        ).label("low"),
    )

    def rows(key: Any, *extra: Any) -> list[Any]:
        stmt = sa.select(key, *extra, *figures_of).where(*where).group_by(key, *extra)
        return list(db.session.execute(stmt))

    by_partner = [
        SatisfactionRow(row[0], row[1], row.answers, float(row.mean), int(row.low))
        for row in db.session.execute(
            sa.select(FeedbackScore.partner_id, Partner.name, *figures_of)
            .join(Partner, Partner.id == FeedbackScore.partner_id)
            .where(*where)
            .group_by(FeedbackScore.partner_id, Partner.name)
        )
    ]
    by_category = [
        SatisfactionRow(row[0], str(row[0]), row.answers, float(row.mean), int(row.low))
        for row in rows(FeedbackScore.category)
    ]
    by_country = [
        SatisfactionRow(row[0], str(row[0]), row.answers, float(row.mean), int(row.low))
        for row in rows(FeedbackScore.return_country_code)
    ]

    def order(found: list[SatisfactionRow]) -> list[SatisfactionRow]:
        return sorted(found, key=lambda r: (r.mean, -r.answers, r.name))

    return Satisfaction(order(by_partner), order(by_category), order(by_country))


def _open_milestones(filters: DashboardFilters) -> list[OfficeMilestones]:
    """Due and overdue milestones per responsible office: one statement. Counted first, in
    the order of the index (status, office_id), which answers alone (no row is read), then
    joined to the few offices: joining each of 54,000 open milestones to its office before
    counting took 19 ms at 100,000 cases, counting first 6."""
    counted = (
        sa.select(Milestone.office_id, Milestone.status, sa.func.count().label("n"))
        .where(Milestone.status.in_(MILESTONE_OPEN))
        .group_by(Milestone.status, Milestone.office_id)
    )
    conditions = filters.case_conditions()
    if conditions:
        counted = counted.join(Returnee, Returnee.id == Milestone.returnee_id).where(*conditions)
    counts = counted.subquery("counts")
    stmt = sa.select(counts.c.office_id, Office.name, counts.c.status, counts.c.n).join(
        Office, Office.id == counts.c.office_id
    )
    offices: dict[int, OfficeMilestones] = {}
    for office_id, name, status, count in db.session.execute(stmt):
        row = offices.setdefault(office_id, OfficeMilestones(office_id, name, 0, 0))
        if status == MilestoneStatus.OVERDUE:
            row.overdue += count
        else:
            row.due += count
    return sorted(offices.values(), key=lambda o: (-o.overdue, -o.due, o.office))


MILESTONE_OPEN = (MilestoneStatus.DUE, MilestoneStatus.OVERDUE)


def grant_progress(
    filters: DashboardFilters, per_grant: Mapping[int | None, Totals]
) -> list[GrantProgress]:
    """Budget, committed, delivered, remaining (``figures``), each split by co-financing
    source, and progress to the targets per grant (the grant filter's only), from the case
    counts ``per_grant`` and the programme activities in the period."""
    grants = _grants_with_targets(filters)
    if not grants:
        return []
    activities = _activity_counts(filters, [g.id for g in grants])
    result = []
    for grant in grants:
        counts = per_grant.get(grant.id, Totals())
        committed, delivered = counts.committed_minor, counts.delivered_minor
        actual = _target_actuals(counts, activities, grant.id)
        result.append(
            GrantProgress(
                grant_id=grant.id,
                number=grant.number,
                title=grant.title,
                currency=grant.currency,
                budget_minor=grant.total_budget_minor,
                committed_minor=committed,
                delivered_minor=delivered,
                sources=_sources(grant, committed, delivered),
                targets=[
                    TargetProgress(t.indicator, t.target_value, actual[t.indicator])
                    for t in grant.targets
                ],
            )
        )
    return result


def _grants_with_targets(filters: DashboardFilters) -> Sequence[Grant]:
    """The grants the figures are about (the grant filter's only), newest first, with their
    funding sources and targets."""
    stmt = (
        sa.select(Grant)
        .options(selectinload(Grant.funding_sources), selectinload(Grant.targets))
        .order_by(Grant.start_on.desc(), Grant.number)
    )
    if filters.grant_id is not None:
        stmt = stmt.where(Grant.id == filters.grant_id)
    return db.session.scalars(stmt).all()


def _activity_counts(
    filters: DashboardFilters, grant_ids: Sequence[int]
) -> dict[tuple[int, ActivityKind], tuple[int, int]]:
    """Per grant and kind, the programme activities in the period: events and people."""
    stmt = (
        sa.select(
            ProgrammeActivity.grant_id,
            ProgrammeActivity.kind,
            sa.func.count(ProgrammeActivity.id),
            sa.func.coalesce(sa.func.sum(ProgrammeActivity.people_count), 0),
        )
        .where(ProgrammeActivity.grant_id.in_(grant_ids))
        .group_by(ProgrammeActivity.grant_id, ProgrammeActivity.kind)
    )
    if filters.period_from is not None:
        stmt = stmt.where(ProgrammeActivity.occurred_on >= filters.period_from)
    if filters.period_to is not None:
        stmt = stmt.where(ProgrammeActivity.occurred_on <= filters.period_to)
    return {
        (gid, kind): (int(events), int(people))
        for gid, kind, events, people in db.session.execute(stmt)
    }


def _target_actuals(
    counts: Totals,
    activities: Mapping[tuple[int, ActivityKind], tuple[int, int]],
    grant_id: int,
) -> dict[TargetIndicator, int]:
    """What each target indicator of the grant has reached: returns and beneficiaries from
    the case counts; short stays count people, capacity-building counts events."""
    stays = activities.get((grant_id, ActivityKind.SHORT_STAY), (0, 0))
    events = activities.get((grant_id, ActivityKind.CAPACITY_EVENT), (0, 0))
    return {
        TargetIndicator.RETURNS: counts.returns,
        TargetIndicator.REINTEGRATION: counts.reintegration,
        TargetIndicator.SHORT_STAYS: stays[1],
        TargetIndicator.CAPACITY_EVENTS: events[0],
    }


def _sources(grant: Grant, committed: int, delivered: int) -> list[SourceSplit]:
    """Budget, committed, delivered and remaining per co-financing source: each amount split
    by the sources' shares (``figures.split``: the parts add up to the whole)."""
    shares = [source.share_bp for source in grant.funding_sources]
    parts = zip(
        grant.funding_sources,
        figures.split(grant.total_budget_minor, shares),
        figures.split(committed, shares),
        figures.split(delivered, shares),
        strict=True,
    )
    return [
        SourceSplit(source.name, source.share_bp, budget, spent, given, budget - spent)
        for source, budget, spent, given in parts
    ]


def grants() -> Sequence[Grant]:
    return db.session.scalars(sa.select(Grant).order_by(Grant.number)).all()


def filter_choices() -> dict[str, Any]:
    """Offices and partners to filter by: two statements."""
    offices = db.session.execute(
        sa.select(Office.id, Office.name, Office.kind, Office.country_code).order_by(Office.name)
    ).all()
    partners = db.session.execute(
        sa.select(Partner.id, Partner.name, Partner.country_code).order_by(Partner.name)
    ).all()
    return {"offices": offices, "partners": partners}
