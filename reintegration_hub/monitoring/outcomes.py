"""The outcome indicators, read from the snapshot's cells: sustainability scores by partner,
support category, country and grant, their distribution and bands, days from return to plan,
milestones done on time by office, and closure reasons.

One re-aggregation of the cells per breakdown. Scores have cells per partner and category as
well, so every filter is answered from cells; under a partner filter the time to plan,
milestones on time and closures are counted live instead (``snapshot.follow_up_figures`` is
both the snapshot's statement for them and the live one).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from partners.models import Partner
from reintegration_hub.auth.models import Office
from reintegration_hub.cases.drill import DONE_TIMELINESS, HISTOGRAM_BUCKETS, PLAN_DAY_RANGES
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.memo import remembered
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.sql import constant_text
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import figures
from reintegration_hub.monitoring.figures import BucketCount
from reintegration_hub.monitoring.filters import DashboardFilters, require_monitoring
from reintegration_hub.monitoring.models import Measure, OutcomeCell, OutcomeSnapshot
from reintegration_hub.monitoring.snapshot import (
    FOLLOW_UP_BASE,
    FOLLOW_UP_CATEGORY,
    follow_up_figures,
    latest_snapshot,
)
from reintegration_hub.programmes.models import Grant

#: Milestones come due by the snapshot day: done by the due date, done later, still open.
TIMELINESS = (*DONE_TIMELINESS, "open")


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


def outcomes(filters: DashboardFilters, *, actor: Actor) -> Outcomes:
    """The heavy indicators under ``filters`` from the latest snapshot's cells."""
    require_monitoring(actor)
    return read_outcomes(filters, latest_snapshot())


def read_outcomes(filters: DashboardFilters, snapshot: OutcomeSnapshot | None) -> Outcomes:
    """A fixed number of statements: one re-aggregation per breakdown, the names of the
    partners, offices and grants among them; remembered per snapshot and filters for
    ``MEMO_SECONDS`` (``core.memo``: a snapshot's cells never change)."""
    if snapshot is None:
        return _outcomes(filters)
    return remembered(
        "outcomes",
        (snapshot.id, snapshot.taken_at, filters),
        lambda: _read_outcomes(filters, snapshot),
    )


def _outcomes(filters: DashboardFilters) -> Outcomes:
    return Outcomes(
        service_filtered=filters.by_service, follow_up_live=filters.partner_id is not None
    )


def _read_outcomes(filters: DashboardFilters, snapshot: OutcomeSnapshot) -> Outcomes:
    result = _outcomes(filters)
    result.taken_at, result.as_of = snapshot.taken_at, snapshot.as_of
    scores = _ScoreGroups()
    partner_names = _add_partner_scores(scores, filters)
    _add_category_scores(scores, filters)
    histogram, band_totals = _add_case_scores(scores, filters)
    _add_follow_up(result, filters)
    grant_names = dict(db.session.execute(sa.select(Grant.id, Grant.number)).tuples().all())
    result.by_partner = scores.rows("partner", lambda k: partner_names.get(int(k), k))
    result.by_category = scores.rows("category", str)
    result.by_country = scores.rows("country", str)
    result.by_grant = scores.rows(
        "grant", lambda k: grant_names.get(int(k), "") if k != "None" else ""
    )
    overall = scores.rows("all", str)
    result.overall = overall[0] if overall else None
    if not filters.by_service:
        result.histogram = [
            BucketCount(str(b), histogram.get(str(b), 0)) for b in range(HISTOGRAM_BUCKETS)
        ]
    result.bands = [BucketCount(k, v) for k, v in sorted(band_totals.items())]
    return result


#: The breakdowns of the scores (``all``: every surveyed case under the filters).
SCORE_GROUPS = ("partner", "category", "country", "grant", "all")


class _ScoreGroups:
    """Per breakdown and key: the surveyed cases and the sums of their economic, social,
    psychosocial and composite scores, and the cases per band; the means come at the end
    (``rows``), so cells are summed first whatever their number."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[str, list[float]]] = {
            name: defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0]) for name in SCORE_GROUPS
        }
        self.bands: dict[str, dict[str, dict[str, int]]] = {
            name: defaultdict(dict) for name in SCORE_GROUPS
        }

    def add(self, group: str, key: str, band: Any, values: Sequence[Any]) -> None:
        acc = self.sums[group][key]
        for i, value in enumerate(values):
            acc[i] += value or 0
        n = int(values[0] or 0)
        self.bands[group][key][str(band)] = self.bands[group][key].get(str(band), 0) + n

    def rows(self, group: str, label: Callable[[str], str]) -> list[ScoreRow]:
        """The group's mean scores per key, best composite first."""
        made = [
            ScoreRow(
                key=key,
                label=label(key),
                n=int(acc[0]),
                economic=acc[1] / acc[0],
                social=acc[2] / acc[0],
                psychosocial=acc[3] / acc[0],
                composite=acc[4] / acc[0],
                bands=self.bands[group][key],
            )
            for key, acc in self.sums[group].items()
            if acc[0]
        ]
        return sorted(made, key=lambda r: (-r.composite, r.label))


