"""Home-office monitoring: the dashboard's indicators and the outcome snapshot.

Heavy indicators are read from ``OutcomeCell`` rows that ``snapshot_outcomes`` pre-aggregates
set-based (one ``INSERT ... SELECT ... GROUP BY`` per measure) and replaces in one
transaction: cases, returns, arrivals and plans by status, spending committed and delivered
(each a pass over every case or plan line), sustainability scores by partner, support
category, country and grant, their distribution, days from return to plan, milestones on time
and closure reasons. Light ones are live SQL over indexed columns: open milestones by office
(the overdue work of the day), budgets, targets and programme activities. A fixed number of
statements either way, whatever the number of cases.

The cells hold the case dimensions (grant, host office, country, vulnerability, month of
return) and the support category, so every filter but a partner is answered from them exactly
(periods are whole months; see ``DashboardFilters.from_cells``). A partner filter, a period
that is not whole months or a database without a snapshot yet count cases live instead, with
the same figures (``tests/monitoring`` checks the two agree); a partner filter also counts the
time to plan, milestones on time and closures live (``_follow_up_figures`` is both the
snapshot's statement for them and the live one). Scores have cells per partner as well.

``DashboardFilters`` is the one parser of the dashboard's filters: the pages, the API and the
exports build it from the same query parameters, and it gives the case list's parameters for
every figure's drill-down link (``cases.drill``), so a figure and its list count alike.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from partners.models import Partner, SupportCategory, SupportOption
from reintegration_hub.auth.models import Office
from reintegration_hub.cases.drill import (
    DONE_TIMELINESS,
    HISTOGRAM_BUCKETS,
    PLAN_DAY_RANGES,
    CaseDrill,
    _bool,
    _date,
    _enum,
    _int,
    days_to_plan,
    drill_conditions,
    milestone_done,
    score_bucket,
)
from reintegration_hub.cases.models import CaseStatus, Returnee, VulnerabilityEntry
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.sql import constant_number, constant_text, month_start
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus, SustainabilitySurvey
from reintegration_hub.monitoring.models import (
    ActivityKind,
    Measure,
    OutcomeCell,
    OutcomeSnapshot,
    ProgrammeActivity,
)
from reintegration_hub.plans.models import LineStatus, Plan, PlanLine, PlanStatus
from reintegration_hub.programmes.models import Grant, TargetIndicator

#: Roles that see the dashboard (the home office); everyone else is refused.
MONITORING_ROLES = frozenset({Role.ADMIN, Role.PROGRAMME_MANAGER})
FULL_SHARE_BP = 10_000
#: Milestones come due by the snapshot day: done by the due date, done later, still open.
TIMELINESS = (*DONE_TIMELINESS, "open")
#: Months shown in the returns chart.
MONTHS_SHOWN = 24


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DashboardFilters:
    """The dashboard's filters. ``period_from``/``period_to`` select cases by return
    (departure) date; ``partner_id``/``category``: cases whose approved plan has such a line;
    ``vulnerable``: cases with (True) or without (False) a recorded vulnerability."""

    grant_id: int | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    host_office_id: int | None = None
    return_country_code: str | None = None
    partner_id: int | None = None
    category: SupportCategory | None = None
    vulnerable: bool | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> DashboardFilters:
        """From query parameters (the pages' and the API's names); what does not parse is
        ignored, so a hand-edited address shows the unfiltered figure instead of an error.
        ``from``/``to`` are days (YYYY-MM-DD) or months (YYYY-MM: from its first day, until
        its last)."""
        country = str(args.get("country") or "").strip().upper()
        return cls(
            grant_id=_int(_text(args.get("grant"))),
            period_from=_period_day(_text(args.get("from")), end=False),
            period_to=_period_day(_text(args.get("to")), end=True),
            host_office_id=_int(_text(args.get("host_office"))),
            return_country_code=country if len(country) == 2 and country.isalpha() else None,
            partner_id=_int(_text(args.get("partner"))),
            category=_enum(SupportCategory, _text(args.get("category"))),
            vulnerable=_bool(_text(args.get("vulnerable"))),
        )

    def query_args(self) -> dict[str, str]:
        """The query parameters that give these filters back through ``from_args``."""
        pairs = {
            "grant": self.grant_id,
            "from": self.period_from.isoformat() if self.period_from else None,
            "to": self.period_to.isoformat() if self.period_to else None,
            "host_office": self.host_office_id,
            "country": self.return_country_code,
            "partner": self.partner_id,
            "category": self.category.value if self.category else None,
            "vulnerable": None if self.vulnerable is None else ("1" if self.vulnerable else "0"),
        }
        return {key: str(value) for key, value in pairs.items() if value is not None}

    @property
    def by_service(self) -> bool:
        """A partner or category filter: case-level snapshot cells cannot answer it."""
        return self.partner_id is not None or self.category is not None

    @property
    def from_cells(self) -> bool:
        """Whether the snapshot's case cells answer these filters exactly: any filter but a
        partner (a case served by a partner in two categories would count twice), with a
        period of whole months (the cells' precision)."""
        return (
            self.partner_id is None
            and (self.period_from is None or self.period_from.day == 1)
            and (self.period_to is None or self.period_to == month_end(self.period_to))
        )

    def drill(self, **more: Any) -> CaseDrill:
        return CaseDrill(
            grant_id=self.grant_id,
            returned_from=self.period_from,
            returned_to=self.period_to,
            partner_id=self.partner_id,
            category=self.category,
            vulnerable=self.vulnerable,
            **more,
        )

    def case_args(self, status: CaseStatus | None = None, **more: Any) -> dict[str, str]:
        """The case list's query parameters for the cases behind a figure: these filters plus
        the figure's own (``status`` and any ``CaseDrill`` field)."""
        args = self.drill(**more).query_args()
        if self.host_office_id is not None:
            args["office_id"] = str(self.host_office_id)
        if self.return_country_code:
            args["country"] = self.return_country_code
        if status is not None:
            args["status"] = status.value
        return args

    def case_conditions(self) -> list[sa.ColumnElement[bool]]:
        """``WHERE`` conditions on ``Returnee``: the case list's, for the same cases."""
        where = drill_conditions(self.drill())
        if self.host_office_id is not None:
            where.append(Returnee.host_office_id == self.host_office_id)
        if self.return_country_code:
            where.append(Returnee.return_country_code == self.return_country_code)
        return where

    def cell_conditions(self, *, service: bool) -> list[sa.ColumnElement[bool]]:
        """``WHERE`` conditions on snapshot cells (the period at month precision)."""
        where: list[sa.ColumnElement[bool]] = []
        if self.grant_id is not None:
            where.append(OutcomeCell.grant_id == self.grant_id)
        if self.host_office_id is not None:
            where.append(OutcomeCell.host_office_id == self.host_office_id)
        if self.return_country_code:
            where.append(OutcomeCell.return_country_code == self.return_country_code)
        if self.vulnerable is not None:
            where.append(OutcomeCell.vulnerable.is_(self.vulnerable))
        if self.period_from is not None:
            where.append(OutcomeCell.return_month >= self.period_from.replace(day=1))
        if self.period_to is not None:
            where.append(OutcomeCell.return_month <= self.period_to)
        if service and self.partner_id is not None:
            where.append(OutcomeCell.partner_id == self.partner_id)
        if service and self.category is not None:
            where.append(OutcomeCell.category == self.category.value)
        return where


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _period_day(raw: str | None, *, end: bool) -> dt.date | None:
    """A day, or a month (YYYY-MM) as its first day or, with ``end``, its last."""
    day = _date(raw)
    if day is not None or raw is None:
        return day
    month = _date(f"{raw.strip()}-01") if len(raw.strip()) == 7 else None
    return month_end(month) if month is not None and end else month


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


def require_monitoring(actor: Actor) -> None:
    if actor.role not in MONITORING_ROLES:
        raise PermissionDenied(_l("Only the home office sees programme monitoring."))


# --- the dashboard's figures -----------------------------------------------------------------


@dataclass
class Totals:
    cases: int = 0
    returns: int = 0
    arrivals: int = 0
    reintegration: int = 0  # cases with an approved plan
    committed_minor: int = 0  # the approved plans' lines (EUR minor units)
    delivered_minor: int = 0  # of which delivered


@dataclass
class MonthCount:
    month: dt.date
    returns: int
    arrivals: int


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
class ScoreRow:
    """Mean scores (0-1) of ``n`` surveyed cases of a group, and how many fell in each band."""

    key: str
    label: str
    n: int
    economic: float
    social: float
    psychosocial: float
    composite: float
    bands: dict[str, int] = field(default_factory=dict)


@dataclass
class BucketCount:
    key: str
    n: int


@dataclass
class OfficeOnTime:
    office_id: int
    office: str
    on_time: int
    late: int
    open: int

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.open

    @property
    def rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


@dataclass
class Outcomes:
    """The heavy indicators, from the snapshot."""

    taken_at: dt.datetime | None = None
    as_of: dt.date | None = None
    by_partner: list[ScoreRow] = field(default_factory=list)
    by_category: list[ScoreRow] = field(default_factory=list)
    by_country: list[ScoreRow] = field(default_factory=list)
    by_grant: list[ScoreRow] = field(default_factory=list)
    overall: ScoreRow | None = None
    histogram: list[BucketCount] = field(default_factory=list)
    bands: list[BucketCount] = field(default_factory=list)
    plan_days: list[BucketCount] = field(default_factory=list)
    plan_days_mean: float | None = None
    on_time: list[OfficeOnTime] = field(default_factory=list)
    closures: list[BucketCount] = field(default_factory=list)
    #: a partner or category filter: no histogram (its cells have no such dimension)
    service_filtered: bool = False
    #: a partner filter: time to plan, milestones on time and closures counted live
    follow_up_live: bool = False

    @property
    def on_time_total(self) -> OfficeOnTime:
        return OfficeOnTime(
            0,
            "",
            sum(o.on_time for o in self.on_time),
            sum(o.late for o in self.on_time),
            sum(o.open for o in self.on_time),
        )


@dataclass
class Dashboard:
    filters: DashboardFilters
    totals: Totals
    months: list[MonthCount]
    plans_by_status: list[BucketCount]
    milestones: list[OfficeMilestones]
    grants: list[GrantProgress]
    outcomes: Outcomes
    #: when the case counts and spending are the snapshot's, its time; None when live
    counted_at: dt.datetime | None = None


@dataclass
class CaseCounts:
    """Cases, returns, arrivals, plans by status and spending: in all, per grant, per month."""

    totals: Totals = field(default_factory=Totals)
    per_grant: dict[int | None, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_month: dict[dt.date, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(
        self,
        grant_id: int | None,
        status: str,
        month: Any,
        counts: Sequence[Any],
    ) -> None:
        """One group of cases: ``counts`` are cases, returns, arrivals, committed, delivered."""
        cases, returns, arrivals, committed, delivered = (int(v or 0) for v in counts)
        for totals in (self.totals, self.per_grant[grant_id]):
            totals.cases += cases
            totals.returns += returns
            totals.arrivals += arrivals
            totals.committed_minor += committed
            totals.delivered_minor += delivered
            if status == PlanStatus.APPROVED.value:
                totals.reintegration += cases
        self.by_status[status] += cases
        if month is not None:
            counted = self.by_month[_as_date(month)]
            counted[0] += returns
            counted[1] += arrivals

    def plans(self) -> list[BucketCount]:
        order = [s.value for s in PlanStatus] + [NO_PLAN]
        return [BucketCount(key, self.by_status[key]) for key in order if self.by_status.get(key)]

    def months(self) -> list[MonthCount]:
        return [MonthCount(m, *self.by_month[m]) for m in sorted(self.by_month)[-MONTHS_SHOWN:]]


#: The plan-status bucket of a case without a plan.
NO_PLAN = "none"


def dashboard(filters: DashboardFilters, *, actor: Actor) -> Dashboard:
    """Every figure of the dashboard under ``filters``: a fixed number of statements."""
    require_monitoring(actor)
    snapshot = latest_snapshot()
    if snapshot is not None and filters.from_cells:
        counts, counted_at = cell_case_counts(filters), snapshot.taken_at
    else:
        counts, counted_at = case_counts(filters), None
    return Dashboard(
        filters=filters,
        totals=counts.totals,
        months=counts.months(),
        plans_by_status=counts.plans(),
        milestones=_open_milestones(filters),
        grants=_grant_progress(filters, counts.per_grant),
        outcomes=_outcomes(filters, snapshot),
        counted_at=counted_at,
    )


def _filtered_cases(filters: DashboardFilters) -> list[sa.ColumnElement[bool]]:
    return filters.case_conditions()


def case_counts(filters: DashboardFilters) -> CaseCounts:
    """The case counts and spending live: a pass over the cases, one over the approved plans'
    lines (committed, and delivered where a delivery is)."""
    month = month_start(Returnee.departed_on)
    stmt = (
        sa.select(
            Returnee.grant_id,
            Plan.status,
            month,
            sa.func.count(Returnee.id),
            sa.func.count(Returnee.departed_on),
            sa.func.count(Returnee.arrived_on),
        )
        .select_from(Returnee)
        .outerjoin(Plan, Plan.returnee_id == Returnee.id)
        .where(*_filtered_cases(filters))
        .group_by(Returnee.grant_id, Plan.status, month)
    )
    counts = CaseCounts()
    for grant_id, status, returned, *figures in db.session.execute(stmt):
        counts.add(grant_id, status.value if status else NO_PLAN, returned, [*figures, 0, 0])
    money_stmt = (
        sa.select(
            Returnee.grant_id,
            sa.func.coalesce(sa.func.sum(PlanLine.total_eur_minor), 0),
            sa.func.coalesce(sa.func.sum(Delivery.amount_eur_minor), 0),
        )
        .select_from(PlanLine)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .outerjoin(Delivery, Delivery.plan_line_id == PlanLine.id)
        .where(
            Plan.status == PlanStatus.APPROVED,
            PlanLine.status == LineStatus.ACTIVE,  # declined, expired, cancelled: not committed
            *_filtered_cases(filters),
        )
        .group_by(Returnee.grant_id)
    )
    for grant_id, committed, delivered in db.session.execute(money_stmt):
        counts.add(grant_id, PlanStatus.APPROVED.value, None, [0, 0, 0, committed, delivered])
    return counts


def cell_case_counts(filters: DashboardFilters) -> CaseCounts:
    """The case counts and spending from the snapshot's cells (``from_cells`` filters): one
    statement over a few thousand rows."""
    c = OutcomeCell
    measure = Measure.CASES_CATEGORY if filters.category is not None else Measure.CASES
    stmt = (
        sa.select(
            c.grant_id,
            c.bucket,
            c.return_month,
            sa.func.sum(c.n),
            sa.func.sum(c.returns),
            sa.func.sum(c.arrivals),
            sa.func.sum(c.committed_minor),
            sa.func.sum(c.delivered_minor),
        )
        .where(c.measure == measure, *filters.cell_conditions(service=True))
        .group_by(c.grant_id, c.bucket, c.return_month)
    )
    counts = CaseCounts()
    for grant_id, status, month, *figures in db.session.execute(stmt):
        counts.add(grant_id, str(status), month, figures)
    return counts


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _open_milestones(filters: DashboardFilters) -> list[OfficeMilestones]:
    """Due and overdue milestones per responsible office: one statement."""
    stmt = (
        # count(*): the index (status, office_id) answers alone, no row is read
        sa.select(Milestone.office_id, Office.name, Milestone.status, sa.func.count())
        .join(Office, Office.id == Milestone.office_id)
        .where(Milestone.status.in_(MILESTONE_OPEN))
        .group_by(Milestone.office_id, Office.name, Milestone.status)
    )
    conditions = _filtered_cases(filters)
    if conditions:
        stmt = stmt.join(Returnee, Returnee.id == Milestone.returnee_id).where(*conditions)
    offices: dict[int, OfficeMilestones] = {}
    for office_id, name, status, count in db.session.execute(stmt):
        row = offices.setdefault(office_id, OfficeMilestones(office_id, name, 0, 0))
        if status == MilestoneStatus.OVERDUE:
            row.overdue += count
        else:
            row.due += count
    return sorted(offices.values(), key=lambda o: (-o.overdue, -o.due, o.office))


MILESTONE_OPEN = (MilestoneStatus.DUE, MilestoneStatus.OVERDUE)


def _grant_progress(
    filters: DashboardFilters, per_grant: Mapping[int | None, Totals]
) -> list[GrantProgress]:
    """Budget, committed (approved plan lines), delivered, remaining and targets per grant."""
    grants_stmt = (
        sa.select(Grant)
        .options(selectinload(Grant.funding_sources), selectinload(Grant.targets))
        .order_by(Grant.start_on.desc(), Grant.number)
    )
    if filters.grant_id is not None:
        grants_stmt = grants_stmt.where(Grant.id == filters.grant_id)
    grants = db.session.scalars(grants_stmt).all()
    if not grants:
        return []
    ids = [g.id for g in grants]
    activity_stmt = (
        sa.select(
            ProgrammeActivity.grant_id,
            ProgrammeActivity.kind,
            sa.func.count(ProgrammeActivity.id),
            sa.func.coalesce(sa.func.sum(ProgrammeActivity.people_count), 0),
        )
        .where(ProgrammeActivity.grant_id.in_(ids))
        .group_by(ProgrammeActivity.grant_id, ProgrammeActivity.kind)
    )
    if filters.period_from is not None:
        activity_stmt = activity_stmt.where(ProgrammeActivity.occurred_on >= filters.period_from)
    if filters.period_to is not None:
        activity_stmt = activity_stmt.where(ProgrammeActivity.occurred_on <= filters.period_to)
    activities = {
        (gid, kind): (int(events), int(people))
        for gid, kind, events, people in db.session.execute(activity_stmt)
    }
    result = []
    for grant in grants:
        counts = per_grant.get(grant.id, Totals())
        committed, delivered = counts.committed_minor, counts.delivered_minor
        # short stays count people; capacity-building counts events
        stays = activities.get((grant.id, ActivityKind.SHORT_STAY), (0, 0))
        events = activities.get((grant.id, ActivityKind.CAPACITY_EVENT), (0, 0))
        actual = {
            TargetIndicator.RETURNS: counts.returns,
            TargetIndicator.REINTEGRATION: counts.reintegration,
            TargetIndicator.SHORT_STAYS: stays[1],
            TargetIndicator.CAPACITY_EVENTS: events[0],
        }
        result.append(
            GrantProgress(
                grant_id=grant.id,
                number=grant.number,
                title=grant.title,
                currency=grant.currency,
                budget_minor=grant.total_budget_minor,
                committed_minor=committed,
                delivered_minor=delivered,
                sources=[
                    _split(s.name, s.share_bp, grant.total_budget_minor, committed, delivered)
                    for s in grant.funding_sources
                ],
                targets=[
                    TargetProgress(t.indicator, t.target_value, actual[t.indicator])
                    for t in grant.targets
                ],
            )
        )
    return result


def share_of(amount_minor: int, share_bp: int) -> int:
    """``share_bp`` basis points of ``amount_minor``, rounded half up to a minor unit."""
    return (amount_minor * share_bp + FULL_SHARE_BP // 2) // FULL_SHARE_BP


def _split(name: str, share_bp: int, budget: int, committed: int, delivered: int) -> SourceSplit:
    return SourceSplit(
        name=name,
        share_bp=share_bp,
        budget_minor=share_of(budget, share_bp),
        committed_minor=share_of(committed, share_bp),
        delivered_minor=share_of(delivered, share_bp),
        remaining_minor=share_of(budget, share_bp) - share_of(committed, share_bp),
    )


# --- outcomes from the snapshot --------------------------------------------------------------


def latest_snapshot() -> OutcomeSnapshot | None:
    return db.session.scalars(
        sa.select(OutcomeSnapshot).order_by(OutcomeSnapshot.id.desc())
    ).first()


def outcomes(filters: DashboardFilters, *, actor: Actor) -> Outcomes:
    """The heavy indicators under ``filters`` from the latest snapshot's cells."""
    require_monitoring(actor)
    return _outcomes(filters, latest_snapshot())


def _outcomes(filters: DashboardFilters, snapshot: OutcomeSnapshot | None) -> Outcomes:
    """A fixed number of statements: one re-aggregation per breakdown, the names of the
    partners, offices and grants among them."""
    result = Outcomes(
        service_filtered=filters.by_service, follow_up_live=filters.partner_id is not None
    )
    if snapshot is None:
        return result
    result.taken_at, result.as_of = snapshot.taken_at, snapshot.as_of
    partner_filter, category_filter = filters.partner_id is not None, filters.category is not None
    # the cells that count each case once under these filters, per breakdown
    score_measure = {
        (False, False): Measure.SCORE,
        (True, False): Measure.SCORE_PARTNER,
        (False, True): Measure.SCORE_CATEGORY,
        (True, True): Measure.SCORE_SERVICE,
    }[(partner_filter, category_filter)]
    partner_measure = Measure.SCORE_SERVICE if category_filter else Measure.SCORE_PARTNER
    category_measure = Measure.SCORE_SERVICE if partner_filter else Measure.SCORE_CATEGORY
    c = OutcomeCell
    sums: tuple[Any, ...] = (
        sa.func.sum(c.n),
        sa.func.sum(c.sum_economic),
        sa.func.sum(c.sum_social),
        sa.func.sum(c.sum_psychosocial),
        sa.func.sum(c.sum_composite),
    )
    service = filters.cell_conditions(service=True)
    groups: dict[str, dict[str, list[float]]] = {
        name: defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
        for name in ("partner", "category", "country", "grant", "all")
    }
    bands: dict[str, dict[str, dict[str, int]]] = {name: defaultdict(dict) for name in groups}

    def add(group: str, key: str, band: Any, values: Sequence[Any]) -> None:
        acc = groups[group][key]
        for i, value in enumerate(values):
            acc[i] += value or 0
        n = int(values[0] or 0)
        bands[group][key][str(band)] = bands[group][key].get(str(band), 0) + n

    # one statement per breakdown, each grouping only what it shows; the partners' names
    # come with their rows (a list of a thousand ids to look them up by cost more)
    partner_names: dict[int, str] = {}
    per_partner = (
        sa.select(c.partner_id, c.band, *(s.label(f"s{i}") for i, s in enumerate(sums)))
        .where(c.measure == partner_measure, *service)
        .group_by(c.partner_id, c.band)
        .subquery("per_partner")
    )
    by_partner = sa.select(
        per_partner.c.partner_id,
        Partner.name,
        per_partner.c.band,
        *(per_partner.c[f"s{i}"] for i in range(len(sums))),
    ).outerjoin(Partner, Partner.id == per_partner.c.partner_id)
    for partner_id, name, band, *values in db.session.execute(by_partner):
        add("partner", str(partner_id), band, values)
        if partner_id is not None and name is not None:
            partner_names[int(partner_id)] = name
    by_category = (
        sa.select(c.category, c.band, *sums)
        .where(c.measure == category_measure, *service)
        .group_by(c.category, c.band)
    )
    for key, band, *values in db.session.execute(by_category):
        add("category", str(key), band, values)
    histogram: dict[str, int] = defaultdict(int)
    band_totals: dict[str, int] = defaultdict(int)
    scored = (
        sa.select(c.return_country_code, c.grant_id, c.bucket, c.band, *sums)
        .where(c.measure == score_measure)
        .where(*filters.cell_conditions(service=filters.by_service))
        .group_by(c.return_country_code, c.grant_id, c.bucket, c.band)
    )
    for country, grant_id, bucket, band, *values in db.session.execute(scored):
        add("country", str(country), band, values)
        add("grant", str(grant_id), band, values)
        add("all", "all", band, values)
        if bucket is not None:  # service cells have no histogram bucket
            histogram[str(bucket)] += int(values[0] or 0)
        band_totals[str(band)] += int(values[0] or 0)
    plan_days: dict[str, int] = defaultdict(int)
    days_sum, days_n = 0, 0
    on_time: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TIMELINESS, 0))
    closures: dict[str, int] = defaultdict(int)
    for measure, office_id, bucket, count, day_total in db.session.execute(
        _follow_up_statement(filters)
    ):
        n = int(count or 0)
        measure = FOLLOW_UP_BASE.get(Measure(measure), Measure(measure))
        if measure == Measure.PLAN_DAYS:
            plan_days[str(bucket)] += n
            days_sum += int(day_total or 0)
            days_n += n
        elif measure == Measure.MILESTONES and office_id is not None:
            on_time[office_id][str(bucket)] += n
        elif measure == Measure.CLOSURE:
            closures[str(bucket)] += n
    office_names = _office_names(set(on_time))
    grant_names = dict(db.session.execute(sa.select(Grant.id, Grant.number)).tuples().all())

    def score_rows(group: str, label: Any) -> list[ScoreRow]:
        made = [
            ScoreRow(
                key=key,
                label=label(key),
                n=int(acc[0]),
                economic=acc[1] / acc[0],
                social=acc[2] / acc[0],
                psychosocial=acc[3] / acc[0],
                composite=acc[4] / acc[0],
                bands=bands[group][key],
            )
            for key, acc in groups[group].items()
            if acc[0]
        ]
        return sorted(made, key=lambda r: (-r.composite, r.label))

    result.by_partner = score_rows("partner", lambda k: partner_names.get(int(k), k))
    result.by_category = score_rows("category", str)
    result.by_country = score_rows("country", str)
    result.by_grant = score_rows(
        "grant", lambda k: grant_names.get(int(k), "") if k != "None" else ""
    )
    overall = score_rows("all", str)
    result.overall = overall[0] if overall else None
    if not filters.by_service:
        result.histogram = [
            BucketCount(str(b), histogram.get(str(b), 0)) for b in range(HISTOGRAM_BUCKETS)
        ]
    result.bands = [BucketCount(k, v) for k, v in sorted(band_totals.items())]
    result.plan_days = [BucketCount(k, plan_days.get(k, 0)) for k, _last in PLAN_DAY_RANGES]
    result.plan_days_mean = days_sum / days_n if days_n else None
    result.on_time = sorted(
        (
            OfficeOnTime(oid, office_names.get(oid, str(oid)), **counts)
            for oid, counts in on_time.items()
        ),
        key=lambda o: o.office,
    )
    result.closures = sorted(
        (BucketCount(k, v) for k, v in closures.items()), key=lambda b: (-b.n, b.key)
    )
    return result


def _follow_up_statement(filters: DashboardFilters) -> sa.Select[Any] | sa.CompoundSelect:
    """Time to plan, milestones come due and closures under ``filters``: rows of measure,
    office, bucket, count and days. From the snapshot's cells (per category served under a
    category filter), or counted live under a partner filter (a partner's cases are few; the
    cells have no partner dimension for these)."""
    c = OutcomeCell
    if filters.partner_id is None:
        measures = list(FOLLOW_UP_CATEGORY)
        if filters.category is not None:
            measures = [FOLLOW_UP_CATEGORY[m] for m in measures]
        return (
            sa.select(c.measure, c.office_id, c.bucket, sa.func.sum(c.n), sa.func.sum(c.sum_days))
            .where(c.measure.in_(measures), *filters.cell_conditions(service=True))
            .group_by(c.measure, c.office_id, c.bucket)
        )
    cases = _case_dimensions(*filters.case_conditions())
    parts = []
    for measure, figures in _follow_up_figures(cases, [], now_utc().date()):
        live = figures.subquery()
        parts.append(
            sa.select(
                constant_text(measure.value),
                live.c.office_id,
                live.c.bucket,
                live.c.n,
                live.c.sum_days,
            )
        )
    return sa.union_all(*parts)


def _office_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Office.id, Office.name).where(Office.id.in_(ids)))
    return dict(rows.tuples().all())


