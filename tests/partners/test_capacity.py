"""Capacity: places are held, released and used, never overbooked, with a waitlist when full."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from partners import capacity, services
from partners.models import CapacityPeriod, HoldStatus, OptionCapacity, OptionStatus, PlaceHold
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, NotFound
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import OfficeKind, Role, SystemActor
from reintegration_hub.extensions import db
from tests.database import racing_app
from tests.factories import OfficeFactory, SupportOptionFactory, UserFactory
from tests.partners.helpers import case_manager, kutaisi_course

ACTOR = SystemActor("test")
DAY = dt.date(2026, 3, 15)


def hold(option_id: int, reference: str) -> capacity.HoldResult:
    return capacity.hold_place(option_id, reference, actor=ACTOR, on=DAY)


def test_holds_beyond_capacity_join_the_waitlist_in_order(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=2)
    results = [hold(option.id, f"plan-line-{n}") for n in range(5)]
    assert [r.status for r in results] == [HoldStatus.HELD] * 2 + [HoldStatus.WAITLISTED] * 3
    assert [r.waitlist_position for r in results] == [None, None, 1, 2, 3]
    assert results[1].free_places == 0
    assert capacity.free_places(option.id, DAY) == 0
    assert results[0].period_start == dt.date(2026, 3, 1)


def test_holding_again_for_the_same_reference_returns_the_same_hold(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    first = hold(option.id, "line-1")
    assert hold(option.id, "line-1") == first
    waiting = hold(option.id, "line-2")
    assert hold(option.id, "line-2").hold_id == waiting.hold_id
    assert capacity.free_places(option.id, DAY) == 0


def test_a_released_place_goes_to_the_earliest_waitlisted_hold_at_once(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    first, waiting, second_waiting = (hold(option.id, r) for r in ("a", "b", "c"))

    released = capacity.release_place(first.hold_id, actor=ACTOR)

    assert released.status == HoldStatus.RELEASED
    assert released.closed_at is not None
    promoted = db.session.get(PlaceHold, waiting.hold_id)
    assert (promoted.status, promoted.waitlist_number) == (HoldStatus.HELD, None)
    assert promoted.promoted_at is not None
    assert capacity.free_places(option.id, DAY) == 0
    assert hold(option.id, "c").waitlist_position == 1  # "b" left the line
    assert second_waiting.waitlist_position == 2
    assert hold(option.id, "b") == capacity.HoldResult(
        hold_id=waiting.hold_id,
        status=HoldStatus.HELD,
        period_start=dt.date(2026, 3, 1),
        free_places=0,
    )
    promotions = db.session.scalars(
        sa.select(AuditEntry.object_id).where(AuditEntry.action == "place.promote")
    ).all()
    assert promotions == [str(waiting.hold_id)]
    with pytest.raises(Conflict):
        capacity.release_place(first.hold_id, actor=ACTOR)


def test_leaving_the_waitlist_frees_no_place_and_promotes_nobody(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    held, a, b = (hold(option.id, r) for r in ("held", "a", "b"))
    capacity.release_place(a.hold_id, actor=ACTOR)
    assert db.session.get(PlaceHold, held.hold_id).status == HoldStatus.HELD
    assert hold(option.id, "b").waitlist_position == 1
    assert db.session.get(PlaceHold, b.hold_id).promoted_at is None


def test_more_places_on_the_option_go_to_its_waitlist(app: Flask) -> None:
    db.session.add(
        ExchangeRate(currency="GEL", valid_on=dt.date(2020, 1, 1), eur_per_unit=Decimal("0.34"))
    )
    option = SupportOptionFactory(capacity_places=1)
    today = dt.date.today()  # noqa: DTZ011  a resize applies to the periods from today on
    results = [capacity.hold_place(option.id, r, actor=ACTOR, on=today) for r in "abcd"]

    services.update_option(option.id, kutaisi_course(capacity_places=3), actor=case_manager("GE"))

    statuses = [db.session.get(PlaceHold, r.hold_id).status for r in results]
    assert statuses == [HoldStatus.HELD] * 3 + [HoldStatus.WAITLISTED]
    assert capacity.free_places(option.id, today) == 0


def test_leaving_the_waitlist_moves_the_others_up(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=0)
    a, b = hold(option.id, "a"), hold(option.id, "b")
    assert (a.waitlist_position, b.waitlist_position) == (1, 2)
    capacity.release_place(a.hold_id, actor=ACTOR)
    assert hold(option.id, "b").waitlist_position == 1
    assert capacity.free_places(option.id, DAY) == 0


def test_consume_moves_a_place_from_held_to_used(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=3)
    taken = hold(option.id, "line")
    capacity.consume_place(taken.hold_id, actor=ACTOR)
    row = db.session.scalars(sa.select(OptionCapacity)).one()
    db.session.refresh(row)
    assert (row.places_total, row.places_held, row.places_used) == (3, 0, 1)
    assert capacity.free_places(option.id, DAY) == 2
    with pytest.raises(Conflict):
        capacity.consume_place(taken.hold_id, actor=ACTOR)
    waiting = hold(SupportOptionFactory(capacity_places=0).id, "w")
    with pytest.raises(Conflict):
        capacity.consume_place(waiting.hold_id, actor=ACTOR)


def test_unlimited_options_always_hold(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=None)
    results = [hold(option.id, f"line-{n}") for n in range(30)]
    assert {r.status for r in results} == {HoldStatus.HELD}
    assert capacity.free_places(option.id, DAY) is None
    assert db.session.scalar(sa.select(sa.func.count(OptionCapacity.id))) == 0
    capacity.consume_place(results[0].hold_id, actor=ACTOR)


def test_each_period_has_its_own_places(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1, capacity_period=CapacityPeriod.QUARTER)
    assert hold(option.id, "q1").status == HoldStatus.HELD
    later = capacity.hold_place(option.id, "q2", actor=ACTOR, on=dt.date(2026, 4, 2))
    assert later.status == HoldStatus.HELD
    assert later.period_start == dt.date(2026, 4, 1)
    assert capacity.period_bounds(CapacityPeriod.MONTH, dt.date(2026, 12, 31)) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
    )
    assert capacity.period_bounds(CapacityPeriod.YEAR, DAY) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
    )


def test_places_are_held_only_on_published_options_the_actor_sees(app: Flask) -> None:
    draft = SupportOptionFactory(status=OptionStatus.DRAFT, capacity_places=5)
    with pytest.raises(Conflict):
        hold(draft.id, "line")
    yerevan = UserFactory(
        role=Role.CASE_MANAGER, office=OfficeFactory(kind=OfficeKind.ORIGIN, country_code="AM")
    )
    option = SupportOptionFactory(capacity_places=5)
    with pytest.raises(NotFound):
        capacity.hold_place(option.id, "line", actor=yerevan)
    taken = hold(option.id, "line")
    with pytest.raises(NotFound):
        capacity.release_place(taken.hold_id, actor=yerevan)


def test_the_database_refuses_an_overbooked_row(app: Flask) -> None:
    option = SupportOptionFactory(capacity_places=1)
    hold(option.id, "line")
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(OptionCapacity).values(places_held=2))
    db.session.rollback()


ATTEMPTS, PLACES, WORKERS, ROUNDS = 200, 10, 40, 3


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_concurrent_holds_from_separate_connections_never_overbook(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    workers_app = racing_app(make_app)

    def attempt(option_id: int, reference: str) -> capacity.HoldResult:
        with workers_app.app_context():
            try:
                result = capacity.hold_place(option_id, reference, actor=ACTOR, on=DAY)
                db.session.commit()
                return result
            finally:
                db.session.remove()

    for round_number in range(ROUNDS):
        option_id = SupportOptionFactory(capacity_places=PLACES).id
        db.session.commit()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(
                pool.map(
                    lambda n: attempt(option_id, f"round-{round_number}-{n}"),  # noqa: B023
                    range(ATTEMPTS),
                )
            )
        held = [r for r in results if r.status == HoldStatus.HELD]
        waiting = [r for r in results if r.status == HoldStatus.WAITLISTED]
        assert len(held) == PLACES
        assert len(waiting) == ATTEMPTS - PLACES
        assert sorted(r.waitlist_position or 0 for r in waiting) == list(
            range(1, ATTEMPTS - PLACES + 1)
        )
        db.session.expire_all()
        row = db.session.scalars(
            sa.select(OptionCapacity).where(OptionCapacity.option_id == option_id)
        ).one()
        assert (row.places_total, row.places_held, row.places_used) == (PLACES, PLACES, 0)
        assert capacity.free_places(option_id, DAY) == 0
        stored = db.session.scalars(
            sa.select(PlaceHold.status).where(PlaceHold.option_id == option_id)
        ).all()
        assert stored.count(HoldStatus.HELD) == PLACES
        assert len(stored) == ATTEMPTS


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_places_freed_at_the_same_moment_each_go_to_one_waitlisted_hold(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    workers_app = racing_app(make_app)
    places, extra = 8, 4

    for round_number in range(ROUNDS):
        option_id = SupportOptionFactory(capacity_places=places).id
        held = [hold(option_id, f"round-{round_number}-held-{n}") for n in range(places)]
        waiting = [hold(option_id, f"round-{round_number}-wait-{n}") for n in range(places + extra)]
        db.session.commit()
        start = threading.Barrier(places)

        def release(hold_id: int) -> None:
            with workers_app.app_context():
                try:
                    start.wait(timeout=30)  # every release at the same moment  # noqa: B023
                    capacity.release_place(hold_id, actor=ACTOR)
                    db.session.commit()
                finally:
                    db.session.remove()

        with ThreadPoolExecutor(max_workers=places) as pool:
            list(pool.map(release, [h.hold_id for h in held]))

        db.session.expire_all()
        statuses = [db.session.get(PlaceHold, w.hold_id).status for w in waiting]
        assert statuses == [HoldStatus.HELD] * places + [HoldStatus.WAITLISTED] * extra
        row = db.session.scalars(
            sa.select(OptionCapacity).where(OptionCapacity.option_id == option_id)
        ).one()
        assert (row.places_held, row.places_used) == (places, 0)
        promoted = db.session.scalars(
            sa.select(AuditEntry.object_id).where(
                AuditEntry.action == "place.promote",
                AuditEntry.object_id.in_([str(w.hold_id) for w in waiting]),
            )
        ).all()
        assert sorted(promoted) == sorted(str(w.hold_id) for w in waiting[:places])
