"""Instalments: a plan line delivered in several deliveries up to its planned quantity and
amount, never beyond; its delivery milestones follow the option's payment schedule."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import Flask
from sqlalchemy.pool import NullPool

from partners.models import (
    CostBasis,
    HoldStatus,
    PaymentSchedule,
    PlaceHold,
    ReferralStatus,
)
from partners.referrals import accept_referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.deliveries import services
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneKind, MilestoneStatus
from reintegration_hub.monitoring.dashboard import case_counts, cell_case_counts
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.performance import performance_of, refresh_partner_performance
from reintegration_hub.monitoring.snapshot import latest_snapshot, snapshot_outcomes
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import PlanLine
from tests.deliveries.helpers import (
    build_world,
    delivery_input,
    delivery_row,
    partner_user_of,
    stored_files,
    upload,
)
from tests.plans.helpers import World, world
from tests.queries import counted_statements

GEL = Decimal("0.34")


def rent(w: World, **overrides: object):
    """A flat's rent in Kutaisi: GEL 250 a month, paid monthly."""
    values: dict[str, object] = {
        "cost_minor": 25000,
        "currency": "GEL",
        "cost_eur_minor": 8500,
        "eur_rate": GEL,
        "cost_basis": CostBasis.PER_MONTH,
        "payment_schedule": PaymentSchedule.MONTHLY,
        **overrides,
    }
    return w.option(**values)


def accepted_line(w: World, option: object, quantity: int) -> tuple[PlanLine, User]:
    """The option in an approved plan, ``quantity`` units, its referral accepted by a user of
    the partner; the line and that user."""
    plan = plans.start_plan(w.case.id, actor=w.counsellor)
    line = plans.add_line(plan.id, option.id, quantity=quantity, actor=w.counsellor)  # type: ignore[attr-defined]
    plans.submit_plan(plan.id, actor=w.counsellor)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    partner_user = partner_user_of(line.option.partner, w.tbilisi)
    accept_referral(line.referral_id, actor=partner_user)
    db.session.flush()
    return line, partner_user


def instalment(line: PlanLine, actor: User, **changes: object) -> Delivery:
    values: dict[str, object] = {"amount_minor": 25000, "quantity": 1, **changes}
    return services.record_delivery(line.id, delivery_input(**values), upload(), actor=actor)


def delivery_milestones(line: PlanLine) -> list[Milestone]:
    return list(
        db.session.scalars(
            sa.select(Milestone)
            .where(
                Milestone.plan_line_id == line.id, Milestone.kind == MilestoneKind.LINE_DELIVERED
            )
            .order_by(Milestone.due_on)
        )
    )


@pytest.fixture
def w(app: Flask) -> World:
    return world()


def test_monthly_rent_is_recorded_month_by_month_up_to_the_total(w: World) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=3)
    hold_id = line.hold_id

    first = instalment(line, partner_user)

    assert (first.instalment, first.final, first.quantity) == (1, False, 1)
    assert db.session.get(PlaceHold, hold_id).status == HoldStatus.CONSUMED  # the first uses it
    assert line.referral.status == ReferralStatus.ACCEPTED  # more to deliver
    assert w.case.status == CaseStatus.IN_DELIVERY
    progress = services.line_progress([line.id])[line.id]
    assert (progress.delivered_quantity, progress.remaining_quantity) == (1, 2)
    assert (progress.delivered_minor, progress.remaining_minor) == (25000, 50000)
    assert (progress.instalments_recorded, progress.instalments_planned) == (1, 3)

    second = instalment(line, w.case_manager)
    third = instalment(line, partner_user)

    assert [d.instalment for d in (second, third)] == [2, 3]
    assert [d.final for d in (first, second, third)] == [False, False, True]
    assert line.referral.status == ReferralStatus.DELIVERED
    assert services.line_progress([line.id])[line.id].complete
    with pytest.raises(Conflict, match="fully delivered"):
        instalment(line, partner_user)
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 3
    recorded = db.session.scalars(
        sa.select(AuditEntry.object_id).where(AuditEntry.action == "delivery.record")
    ).all()
    assert sorted(recorded) == sorted(str(d.id) for d in (first, second, third))


def test_more_units_or_a_larger_amount_than_is_left_is_refused_at_the_field(
    w: World, certificate_dir: Path
) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=3)
    instalment(line, partner_user, quantity=2, amount_minor=50000)

    with pytest.raises(InvalidInput) as too_many:
        instalment(line, partner_user, quantity=2, amount_minor=25000)
    assert list(too_many.value.field_errors) == ["quantity"]
    assert "Only 1 of the 3 units planned remain" in str(too_many.value.field_errors["quantity"][0])

    with pytest.raises(InvalidInput) as too_much:
        instalment(line, partner_user, quantity=1, amount_minor=25001)
    assert list(too_much.value.field_errors) == ["amount_minor"]
    message = str(too_much.value.field_errors["amount_minor"][0])
    assert "more than the" in message
    assert "250.00" in message  # what is left, in the line's currency

    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 1
    assert len(stored_files(certificate_dir)) == 1  # the refused ones wrote no file
    last = instalment(line, partner_user, quantity=1, amount_minor=25000)
    assert last.final