# --- the snapshot ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotCounts:
    taken_at: dt.datetime
    as_of: dt.date
    cells: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.cells.values())


def _case_dimensions(*where: sa.ColumnElement[bool]) -> Any:
    """Every case (or those ``where`` selects) with the dashboard's case dimensions (a subquery
    to group by)."""
    vulnerable = sa.exists().where(VulnerabilityEntry.returnee_id == Returnee.id)
    return (
        sa.select(
            Returnee.id.label("case_id"),
            Returnee.grant_id.label("grant_id"),
            Returnee.host_office_id.label("host_office_id"),
            Returnee.return_country_code.label("return_country_code"),
            vulnerable.label("vulnerable"),
            month_start(Returnee.departed_on).label("return_month"),
            Returnee.departed_on.label("departed_on"),
            Returnee.arrived_on.label("arrived_on"),
        ).where(*where)
    ).subquery("cases")


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


#: The follow-up figures' measures per category served (``_follow_up_figures``).
FOLLOW_UP_CATEGORY = {
    Measure.PLAN_DAYS: Measure.PLAN_DAYS_CATEGORY,
    Measure.MILESTONES: Measure.MILESTONES_CATEGORY,
    Measure.CLOSURE: Measure.CLOSURE_CATEGORY,
}
FOLLOW_UP_BASE = {by_category: base for base, by_category in FOLLOW_UP_CATEGORY.items()}


