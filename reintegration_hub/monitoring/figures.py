"""The programme's figures, each defined once, for every place that shows them.

The dashboard (counted live or read from the snapshot's cells), the donor report (page and
XLSX), the dashboard's downloads, the API (``/api/v1/monitoring/...``) and the case lists
behind the figures (``cases.drill``) all count with the expressions and statements below.
Counted as of a day (``as_of``): today when counted live, the snapshot's day in its cells.

- **Case**: a returnee's case, whatever its state. A period selects cases by their return
  (departure) date, planned or past.
- **Return**: a case whose departure has happened: its departure date is on or before the
  as-of day, and it was not closed before that date (a case closed, for instance withdrawn or
  no longer eligible, before its planned departure never returned). A departure planned for
  next week is no return yet.
- **Arrival**: a return whose arrival date is on or before the as-of day.
- **Reintegration beneficiary**: a return whose reintegration plan is approved.
- **Vulnerable**: a case with at least one recorded vulnerability; the vulnerable share is
  the vulnerable returns' share of the returns.
- **Committed** (EUR): per line of an approved plan, what the grant stands to pay: the line's
  total, or what was delivered if more; once the case is closed, or the line no longer in
  effect (declined, expired, cancelled by an amendment, or only proposed by one), what was
  delivered only (the rest is released). Counted whether or not the returnee has departed
  yet: a plan approved before the departure commits its money.
- **Delivered** (EUR): the recorded deliveries (every instalment) of the approved plans'
  lines.
- **Remaining**: the budget less what is committed.
- **Spending by co-financing source**: each amount split by the grant's shares, in whole
  cents that add up to the amount (``split``).

A line may be delivered in several instalments: its deliveries are summed per line first
(``line_deliveries``), then joined to it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from reintegration_hub.cases.models import CaseStatus, Returnee, VulnerabilityEntry
from reintegration_hub.core.sql import constant_text, month_start, utc_day
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.monitoring.models import Measure, OutcomeCell
from reintegration_hub.plans.models import LineStatus, Plan, PlanLine, PlanStatus

FULL_SHARE_BP = 10_000
#: The plan-status bucket of a case without a plan.
NO_PLAN = "none"
#: Months shown in the returns chart.
MONTHS_SHOWN = 24


# --- the definitions -------------------------------------------------------------------------


def vulnerable() -> sa.ColumnElement[bool]:
    """``Returnee`` has a recorded vulnerability."""
    return sa.exists().where(VulnerabilityEntry.returnee_id == Returnee.id)


def returned(
    as_of: dt.date,
    departed_on: Any = Returnee.departed_on,
    status: Any = Returnee.status,
    closed_at: Any = Returnee.closed_at,
) -> sa.ColumnElement[bool]:
    """The case had returned by ``as_of``: departed on or before it, and not closed before its
    departure (closed on the day of departure or later still counts). The columns default to
    ``Returnee``'s; the snapshot passes those of its case subquery."""
    return sa.and_(
        departed_on <= as_of,
        sa.or_(status != CaseStatus.CLOSED, closed_at.is_(None), utc_day(closed_at) >= departed_on),
    )


def arrived(as_of: dt.date, cases: Any) -> sa.ColumnElement[bool]:
    """A return (``returned``) that had arrived by ``as_of``; ``cases``: ``case_rows``."""
    return sa.and_(_returned(as_of, cases), cases.c.arrived_on <= as_of)


def _returned(as_of: dt.date, cases: Any) -> sa.ColumnElement[bool]:
    return returned(as_of, cases.c.departed_on, cases.c.status, cases.c.closed_at)


def line_deliveries() -> Any:
    """What was delivered on each plan line that has deliveries (``plan_line_id``,
    ``eur_minor``, all its instalments), to outer-join to ``PlanLine`` without counting a
    line once per instalment."""
    return (
        sa.select(
            Delivery.plan_line_id.label("plan_line_id"),
            sa.func.sum(Delivery.amount_eur_minor).label("eur_minor"),
        )
        .group_by(Delivery.plan_line_id)
        .subquery("delivered")
    )


def line_committed(case_status: Any, deliveries: Any) -> sa.ColumnElement[int]:
    """What one approved plan line commits (see the module docstring), over ``PlanLine``
    outer-joined to ``deliveries`` (``line_deliveries``); ``case_status`` is its case's status
    column."""
    delivered = deliveries.c.eur_minor
    released = sa.or_(case_status == CaseStatus.CLOSED, PlanLine.status != LineStatus.ACTIVE)
    return sa.case(
        (released, sa.func.coalesce(delivered, 0)),
        (delivered > PlanLine.total_eur_minor, delivered),
        else_=PlanLine.total_eur_minor,
    )


def line_delivered(deliveries: Any) -> sa.ColumnElement[int]:
    """What was delivered on one plan line (0 when nothing was), over ``PlanLine``
    outer-joined to ``deliveries`` (``line_deliveries``)."""
    return sa.func.coalesce(deliveries.c.eur_minor, 0)