def test_a_business_grant_paid_in_stages_is_delivered_when_its_amount_is_reached(
    w: World,
) -> None:
    grant = w.option(
        cost_minor=200000,
        currency="GEL",
        cost_eur_minor=68000,
        eur_rate=GEL,
        payment_schedule=PaymentSchedule.MONTHLY,
        payment_months=3,
    )
    line, partner_user = accepted_line(w, grant, quantity=1)
    assert services.line_progress([line.id])[line.id].suggested_quantity == 0  # 1 unit, 3 stages

    stages = [instalment(line, partner_user, quantity=None, amount_minor=a) for a in (80000, 70000)]
    assert [d.quantity for d in stages] == [0, 0]  # no whole unit yet
    assert not any(d.final for d in stages)
    last = instalment(line, partner_user, quantity=None, amount_minor=50000)

    assert (last.quantity, last.final) == (1, True)  # the unit comes with the last stage
    assert line.referral.status == ReferralStatus.DELIVERED


def test_a_discounted_delivery_of_every_unit_completes_the_line(w: World) -> None:
    kit = w.option(cost_minor=120000, currency="GEL", cost_eur_minor=40800, eur_rate=GEL)
    line, partner_user = accepted_line(w, kit, quantity=1)

    delivery = instalment(line, partner_user, quantity=None, amount_minor=110000)

    assert (delivery.quantity, delivery.final) == (1, True)
    assert services.line_progress([line.id])[line.id].remaining_minor == 0


def test_an_instalment_paid_in_euro_counts_at_the_line_rate(w: World) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=2)

    paid_in_euro = instalment(line, partner_user, currency="EUR", amount_minor=8500)

    assert paid_in_euro.amount_line_minor == 25000  # EUR 85 at 0.34 = GEL 250
    with pytest.raises(InvalidInput) as refused:
        instalment(line, partner_user, currency="EUR", amount_minor=8600)  # GEL 252.94
    assert list(refused.value.field_errors) == ["amount_minor"]


def test_an_instalment_of_nothing_is_refused(w: World) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=2)
    with pytest.raises(InvalidInput) as refused:
        instalment(line, partner_user, quantity=0, amount_minor=0)
    assert list(refused.value.field_errors) == ["quantity"]


@pytest.mark.parametrize("quantity", [-1, 10**7])
def test_impossible_quantities_are_refused(w: World, quantity: int) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=2)
    with pytest.raises(InvalidInput) as refused:
        instalment(line, partner_user, quantity=quantity)
    assert list(refused.value.field_errors) == ["quantity"]


def test_the_delivery_milestones_follow_the_monthly_schedule(w: World) -> None:
    line, partner_user = accepted_line(w, rent(w, lead_time_days=10), quantity=3)

    milestones = delivery_milestones(line)

    assert [m.step_key for m in milestones] == [
        f"line_delivered:{line.id}",
        f"line_delivered:{line.id}:2",
        f"line_delivered:{line.id}:3",
    ]
    first = milestones[0].due_on
    assert [m.due_on for m in milestones] == [first + relativedelta(months=n) for n in range(3)]
    assert [m.name[-5:] for m in milestones] == ["(1/3)", "(2/3)", "(3/3)"]
    progress = services.line_progress([line.id])[line.id]
    assert (progress.instalments_planned, progress.next_due_on) == (3, first)

    instalment(line, partner_user)
    assert [m.status for m in delivery_milestones(line)] == [
        MilestoneStatus.DONE,
        MilestoneStatus.UPCOMING,
        MilestoneStatus.UPCOMING,
    ]
    assert services.line_progress([line.id])[line.id].next_due_on == milestones[1].due_on

    instalment(line, partner_user, quantity=2, amount_minor=50000)  # the rest at once
    assert {m.status for m in delivery_milestones(line)} == {MilestoneStatus.DONE}


def test_two_months_paid_at_once_close_two_monthly_milestones(w: World) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=3)

    instalment(line, partner_user, quantity=2, amount_minor=50000)

    assert [m.status for m in delivery_milestones(line)] == [
        MilestoneStatus.DONE,
        MilestoneStatus.DONE,
        MilestoneStatus.UPCOMING,
    ]


def test_an_option_paid_at_once_keeps_one_delivery_milestone(w: World) -> None:
    line, _ = accepted_line(w, rent(w, payment_schedule=PaymentSchedule.ONE_OFF), quantity=3)
    assert len(delivery_milestones(line)) == 1
    assert services.line_progress([line.id])[line.id].suggested_quantity == 3


