"""The dashboard's services on the hand-made programme of ``dashboard_world`` (its docstring
lists every case); each expected figure is worked out by hand from that table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import SupportCategory
from reintegration_hub.core.errors import InvalidInput, PermissionDenied
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import outcomes as monitoring_outcomes
from reintegration_hub.monitoring.activities import record_activity
from reintegration_hub.monitoring.dashboard import (
    DASHBOARD_KEYS,
    Dashboard,
    case_counts,
    cell_case_counts,
    dashboard,
)
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.models import ActivityKind, OutcomeCell, OutcomeSnapshot
from reintegration_hub.monitoring.reports import REPORT_KEYS
from reintegration_hub.monitoring.snapshot import SnapshotCounts, latest_snapshot, snapshot_outcomes
from reintegration_hub.plans.models import Plan, PlanLine
from reintegration_hub.programmes.models import TargetIndicator
from tests.factories import SupportOptionFactory
from tests.monitoring.dashboard_world import AS_OF, World, more_cases, world
from tests.queries import counted_statements


@pytest.fixture
def w(app: Flask) -> World:
    made = world()
    db.session.commit()
    return made


def snapshot(as_of: dt.date = AS_OF) -> SnapshotCounts:
    counts = snapshot_outcomes(as_of, actor=SystemActor("test"))
    db.session.commit()
    return counts


@pytest.fixture(params=["live", "snapshot"])
def counted(request: pytest.FixtureRequest, w: World) -> str:
    """The case counts and spending counted live, or read from a snapshot's cells: the same
    hand-worked figures either way."""
    if request.param == "snapshot":
        snapshot()
    return str(request.param)


def board_of(w: World, filters: DashboardFilters, counted: str) -> Dashboard:
    board = dashboard(filters, actor=w.manager)
    from_cells = counted == "snapshot" and filters.from_cells
    assert (board.counted_at is not None) == from_cells
    return board


def test_case_figures_without_filters(w: World, counted: str) -> None:
    board = board_of(w, DashboardFilters(), counted)
    # five cases; C4 never left; C2 did not arrive; C1, C2, C5 approved
    assert (board.totals.cases, board.totals.returns, board.totals.arrivals) == (5, 4, 3)
    assert board.totals.reintegration == 3
    assert {b.key: b.n for b in board.plans_by_status} == {
        "approved": 3,
        "submitted": 1,
        "none": 1,
    }
    by_office = {o.office: (o.due, o.overdue) for o in board.milestones}
    assert by_office == {"IOM Tbilisi": (1, 2), "IOM Yerevan": (0, 1)}
    assert [(m.month, m.returns, m.arrivals) for m in board.months] == [
        (dt.date(2023, 12, 1), 1, 1),
        (dt.date(2024, 1, 1), 1, 1),
        (dt.date(2024, 2, 1), 1, 0),
        (dt.date(2024, 3, 1), 1, 1),
    ]


def test_spending_against_the_grant_with_its_co_financing_split(w: World, counted: str) -> None:
    (grant,) = board_of(w, DashboardFilters(), counted).grants
    # committed 1,000 + 500 + 300; delivered 800 + 300 (euro cents below)
    assert (grant.committed_minor, grant.delivered_minor) == (180_000, 110_000)
    assert grant.remaining_minor == 100_000_00 - 180_000
    amif, state = grant.sources
    assert (amif.name, amif.budget_minor, amif.committed_minor, amif.delivered_minor) == (
        "AMIF",
        75_000_00,
        135_000,
        82_500,
    )
    assert (state.budget_minor, state.committed_minor, state.delivered_minor) == (
        25_000_00,
        45_000,
        27_500,
    )
    assert amif.remaining_minor == 75_000_00 - 135_000


def test_progress_to_each_target_counts_cases_and_programme_activities(
    w: World, counted: str
) -> None:
    (grant,) = board_of(w, DashboardFilters(), counted).grants
    progress = {t.indicator: (t.target, t.actual) for t in grant.targets}
    assert progress == {
        TargetIndicator.RETURNS: (4, 4),  # C1, C2, C3, C5 (C4 has no grant)
        TargetIndicator.REINTEGRATION: (2, 3),  # approved: C1, C2, C5
        TargetIndicator.SHORT_STAYS: (10, 7),  # 3 + 4 people
        TargetIndicator.CAPACITY_EVENTS: (1, 1),  # one event, whatever its size
    }
    in_2024 = board_of(
        w,
        DashboardFilters(period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 12, 31)),
        counted,
    ).grants[0]
    actual_2024 = {t.indicator: t.actual for t in in_2024.targets}
    # C5 returned in 2023; the 2023 short stay falls out
    assert actual_2024[TargetIndicator.RETURNS] == 3
    assert actual_2024[TargetIndicator.REINTEGRATION] == 2
    assert actual_2024[TargetIndicator.SHORT_STAYS] == 3


@pytest.mark.parametrize(
    ("filters", "cases", "returns"),
    [
        (lambda w: DashboardFilters(host_office_id=w.riga.id), 3, 3),  # C1, C2, C5
        (lambda w: DashboardFilters(vulnerable=True), 1, 1),  # C1
        (lambda w: DashboardFilters(vulnerable=False), 4, 3),
        (lambda w: DashboardFilters(return_country_code="AM"), 3, 2),  # C3, C4, C5
        (lambda w: DashboardFilters(partner_id=w.p1.id), 1, 1),  # C1
        (lambda w: DashboardFilters(category=SupportCategory.BUSINESS_START_UP), 2, 2),
        (lambda w: DashboardFilters(grant_id=w.grant.id), 4, 4),
        (
            lambda w: DashboardFilters(
                period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 2, 29)
            ),
            2,
            2,
        ),
        (  # not whole months, counted live even with a snapshot: C2, C3 (C1 on the 10th)
            lambda w: DashboardFilters(period_from=dt.date(2024, 1, 20)),
            2,
            2,
        ),
    ],
)
def test_each_filter_selects_the_cases_it_names(
    w: World, counted: str, filters, cases, returns
) -> None:
    board = board_of(w, filters(w), counted)
    assert (board.totals.cases, board.totals.returns) == (cases, returns)


@pytest.mark.parametrize(
    "filters",
    [
        lambda w: DashboardFilters(),
        lambda w: DashboardFilters(grant_id=w.grant.id, vulnerable=False),
        lambda w: DashboardFilters(host_office_id=w.riga.id, return_country_code="GE"),
        lambda w: DashboardFilters(category=SupportCategory.BUSINESS_START_UP),
        lambda w: DashboardFilters(category=SupportCategory.HOUSING, vulnerable=True),
        lambda w: DashboardFilters(
            period_from=dt.date(2024, 1, 1), period_to=dt.date(2024, 3, 31), grant_id=w.grant.id
        ),
    ],
)
def test_the_snapshot_cells_count_as_the_live_sql_does(w: World, filters) -> None:
    more_cases(w, 12)
    db.session.commit()
    snapshot()
    f = filters(w)
    assert f.from_cells
    taken = latest_snapshot()
    assert taken is not None
    for by in (DASHBOARD_KEYS, REPORT_KEYS):  # the dashboard's and the report's
        cells, live = cell_case_counts(f, by, taken), case_counts(f, by, AS_OF)
        assert cells.totals == live.totals
        assert dict(cells.per_grant) == {k: v for k, v in live.per_grant.items() if v.cases}
        assert cells.plans() == live.plans()
        assert cells.months() == live.months()
        assert cells.countries() == live.countries()


def test_a_period_in_months_runs_from_the_first_day_to_the_last() -> None:
    f = DashboardFilters.from_args({"from": "2024-02", "to": "2024-02"})
    assert (f.period_from, f.period_to) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert f.from_cells
    assert not DashboardFilters(period_to=dt.date(2024, 2, 28)).from_cells
    assert not DashboardFilters(partner_id=1).from_cells
    assert DashboardFilters.from_args({"from": "2024-2"}).period_from is None


def test_open_milestones_follow_the_filters(w: World) -> None:
    board = dashboard(DashboardFilters(return_country_code="AM"), actor=w.manager)
    assert {o.office: (o.due, o.overdue) for o in board.milestones} == {"IOM Yerevan": (0, 1)}


def test_snapshot_aggregates_the_heavy_indicators(w: World) -> None:
    counts = snapshot()
    assert counts.cells["score"] == 2  # C1 (high) and C2 (medium): different months and bands
    outcomes = monitoring_outcomes.outcomes(DashboardFilters(), actor=w.manager)
    assert outcomes.taken_at == counts.taken_at
    assert outcomes.as_of == AS_OF
    overall = outcomes.overall
    assert overall is not None
    # latest surveys only: C1 0.8 (not its older 0.2) and C2 0.4
    assert overall.n == 2
    assert overall.composite == pytest.approx(0.6)
    assert overall.economic == pytest.approx(0.7)
    assert overall.social == pytest.approx(0.5)
    assert overall.psychosocial == pytest.approx(0.6)
    partners = {r.label: (r.n, round(r.composite, 4)) for r in outcomes.by_partner}
    assert partners == {"Partner One": (1, 0.8), "Partner Two": (1, 0.4)}
    assert [r.label for r in outcomes.by_partner] == ["Partner One", "Partner Two"]  # best first
    categories = {r.key: (r.n, round(r.composite, 4)) for r in outcomes.by_category}
    assert categories == {"business_start_up": (2, 0.6)}
    assert {r.key: r.n for r in outcomes.by_country} == {"GE": 2}
    assert {r.key: r.n for r in outcomes.by_grant} == {str(w.grant.id): 2}
    assert {b.key: b.n for b in outcomes.histogram if b.n} == {"8": 1, "4": 1}
    assert {b.key: b.n for b in outcomes.bands} == {"high": 1, "medium": 1}
    # days from return to approval: C1 15, C2 -6, C5 121
    assert {b.key: b.n for b in outcomes.plan_days if b.n} == {"0-30": 1, "before": 1, "90+": 1}
    assert outcomes.plan_days_mean == pytest.approx(130 / 3)
    # due by 2025-06-01, cancelled left out: Tbilisi m1 on time, m2 and m5 open; Riga m3 late;
    # Yerevan m6 open (m4 is due in 2030)
    on_time = {o.office: (o.on_time, o.late, o.open) for o in outcomes.on_time}
    assert on_time == {"IOM Tbilisi": (1, 0, 2), "IOM Riga": (0, 1, 0), "IOM Yerevan": (0, 0, 1)}
    tbilisi = next(o for o in outcomes.on_time if o.office == "IOM Tbilisi")
    assert tbilisi.rate == pytest.approx(1 / 3)
    assert outcomes.on_time_total.rate == pytest.approx(1 / 5)
    assert {b.key: b.n for b in outcomes.closures} == {"withdrew": 1, "completed": 1}


def test_snapshot_figures_follow_the_filters(w: World) -> None:
    snapshot()
    vulnerable = monitoring_outcomes.outcomes(DashboardFilters(vulnerable=True), actor=w.manager)
    assert vulnerable.overall is not None
    assert (vulnerable.overall.n, vulnerable.overall.composite) == (1, pytest.approx(0.8))
    partner_two = monitoring_outcomes.outcomes(
        DashboardFilters(partner_id=w.p2.id), actor=w.manager
    )
    assert partner_two.service_filtered
    assert [(r.label, r.n) for r in partner_two.by_partner] == [("Partner Two", 1)]
    assert partner_two.overall is not None
    assert partner_two.overall.composite == pytest.approx(0.4)
    assert not partner_two.histogram
    from_february = monitoring_outcomes.outcomes(
        DashboardFilters(period_from=dt.date(2024, 2, 1)), actor=w.manager
    )
    assert from_february.overall is not None
    assert from_february.overall.n == 1  # C2 returned in February; C1 in January
    assert {b.key: b.n for b in from_february.closures} == {}  # C4 never left; C5 in 2023
    yerevan = monitoring_outcomes.outcomes(
        DashboardFilters(host_office_id=w.vilnius.id), actor=w.manager
    )
    assert yerevan.overall is None
    assert {b.key: b.n for b in yerevan.closures} == {"withdrew": 1}


@pytest.mark.parametrize(
    ("filters", "plan_days", "on_time", "closures"),
    [
        (  # cells per category: C1 (Partner One) and C2 (Partner Two)
            lambda w: DashboardFilters(category=SupportCategory.BUSINESS_START_UP),
            {"0-30": 1, "before": 1},
            {"IOM Tbilisi": (1, 0, 2), "IOM Riga": (0, 1, 0)},
            {},
        ),
        (  # C5 (Partner Three)
            lambda w: DashboardFilters(category=SupportCategory.HOUSING),
            {"90+": 1},
            {"IOM Yerevan": (0, 0, 1)},
            {"completed": 1},
        ),
        (  # live: C1 only
            lambda w: DashboardFilters(partner_id=w.p1.id),
            {"0-30": 1},
            {"IOM Tbilisi": (1, 0, 1), "IOM Riga": (0, 1, 0)},
            {},
        ),
        (  # live: C2 only; its m4 is not due yet
            lambda w: DashboardFilters(partner_id=w.p2.id, vulnerable=False),
            {"before": 1},
            {"IOM Tbilisi": (0, 0, 1)},
            {},
        ),
        (
            lambda w: DashboardFilters(
                partner_id=w.p3.id, category=SupportCategory.BUSINESS_START_UP
            ),
            {},
            {},
            {},
        ),
    ],
)
def test_time_to_plan_timeliness_and_closures_follow_a_partner_or_category_filter(
    w: World, filters, plan_days, on_time, closures
) -> None:
    snapshot()
    f = filters(w)
    outcomes = monitoring_outcomes.outcomes(f, actor=w.manager)
    assert outcomes.follow_up_live == (f.partner_id is not None)
    assert {b.key: b.n for b in outcomes.plan_days if b.n} == plan_days
    assert {o.office: (o.on_time, o.late, o.open) for o in outcomes.on_time} == on_time
    assert {b.key: b.n for b in outcomes.closures} == closures


def test_a_case_counts_once_per_partner_and_once_per_category(w: World) -> None:
    # C1's plan gets a second line of Partner One, in another category
    training = SupportOptionFactory(partner=w.p1, category=SupportCategory.VOCATIONAL_TRAINING)
    plan = db.session.scalars(sa.select(Plan).where(Plan.returnee_id == w.cases["C1"].id)).one()
    line = db.session.scalars(sa.select(PlanLine).where(PlanLine.plan_id == plan.id)).one()
    db.session.add(
        PlanLine(
            plan_id=plan.id,
            option_id=training.id,
            unit_cost_minor=1,
            currency="EUR",
            eur_rate=line.eur_rate,
            rate_on=line.rate_on,
            total_eur_minor=1,
        )
    )
    db.session.commit()
    snapshot()
    outcomes = monitoring_outcomes.outcomes(DashboardFilters(), actor=w.manager)
    assert {r.label: r.n for r in outcomes.by_partner} == {"Partner One": 1, "Partner Two": 1}
    assert {r.key: r.n for r in outcomes.by_category} == {
        "business_start_up": 2,
        "vocational_training": 1,
    }
    partner_one = monitoring_outcomes.outcomes(
        DashboardFilters(partner_id=w.p1.id), actor=w.manager
    )
    assert partner_one.overall is not None
    assert partner_one.overall.n == 1
    assert {r.key: r.n for r in partner_one.by_category} == {
        "business_start_up": 1,
        "vocational_training": 1,
    }
    both = DashboardFilters(partner_id=w.p1.id, category=SupportCategory.VOCATIONAL_TRAINING)
    assert dashboard(both, actor=w.manager).totals.cases == 1
    training_cases = DashboardFilters(category=SupportCategory.VOCATIONAL_TRAINING)
    board = dashboard(training_cases, actor=w.manager)
    assert board.counted_at is not None
    # C1 whole: both lines of its plan
    assert (board.totals.cases, board.totals.committed_minor) == (1, 100_001)


def test_a_new_snapshot_replaces_the_previous_one_whole(w: World) -> None:
    first = snapshot()
    before = db.session.scalar(sa.select(sa.func.count(OutcomeCell.id)))
    second = snapshot()
    assert db.session.scalar(sa.select(sa.func.count(OutcomeSnapshot.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(OutcomeCell.id))) == before
    stamps = set(db.session.scalars(sa.select(OutcomeCell.snapshot_at).distinct()))
    assert stamps == {second.taken_at}
    assert second.taken_at >= first.taken_at
    # as of a day before the newest surveys, C1's older survey is its latest
    snapshot(dt.date(2024, 12, 31))
    overall = monitoring_outcomes.outcomes(DashboardFilters(), actor=w.manager).overall
    assert overall is not None
    assert (overall.n, overall.composite) == (1, pytest.approx(0.2))


@pytest.fixture
def remembering(make_app: Callable[..., Flask]) -> Iterator[World]:
    """The hand-made programme in an app that remembers snapshot figures (core.memo)."""
    with make_app(MEMO_SECONDS=300).app_context():
        made = world()
        db.session.commit()
        yield made


def test_snapshot_figures_are_read_once_per_snapshot_and_filters(remembering: World) -> None:
    w = remembering
    snapshot()
    with counted_statements() as first:
        board = dashboard(DashboardFilters(), actor=w.manager)
    with counted_statements() as again:
        same = dashboard(DashboardFilters(), actor=w.manager)
    assert same.outcomes is board.outcomes
    assert len(again) < len(first)
    armenia = dashboard(DashboardFilters(return_country_code="AM"), actor=w.manager)
    assert armenia.outcomes is not board.outcomes
    assert armenia.totals.cases == 3  # C3, C4, C5, as without the memory
    # a new snapshot (as of a day before the newest surveys) is read anew, not remembered
    snapshot(dt.date(2024, 12, 31))
    overall = dashboard(DashboardFilters(), actor=w.manager).outcomes.overall
    assert overall is not None
    assert (overall.n, overall.composite) == (1, pytest.approx(0.2))


def test_without_a_snapshot_the_outcomes_are_empty(w: World) -> None:
    outcomes = monitoring_outcomes.outcomes(DashboardFilters(), actor=w.manager)
    assert outcomes.taken_at is None
    assert outcomes.overall is None


def test_counsellors_and_case_managers_get_no_dashboard(w: World) -> None:
    for user in (w.riga_counsellor, w.tbilisi_manager):
        with pytest.raises(PermissionDenied):
            dashboard(DashboardFilters(), actor=user)
    assert dashboard(DashboardFilters(), actor=w.admin).totals.cases == 5


def test_recording_a_programme_activity_counts_toward_its_target(w: World) -> None:
    record_activity(w.grant.id, ActivityKind.SHORT_STAY, dt.date(2024, 7, 1), 2, actor=w.manager)
    db.session.commit()
    (grant,) = dashboard(DashboardFilters(), actor=w.manager).grants
    assert {t.indicator: t.actual for t in grant.targets}[TargetIndicator.SHORT_STAYS] == 9
    with pytest.raises(InvalidInput):
        record_activity(
            w.grant.id, ActivityKind.SHORT_STAY, dt.date(2099, 1, 1), 2, actor=w.manager
        )
    with pytest.raises(PermissionDenied):
        record_activity(
            w.grant.id, ActivityKind.SHORT_STAY, dt.date(2024, 7, 1), 2, actor=w.riga_counsellor
        )


def test_filters_round_trip_through_query_parameters(w: World) -> None:
    filters = DashboardFilters(
        grant_id=w.grant.id,
        period_from=dt.date(2024, 1, 1),
        period_to=dt.date(2024, 6, 30),
        host_office_id=w.riga.id,
        return_country_code="GE",
        partner_id=w.p1.id,
        category=SupportCategory.BUSINESS_START_UP,
        vulnerable=False,
    )
    assert DashboardFilters.from_args(filters.query_args()) == filters
    junk = {"grant": "x", "from": "2024-13-01", "country": "Georgia", "vulnerable": "maybe"}
    assert DashboardFilters.from_args(junk) == DashboardFilters()


def test_the_dashboard_costs_the_same_statements_whatever_the_data_size(w: World) -> None:
    filters = [DashboardFilters(), DashboardFilters(partner_id=w.p1.id, vulnerable=True)]
    snapshot()

    def count(f: DashboardFilters) -> int:
        db.session.expire_all()
        with counted_statements() as statements:
            dashboard(f, actor=w.manager)
        return len(statements)

    small = [count(f) for f in filters]
    more_cases(w, 12)
    db.session.commit()
    snapshot()
    assert [count(f) for f in filters] == small
    assert small[0] <= 17  # one per figure group, whatever the number of cases