def split(amount_minor: int, shares_bp: Sequence[int]) -> list[int]:
    """``amount_minor`` split by ``shares_bp`` (basis points, in order) in whole minor units
    that add up to the amount's covered share rounded half up (the amount itself when the
    shares make 100 %): each part rounded down, then the units left over go one each to the
    largest remainders (the first share on a tie)."""
    exact = [amount_minor * share for share in shares_bp]
    parts = [value // FULL_SHARE_BP for value in exact]
    whole = (amount_minor * sum(shares_bp) + FULL_SHARE_BP // 2) // FULL_SHARE_BP
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] % FULL_SHARE_BP), i))
    for i in by_remainder[: whole - sum(parts)]:
        parts[i] += 1
    return parts


# --- the statements that count them ----------------------------------------------------------


def case_rows(*where: sa.ColumnElement[bool], with_vulnerable: bool = True) -> Any:
    """Every case (or those ``where`` selects, conditions on ``Returnee``) with the columns
    the figures read and the dashboard's case dimensions: a subquery to group by."""
    columns: list[Any] = [
        Returnee.id.label("case_id"),
        Returnee.grant_id.label("grant_id"),
        Returnee.host_office_id.label("host_office_id"),
        Returnee.return_country_code.label("return_country_code"),
        month_start(Returnee.departed_on).label("return_month"),
        Returnee.departed_on.label("departed_on"),
        Returnee.arrived_on.label("arrived_on"),
        Returnee.status.label("status"),
        Returnee.closed_at.label("closed_at"),
    ]
    if with_vulnerable:
        columns.append(vulnerable().label("vulnerable"))
    return sa.select(*columns).where(*where).subquery("cases")


def case_figures(as_of: dt.date, cases: Any) -> list[sa.ColumnElement[int]]:
    """Aggregates over ``cases`` (``case_rows``, one row per case): cases, returns,
    arrivals."""
    return [
        sa.func.count().label("cases"),
        sa.func.count(sa.case((_returned(as_of, cases), 1))).label("returns"),
        sa.func.count(sa.case((arrived(as_of, cases), 1))).label("arrivals"),
    ]


#: The case figures' columns in the snapshot's cells, in ``case_figures`` order, then money.
CELL_FIGURES = ("n", "returns", "arrivals", "committed_minor", "delivered_minor")


def plan_money() -> Any:
    """Committed and delivered per approved plan (``plan_id``, ``committed``, ``delivered``):
    a subquery to join to cases, for the snapshot."""
    deliveries = line_deliveries()
    return (
        sa.select(
            PlanLine.plan_id.label("plan_id"),
            sa.func.sum(line_committed(Returnee.status, deliveries)).label("committed"),
            sa.func.sum(line_delivered(deliveries)).label("delivered"),
        )
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .outerjoin(deliveries, deliveries.c.plan_line_id == PlanLine.id)
        .where(Plan.status == PlanStatus.APPROVED)
        .group_by(PlanLine.plan_id)
        .subquery("money")
    )


def live_case_statement(
    as_of: dt.date, where: Sequence[sa.ColumnElement[bool]], by: Sequence[str]
) -> sa.Select[Any]:
    """Rows of the ``by`` case dimensions, plan status, cases, returns and arrivals, counted
    live over the cases ``where`` selects."""
    cases = case_rows(*where, with_vulnerable="vulnerable" in by)
    keys = [cases.c[name] for name in by]
    return (
        sa.select(*keys, Plan.status, *case_figures(as_of, cases))
        .select_from(cases)
        .outerjoin(Plan, Plan.returnee_id == cases.c.case_id)
        .group_by(*keys, Plan.status)
    )