def _follow_up_figures(
    cases: Any, group: Sequence[Any], as_of: dt.date
) -> list[tuple[Measure, sa.Select[Any]]]:
    """Days from return to plan approval, milestones come due by ``as_of`` (done on time,
    done late, still open) and closed cases by reason, over ``cases`` (``_case_dimensions``)
    grouped by ``group``. Each select gives the ``group`` columns, then ``office_id`` (the
    milestones' responsible office, else NULL), ``bucket``, ``n`` and ``sum_days``: the snapshot
    writes them into cells, a partner-filtered dashboard reads them live."""
    no_office = sa.cast(sa.null(), sa.Integer).label("office_id")
    no_days = sa.cast(sa.literal_column("0"), sa.BigInteger).label("sum_days")
    count = sa.func.count().label("n")
    days = days_to_plan(cases.c.departed_on)
    day_bucket = sa.case(
        *(
            (days <= constant_number(last), constant_text(key))
            for key, last in PLAN_DAY_RANGES
            if last is not None
        ),
        else_=constant_text(PLAN_DAY_RANGES[-1][0]),
    )
    plan_days = (
        sa.select(
            *group,
            no_office,
            day_bucket.label("bucket"),
            count,
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
    timeliness = sa.case(
        *((milestone_done(key), constant_text(key)) for key in DONE_TIMELINESS),
        else_=constant_text("open"),
    )
    milestones = (
        sa.select(
            *group,
            Milestone.office_id.label("office_id"),
            timeliness.label("bucket"),
            count,
            no_days,
        )
        .select_from(Milestone)
        .join(cases, cases.c.case_id == Milestone.returnee_id)
        .where(Milestone.due_on <= as_of, Milestone.status != MilestoneStatus.CANCELLED)
        .group_by(*group, Milestone.office_id, timeliness)
    )
    reason = sa.func.coalesce(Returnee.closure_reason, constant_text("unspecified"))
    closures = (
        sa.select(*group, no_office, reason.label("bucket"), count, no_days)
        .select_from(Returnee)
        .join(cases, cases.c.case_id == Returnee.id)
        .where(Returnee.status == CaseStatus.CLOSED)
        .group_by(*group, reason)
    )
    return [
        (Measure.PLAN_DAYS, plan_days),
        (Measure.MILESTONES, milestones),
        (Measure.CLOSURE, closures),
    ]


def snapshot_outcomes(as_of: dt.date, *, actor: Actor) -> SnapshotCounts:
    """Replace the outcome snapshot with one computed now, as of ``as_of``.

    Set-based: the previous cells and header are deleted and one ``INSERT ... SELECT ...
    GROUP BY`` per measure writes the new ones, every row stamped with the same time, in the
    caller's transaction: readers see the old snapshot or the new one, never a mix.
    """
    taken_at = now_utc()
    db.session.execute(sa.delete(OutcomeCell))
    db.session.execute(sa.delete(OutcomeSnapshot))
    cases = _case_dimensions()
    dims = [cases.c[name] for name in DIMENSIONS]
    stamp = sa.literal(taken_at, OutcomeCell.snapshot_at.type)
    counts: dict[str, int] = {}

    def insert(measure: Measure, select: sa.Select[Any], columns: Sequence[str]) -> None:
        target = ["snapshot_at", "measure", *DIMENSIONS, *columns]
        defaults = {
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
        missing = [name for name in defaults if name not in columns]
        select = select.add_columns(*(sa.literal(defaults[name]) for name in missing))
        db.session.execute(sa.insert(OutcomeCell).from_select([*target, *missing], select))
        counts[measure.value] = int(
            db.session.scalar(
                sa.select(sa.func.count(OutcomeCell.id)).where(OutcomeCell.measure == measure)
            )
            or 0
        )

    # every case by plan status, with the approved plans' money
    money = (
        sa.select(
            PlanLine.plan_id.label("plan_id"),
            sa.func.sum(PlanLine.total_eur_minor).label("committed"),
            sa.func.coalesce(sa.func.sum(Delivery.amount_eur_minor), 0).label("delivered"),
        )
        .outerjoin(Delivery, Delivery.plan_line_id == PlanLine.id)
        .where(PlanLine.status == LineStatus.ACTIVE)
        .group_by(PlanLine.plan_id)
        .subquery("money")
    )
    approved = Plan.status == PlanStatus.APPROVED

    def approved_sum(column: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((approved, column), else_=0)), 0)

    case_figures = [
        sa.func.count(),
        sa.func.count(cases.c.departed_on),
        sa.func.count(cases.c.arrived_on),
        approved_sum(money.c.committed),
        approved_sum(money.c.delivered),
    ]
    case_columns = ["n", "returns", "arrivals", "committed_minor", "delivered_minor"]
    status = sa.func.coalesce(Plan.status, constant_text(NO_PLAN))
    insert(
        Measure.CASES,
        sa.select(stamp, sa.literal(Measure.CASES.value), *dims, status, *case_figures)
        .select_from(
            cases.outerjoin(Plan, Plan.returnee_id == cases.c.case_id).outerjoin(
                money, money.c.plan_id == Plan.id
            )
        )
        .group_by(*dims, status),
        ["bucket", *case_columns],
    )
    categories = _served(("category",))
    insert(
        Measure.CASES_CATEGORY,
        sa.select(
            stamp,
            sa.literal(Measure.CASES_CATEGORY.value),
            *dims,
            categories.c.category,
            constant_text(PlanStatus.APPROVED.value),
            *case_figures,
        )
        .select_from(
            categories.join(cases, cases.c.case_id == categories.c.case_id)
            .join(Plan, Plan.returnee_id == categories.c.case_id)
            .join(money, money.c.plan_id == Plan.id)
        )
        .group_by(*dims, categories.c.category),
        ["category", "bucket", *case_columns],
    )
    # latest survey of each case (highest taken_on, then id)
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
    latest = sa.select(ranked).where(ranked.c.rank == 1).subquery("latest")
    bucket = score_bucket(latest.c.composite)
    score_sums = [
        sa.func.count(),
        sa.func.sum(latest.c.economic),
        sa.func.sum(latest.c.social),
        sa.func.sum(latest.c.psychosocial),
        sa.func.sum(latest.c.composite),
    ]
    score_columns = ["bucket", "band", "n", "sum_economic", "sum_social", "sum_psychosocial"]
    score_columns.append("sum_composite")
    insert(
        Measure.SCORE,
        sa.select(stamp, sa.literal(Measure.SCORE.value), *dims, bucket, latest.c.band, *score_sums)
        .select_from(latest.join(cases, cases.c.case_id == latest.c.returnee_id))
        .group_by(*dims, bucket, latest.c.band),
        score_columns,
    )
    # each case once per partner, per category, per partner and category served; no
    # histogram bucket here: a partner's or category's cells stay few (bands suffice)
    for measure, by in SERVICE_SCORES.items():
        served = _served(by)
        keys = [served.c[name] for name in by]
        insert(
            measure,
            sa.select(stamp, sa.literal(measure.value), *dims, *keys, latest.c.band, *score_sums)
            .select_from(
                latest.join(cases, cases.c.case_id == latest.c.returnee_id).join(
                    served, served.c.case_id == latest.c.returnee_id
                )
            )
            .group_by(*dims, *keys, latest.c.band),
            [*by, *score_columns[1:]],
        )
    # time to plan, milestones come due and closures: per case, and per category served
    by_category = (
        sa.select(*cases.c, categories.c.category)
        .join(categories, categories.c.case_id == cases.c.case_id)
        .subquery("cases_by_category")
    )
    for source, extra in ((cases, []), (by_category, ["category"])):
        group = [source.c[name] for name in (*DIMENSIONS, *extra)]
        for measure, figures in _follow_up_figures(source, group, as_of):
            measure = FOLLOW_UP_CATEGORY[measure] if extra else measure
            cells = figures.subquery()
            insert(
                measure,
                sa.select(stamp, sa.literal(measure.value), *cells.c),
                [*extra, "office_id", "bucket", "n", "sum_days"],
            )
    header = OutcomeSnapshot(taken_at=taken_at, as_of=as_of, cell_count=sum(counts.values()))
    record_audit(
        "monitoring.snapshot",
        header,
        actor=actor,
        changes={"as_of": [None, as_of.isoformat()], "cells": [None, counts]},
    )
    return SnapshotCounts(taken_at=taken_at, as_of=as_of, cells=counts)


# --- programme activities --------------------------------------------------------------------


def record_activity(
    grant_id: int,
    kind: ActivityKind,
    occurred_on: dt.date,
    people_count: int,
    note: str = "",
    *,
    actor: Actor,
) -> ProgrammeActivity:
    """A short stay (people housed before departure) or a capacity-building event toward the
    grant's targets."""
    if actor.role not in MONITORING_ROLES:
        raise PermissionDenied(_l("Only the home office records programme activities."))
    if db.session.get(Grant, grant_id) is None:
        raise NotFound(_l("Not found."))
    errors: dict[str, list[Any]] = {}
    if people_count < 0 or people_count > 100_000:
        errors["people_count"] = [_l("Give a number of people from 0 to 100,000.")]
    if occurred_on > now_utc().date():
        errors["occurred_on"] = [_l("The date cannot be in the future.")]
    if len(note) > 500:
        errors["note"] = [_l("At most 500 characters.")]
    if errors:
        raise InvalidInput(_l("Some details are not valid."), field_errors=errors)
    activity = ProgrammeActivity(
        grant_id=grant_id,
        kind=kind,
        occurred_on=occurred_on,
        people_count=people_count,
        note=note.strip(),
        recorded_by_id=actor.id,
    )
    record_audit("activity.record", activity, actor=actor)
    return activity


def list_activities(
    *, actor: Actor, grant_id: int | None = None, limit: int = 100
) -> Sequence[ProgrammeActivity]:
    require_monitoring(actor)
    stmt = sa.select(ProgrammeActivity).order_by(
        ProgrammeActivity.occurred_on.desc(), ProgrammeActivity.id.desc()
    )
    if grant_id is not None:
        stmt = stmt.where(ProgrammeActivity.grant_id == grant_id)
    return db.session.scalars(stmt.limit(limit)).all()


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