def _score_sums() -> tuple[Any, ...]:
    """The cells' surveyed cases and score sums, summed, in ``_ScoreGroups.add``'s order."""
    c = OutcomeCell
    return (
        sa.func.sum(c.n),
        sa.func.sum(c.sum_economic),
        sa.func.sum(c.sum_social),
        sa.func.sum(c.sum_psychosocial),
        sa.func.sum(c.sum_composite),
    )


def _score_measures(filters: DashboardFilters) -> tuple[Measure, Measure, Measure]:
    """The cells that count each case once under ``filters``: for the scores by country,
    grant and overall, by partner, and by category."""
    partner_filter, category_filter = filters.partner_id is not None, filters.category is not None
    per_case = {
        (False, False): Measure.SCORE,
        (True, False): Measure.SCORE_PARTNER,
        (False, True): Measure.SCORE_CATEGORY,
        (True, True): Measure.SCORE_SERVICE,
    }[(partner_filter, category_filter)]
    per_partner = Measure.SCORE_SERVICE if category_filter else Measure.SCORE_PARTNER
    per_category = Measure.SCORE_SERVICE if partner_filter else Measure.SCORE_CATEGORY
    return per_case, per_partner, per_category


def _add_partner_scores(scores: _ScoreGroups, filters: DashboardFilters) -> dict[int, str]:
    """The scores by partner; returns the partners' names, which come with their rows (a
    list of a thousand ids to look them up by cost more)."""
    c = OutcomeCell
    sums = _score_sums()
    per_partner = (
        sa.select(c.partner_id, c.band, *(s.label(f"s{i}") for i, s in enumerate(sums)))
        .where(c.measure == _score_measures(filters)[1], *filters.cell_conditions(service=True))
        .group_by(c.partner_id, c.band)
        .subquery("per_partner")
    )
    by_partner = sa.select(
        per_partner.c.partner_id,
        Partner.name,
        per_partner.c.band,
        *(per_partner.c[f"s{i}"] for i in range(len(sums))),
    ).outerjoin(Partner, Partner.id == per_partner.c.partner_id)
    names: dict[int, str] = {}
    for partner_id, name, band, *values in db.session.execute(by_partner):
        scores.add("partner", str(partner_id), band, values)
        if partner_id is not None and name is not None:
            names[int(partner_id)] = name
    return names


def _add_category_scores(scores: _ScoreGroups, filters: DashboardFilters) -> None:
    c = OutcomeCell
    by_category = (
        sa.select(c.category, c.band, *_score_sums())
        .where(c.measure == _score_measures(filters)[2], *filters.cell_conditions(service=True))
        .group_by(c.category, c.band)
    )
    for key, band, *values in db.session.execute(by_category):
        scores.add("category", str(key), band, values)


def _add_case_scores(
    scores: _ScoreGroups, filters: DashboardFilters
) -> tuple[dict[str, int], dict[str, int]]:
    """The scores by country, by grant and overall, each case once; returns the surveyed
    cases per tenth of the composite score (none from service cells) and per band."""
    c = OutcomeCell
    histogram: dict[str, int] = defaultdict(int)
    band_totals: dict[str, int] = defaultdict(int)
    scored = (
        sa.select(c.return_country_code, c.grant_id, c.bucket, c.band, *_score_sums())
        .where(c.measure == _score_measures(filters)[0])
        .where(*filters.cell_conditions(service=filters.by_service))
        .group_by(c.return_country_code, c.grant_id, c.bucket, c.band)
    )
    for country, grant_id, bucket, band, *values in db.session.execute(scored):
        scores.add("country", str(country), band, values)
        scores.add("grant", str(grant_id), band, values)
        scores.add("all", "all", band, values)
        if bucket is not None:  # service cells have no histogram bucket
            histogram[str(bucket)] += int(values[0] or 0)
        band_totals[str(band)] += int(values[0] or 0)
    return histogram, band_totals


def _add_follow_up(result: Outcomes, filters: DashboardFilters) -> None:
    """Time to plan (and its mean), milestones on time by office and closures by reason, from
    one statement (``_follow_up_statement``) and the names of the offices among them."""
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


def _follow_up_statement(filters: DashboardFilters) -> sa.Select[Any] | sa.CompoundSelect[Any]:
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
    cases = figures.case_rows(*filters.case_conditions())
    parts = []
    for measure, stmt in follow_up_figures(cases, [], now_utc().date()):
        live = stmt.subquery()
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