def live_money_statement(where: Sequence[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """Rows of grant, committed and delivered, counted live over the approved plans' lines of
    the cases ``where`` selects (one pass over the lines, no per-plan grouping)."""
    deliveries = line_deliveries()
    return (
        sa.select(
            Returnee.grant_id,
            sa.func.coalesce(sa.func.sum(line_committed(Returnee.status, deliveries)), 0),
            sa.func.coalesce(sa.func.sum(line_delivered(deliveries)), 0),
        )
        .select_from(PlanLine)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .outerjoin(deliveries, deliveries.c.plan_line_id == PlanLine.id)
        .where(Plan.status == PlanStatus.APPROVED, *where)
        .group_by(Returnee.grant_id)
    )


def cell_statement(
    measure: Measure, where: Sequence[sa.ColumnElement[bool]], by: Sequence[str]
) -> sa.Select[Any]:
    """The same rows as the two live statements together, from the snapshot's case cells
    (``measure``: ``CASES``, or ``CASES_CATEGORY`` under a category filter)."""
    c = OutcomeCell
    keys = [getattr(c, name) for name in by]
    return (
        sa.select(*keys, c.bucket, *(sa.func.sum(getattr(c, name)) for name in CELL_FIGURES))
        .where(c.measure == measure, *where)
        .group_by(*keys, c.bucket)
    )


def snapshot_case_cells(as_of: dt.date, cases: Any, group: Sequence[Any]) -> sa.Select[Any]:
    """The ``CASES`` cells' rows: ``group`` (the cell dimensions of ``cases``), plan status,
    then ``CELL_FIGURES`` as of ``as_of``."""
    money = plan_money()
    status = sa.func.coalesce(Plan.status, constant_text(NO_PLAN))
    return (
        sa.select(*group, status.label("bucket"), *case_figures(as_of, cases), *_money_sums(money))
        .select_from(
            cases.outerjoin(Plan, Plan.returnee_id == cases.c.case_id).outerjoin(
                money, money.c.plan_id == Plan.id
            )
        )
        .group_by(*group, status)
    )


def snapshot_category_cells(
    as_of: dt.date, cases: Any, served: Any, group: Sequence[Any]
) -> sa.Select[Any]:
    """The ``CASES_CATEGORY`` cells' rows: each case once per category its approved plan
    serves (``served``: ``case_id``, ``category``), with its whole plan's money."""
    money = plan_money()
    return (
        sa.select(
            *group,
            served.c.category,
            constant_text(PlanStatus.APPROVED.value).label("bucket"),
            *case_figures(as_of, cases),
            *_money_sums(money),
        )
        .select_from(
            served.join(cases, cases.c.case_id == served.c.case_id)
            .join(Plan, Plan.returnee_id == served.c.case_id)
            .join(money, money.c.plan_id == Plan.id)
        )
        .group_by(*group, served.c.category)
    )


def _money_sums(money: Any) -> list[Any]:
    return [
        sa.func.coalesce(sa.func.sum(money.c.committed), 0).label("committed"),
        sa.func.coalesce(sa.func.sum(money.c.delivered), 0).label("delivered"),
    ]


# --- what the rows add up to -----------------------------------------------------------------


@dataclass
class Totals:
    cases: int = 0
    returns: int = 0
    arrivals: int = 0
    reintegration: int = 0  # reintegration beneficiaries: returns with an approved plan
    committed_minor: int = 0  # EUR minor units
    delivered_minor: int = 0


@dataclass
class ReturnsRow:
    """Returns, reintegration beneficiaries and vulnerable returns of a group of cases (a
    country of return, or all of them)."""

    country_code: str
    returns: int = 0
    reintegration: int = 0
    vulnerable: int = 0

    @property
    def vulnerable_share(self) -> float | None:
        """The vulnerable returns' share of the returns (None without returns)."""
        return self.vulnerable / self.returns if self.returns else None


@dataclass
class MonthCount:
    month: dt.date
    returns: int
    arrivals: int


@dataclass
class BucketCount:
    key: str
    n: int


@dataclass
class CaseCounts:
    """Cases, returns, arrivals, beneficiaries and spending: in all, per grant, per plan
    status, per month of return and per country of return (the groupings the rows carry).
    ``as_of``: the day returns count up to; ``counted_at``: the snapshot's time when read from
    its cells, else None."""

    as_of: dt.date
    counted_at: dt.datetime | None = None
    totals: Totals = field(default_factory=Totals)
    per_grant: dict[int | None, Totals] = field(default_factory=lambda: defaultdict(Totals))
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_month: dict[dt.date, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_country: dict[str, ReturnsRow] = field(default_factory=dict)

    def add(self, keys: Mapping[str, Any], status: Any, figures: Sequence[Any]) -> None:
        """One group of cases: ``keys`` its case dimensions, ``status`` its plan status (None:
        no plan), ``figures`` cases, returns, arrivals, committed, delivered."""
        bucket = str(getattr(status, "value", status)) if status is not None else NO_PLAN
        cases, returns, arrivals, committed, delivered = (int(v or 0) for v in figures)
        beneficiaries = returns if bucket == PlanStatus.APPROVED.value else 0
        for totals in (self.totals, self.per_grant[keys.get("grant_id")]):
            totals.cases += cases
            totals.returns += returns
            totals.arrivals += arrivals
            totals.reintegration += beneficiaries
            totals.committed_minor += committed
            totals.delivered_minor += delivered
        self.by_status[bucket] += cases
        month = keys.get("return_month")
        if month is not None and (returns or arrivals):
            counted = self.by_month[_as_date(month)]
            counted[0] += returns
            counted[1] += arrivals
        country = keys.get("return_country_code")
        if country is not None and returns:
            row = self.by_country.setdefault(str(country), ReturnsRow(str(country)))
            row.returns += returns
            row.reintegration += beneficiaries
            row.vulnerable += returns if keys.get("vulnerable") else 0

    def plans(self) -> list[BucketCount]:
        order = [s.value for s in PlanStatus] + [NO_PLAN]
        return [BucketCount(key, self.by_status[key]) for key in order if self.by_status.get(key)]

    def months(self) -> list[MonthCount]:
        return [MonthCount(m, *self.by_month[m]) for m in sorted(self.by_month)[-MONTHS_SHOWN:]]

    def countries(self) -> list[ReturnsRow]:
        """Per country of return, most returns first."""
        return sorted(self.by_country.values(), key=lambda r: (-r.returns, r.country_code))


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