def test_progress_takes_the_same_statements_for_one_line_or_many(app: Flask) -> None:
    first = build_world()
    with counted_statements() as seen:
        services.line_progress([first.line.id])
    one = len(seen)
    others = [build_world() for _ in range(3)]
    for other in others:
        services.record_delivery(
            other.line.id, delivery_input(quantity=1), upload(), actor=other.admin
        )
    with counted_statements() as seen:
        progress = services.line_progress([first.line.id, *(o.line.id for o in others)])
    assert len(seen) == one
    assert [progress[o.line.id].delivered_quantity for o in others] == [1, 1, 1]


# --- two instalments at the same moment (PostgreSQL) ----------------------------------------


def _worker_app(make_app: Callable[..., Flask], certificate_dir: Path) -> Flask:
    return make_app(
        CERTIFICATE_DIR=str(certificate_dir), SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool}
    )


def _attempt(app: Flask, line_id: int, actor_id: int, start: threading.Barrier | None) -> str:
    with app.app_context():
        try:
            actor = db.session.get(User, actor_id)
            if start is not None:
                start.wait(timeout=30)
            data = delivery_input(quantity=1, amount_minor=25000)
            services.record_delivery(line_id, data, upload(), actor=actor)
            db.session.commit()
            return "recorded"
        except (Conflict, InvalidInput) as refused:
            return str(refused.message)
        finally:
            db.session.rollback()
            db.session.remove()


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same line
def test_a_double_submit_of_the_last_unit_records_it_once(
    app: Flask, make_app: Callable[..., Flask], certificate_dir: Path
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite lets one writer in at a time, nothing can race")
    world_ = build_world()  # 2 units; one delivered, one left
    services.record_delivery(
        world_.line.id, delivery_input(quantity=1, amount_minor=25000), upload(), actor=world_.admin
    )
    db.session.commit()
    workers = _worker_app(make_app, certificate_dir)
    start = threading.Barrier(2)
    args = (workers, world_.line.id, world_.partner_user.id, start)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda _: _attempt(*args), range(2)))

    assert outcomes[1] == "recorded"
    assert "fully delivered" in outcomes[0]
    db.session.expire_all()
    quantities = db.session.scalars(
        sa.select(Delivery.quantity).where(Delivery.plan_line_id == world_.line.id)
    ).all()
    assert sum(quantities) == 2
    assert len(stored_files(certificate_dir)) == 2


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same line
def test_an_instalment_waits_for_the_line_another_is_recording(
    app: Flask, make_app: Callable[..., Flask], certificate_dir: Path
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite has no row locks")
    world_ = build_world()
    db.session.commit()
    workers = _worker_app(make_app, certificate_dir)
    line_id = world_.line.id

    # another request holds the line (as record_delivery does) and delivers both units; the
    # waiting one then sees them and refuses, rather than counting from before them
    with db.engine.connect() as other:
        other.execute(sa.select(PlanLine.id).where(PlanLine.id == line_id).with_for_update())
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(_attempt, workers, line_id, world_.partner_user.id, None)
            time.sleep(1)
            assert not waiting.done()  # held by the row lock
            other.execute(
                delivery_row(
                    line_id,
                    final=True,
                    quantity=2,
                    amount_minor=50000,
                    amount_eur_minor=17000,
                    amount_line_minor=50000,
                )
            )
            other.commit()
            outcome = waiting.result(timeout=30)
    assert "fully delivered" in outcome
    assert stored_files(certificate_dir) == []


# --- what monitoring reads ------------------------------------------------------------------


def test_spending_and_partner_figures_count_a_line_once_whatever_its_instalments(
    w: World,
) -> None:
    line, partner_user = accepted_line(w, rent(w), quantity=3)  # 3 x EUR 85 committed
    instalment(line, partner_user)
    instalment(line, partner_user)
    today = line.plan.approved_at.date()
    db.session.flush()

    live = case_counts(DashboardFilters(), ["grant_id"], today).totals
    assert (live.committed_minor, live.delivered_minor) == (25500, 17000)
    snapshot_outcomes(today, actor=SystemActor("test"))
    snapshot = latest_snapshot()
    assert snapshot is not None
    cells = cell_case_counts(DashboardFilters(), ["grant_id"], snapshot).totals
    assert (cells.committed_minor, cells.delivered_minor) == (25500, 17000)

    partner_id = line.option.partner_id
    refresh_partner_performance(today)
    assert performance_of(partner_id).lines_delivered == 0  # two of three months paid
    instalment(line, partner_user)
    refresh_partner_performance(today)
    assert performance_of(partner_id).lines_delivered == 1
    assert performance_of(partner_id).median_days_to_deliver is not None
