"""Places of support options: held, used, freed, and the waitlist of each period.

An option with a number of places has one ``OptionCapacity`` row per period (month, quarter,
year) counting the places held and used; ``PlaceHold`` rows are who holds a place or waits for
one. The counts change only by conditional UPDATEs, so a period is never overbooked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners import events
from partners.access import get_option
from partners.models import (
    CapacityPeriod,
    HoldStatus,
    OptionCapacity,
    OptionStatus,
    Partner,
    PlaceHold,
    SupportOption,
)
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound
from reintegration_hub.core.roles import Actor
from reintegration_hub.core.sql import insert_ignore
from reintegration_hub.extensions import db

#: Holds that still claim a place or a waitlist position.
OPEN_HOLD_STATUSES = frozenset({HoldStatus.HELD, HoldStatus.WAITLISTED})


def period_bounds(period: CapacityPeriod, on: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the capacity period containing ``on``."""
    if period == CapacityPeriod.YEAR:
        return dt.date(on.year, 1, 1), dt.date(on.year, 12, 31)
    first_month = on.month if period == CapacityPeriod.MONTH else 3 * ((on.month - 1) // 3) + 1
    months = 1 if period == CapacityPeriod.MONTH else 3
    start = dt.date(on.year, first_month, 1)
    next_month = first_month + months
    end = dt.date(on.year + (next_month - 1) // 12, (next_month - 1) % 12 + 1, 1)
    return start, end - dt.timedelta(days=1)


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    status: HoldStatus
    waitlist_position: int | None = None  # 1 = next in line
    period_start: dt.date | None = None
    free_places: int | None = None  # after this hold; None = unlimited


def _capacity_row(option: SupportOption, on: dt.date) -> int:
    """The id of the option's capacity row for the period of ``on``, created if missing."""
    assert option.capacity_places is not None
    start, end = period_bounds(option.capacity_period, on)
    insert_ignore(
        OptionCapacity.__table__,
        [
            {
                "option_id": option.id,
                "period_start": start,
                "period_end": end,
                "places_total": option.capacity_places,
                "places_held": 0,
                "places_used": 0,
                "waitlist_last": 0,
            }
        ],
        ["option_id", "period_start"],
    )
    capacity_id = db.session.scalar(
        sa.select(OptionCapacity.id).where(
            OptionCapacity.option_id == option.id, OptionCapacity.period_start == start
        )
    )
    assert capacity_id is not None
    return capacity_id


def resize_open_periods(option: SupportOption, today: dt.date, *, actor: Actor) -> None:
    """Apply a new number of places to the current and future periods, never below what is
    already held or used (the holds stay valid); places added go to the waitlists at once."""
    if option.capacity_places is None or option.id is None:
        return
    booked = OptionCapacity.places_held + OptionCapacity.places_used
    db.session.execute(
        sa.update(OptionCapacity)
        .where(OptionCapacity.option_id == option.id, OptionCapacity.period_end >= today)
        .values(
            places_total=sa.case(
                (booked > option.capacity_places, booked), else_=option.capacity_places
            )
        )
        .execution_options(synchronize_session=False)
    )
    periods = db.session.scalars(
        sa.select(OptionCapacity.id)
        .where(OptionCapacity.option_id == option.id, OptionCapacity.period_end >= today)
        .order_by(OptionCapacity.period_start)
    ).all()
    for capacity_id in periods:
        promote_waitlist(capacity_id, option.capacity_places, actor=actor)


def _waitlist_position(hold: PlaceHold) -> int:
    return 1 + int(
        db.session.scalar(
            sa.select(sa.func.count(PlaceHold.id)).where(
                PlaceHold.capacity_id == hold.capacity_id,
                PlaceHold.status == HoldStatus.WAITLISTED,
                PlaceHold.waitlist_number < hold.waitlist_number,
            )
        )
        or 0
    )


def _open_hold(option_id: int, reference: str) -> PlaceHold | None:
    return db.session.scalars(
        sa.select(PlaceHold)
        .where(
            PlaceHold.option_id == option_id,
            PlaceHold.reference == reference,
            PlaceHold.status.in_([HoldStatus.HELD, HoldStatus.WAITLISTED]),
        )
        .order_by(PlaceHold.id.desc())
        .limit(1)
    ).first()


def hold_place(
    option_id: int, reference: str, *, actor: Actor, on: dt.date | None = None
) -> HoldResult:
    """Hold a place of a published option for ``reference`` in the period of ``on``.

    Never overbooks: the place is taken by one conditional UPDATE
    (``places_held + places_used < places_total``) of the period's row, which is created with
    ``INSERT ... ON CONFLICT DO NOTHING``. When the period is full the reference joins its
    waitlist and the result carries its position. Idempotent per reference: an open hold or
    waitlist entry is returned again, and a waitlisted reference that asks again takes a place
    if one is free (a freed place normally goes to the waitlist at once: ``promote_waitlist``).
    """
    reference = reference.strip()
    if not reference or len(reference) > 64:
        message = _l("Give a reference of at most 64 characters.")
        raise InvalidInput(message, field_errors={"reference": [message]})
    option = get_option(option_id, actor=actor)
    if option.status != OptionStatus.PUBLISHED:
        raise Conflict(_l("Places can only be held on published options."))
    on = on or now_utc().date()
    existing = _open_hold(option.id, reference)
    if existing is not None and existing.status == HoldStatus.HELD:
        return _result(existing, option, on)
    if option.capacity_places is None:
        hold = PlaceHold(option_id=option.id, reference=reference, status=HoldStatus.HELD)
        record_audit("place.hold", hold, actor=actor, office_id=option.partner.office_id)
        return _result(hold, option, on)
    capacity_id = _capacity_row(option, on)
    taken = db.session.execute(
        sa.update(OptionCapacity)
        .where(
            OptionCapacity.id == capacity_id,
            OptionCapacity.places_held + OptionCapacity.places_used < OptionCapacity.places_total,
        )
        .values(places_held=OptionCapacity.places_held + 1)
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        hold = existing or PlaceHold(option_id=option.id, reference=reference)
        hold.status, hold.capacity_id, hold.waitlist_number = HoldStatus.HELD, capacity_id, None
        record_audit("place.hold", hold, actor=actor, office_id=option.partner.office_id)
        return _result(hold, option, on)
    if existing is not None:
        return _result(existing, option, on)
    number = db.session.scalar(
        sa.update(OptionCapacity)
        .where(OptionCapacity.id == capacity_id)
        .values(waitlist_last=OptionCapacity.waitlist_last + 1)
        .returning(OptionCapacity.waitlist_last)
        .execution_options(synchronize_session=False)
    )
    hold = PlaceHold(
        option_id=option.id,
        reference=reference,
        capacity_id=capacity_id,
        status=HoldStatus.WAITLISTED,
        waitlist_number=number,
    )
    record_audit("place.waitlist", hold, actor=actor, office_id=option.partner.office_id)
    return _result(hold, option, on)


def _result(hold: PlaceHold, option: SupportOption, on: dt.date) -> HoldResult:
    position = _waitlist_position(hold) if hold.status == HoldStatus.WAITLISTED else None
    return HoldResult(
        hold_id=hold.id,
        status=hold.status,
        waitlist_position=position,
        period_start=period_bounds(option.capacity_period, on)[0]
        if option.capacity_places is not None
        else None,
        free_places=free_places(option.id, on),
    )


def _hold(hold_id: int, actor: Actor) -> tuple[PlaceHold, SupportOption]:
    hold = db.session.get(PlaceHold, hold_id)
    if hold is None:
        raise NotFound(_l("Hold not found."))
    try:
        option = get_option(hold.option_id, actor=actor)
    except NotFound:
        raise NotFound(_l("Hold not found.")) from None
    return hold, option


def release_place(hold_id: int, *, actor: Actor) -> PlaceHold:
    """Give a held place back (or leave the waitlist). A freed place goes at once to the
    earliest waitlisted hold of the period (``promote_waitlist``)."""
    hold, option = _hold(hold_id, actor)
    return release_hold(hold, actor=actor, office_id=option.partner.office_id)


def release_hold(hold: PlaceHold, *, actor: Actor, office_id: int) -> PlaceHold:
    """``release_place`` without its scope check, for callers that decided access their own way
    (a referral declined through its e-mailed link); ``office_id`` is the partner's office, for
    the audit row. Conflict when the hold is closed already."""
    if hold.status not in OPEN_HOLD_STATUSES:
        raise Conflict(_l("This hold is closed already."))
    freed = hold.status == HoldStatus.HELD and hold.capacity_id is not None
    if freed:
        assert hold.capacity_id is not None
        _change_counts(hold.capacity_id, held=-1, used=0)
    hold.status, hold.closed_at = HoldStatus.RELEASED, now_utc()
    record_audit("place.release", hold, actor=actor, office_id=office_id)
    if freed:
        assert hold.capacity_id is not None
        promote_waitlist(hold.capacity_id, 1, actor=actor)
    return hold


def promote_waitlist(capacity_id: int, places: int, *, actor: Actor) -> list[int]:
    """Give up to ``places`` free places of the period ``capacity_id`` to its earliest
    waitlisted holds, in the caller's transaction; the ids of the holds promoted (in waitlist
    order). Each is audited (``place.promote``) and ``events.places_promoted`` is sent.

    Called right after the caller updated the period's row (a release, a resize), which locks
    that row until the commit on PostgreSQL: two places freed at the same moment are given one
    after the other, the second seeing the first's promotion, so no hold is promoted twice and
    nobody jumps the queue (a concurrent ``hold_place`` waits on the same row). The waitlisted
    rows are claimed ``FOR UPDATE SKIP LOCKED``: one being withdrawn right now is passed over
    rather than waited for. The place is taken by the same conditional UPDATE of the counts
    as ``hold_place``, so the period can never be overbooked.
    """
    row = db.session.execute(
        sa.select(
            OptionCapacity.places_total, OptionCapacity.places_held, OptionCapacity.places_used
        ).where(OptionCapacity.id == capacity_id)
    ).one()
    wanted = min(places, row.places_total - row.places_held - row.places_used)
    if wanted <= 0:
        return []
    holds = db.session.scalars(
        sa.select(PlaceHold)
        .where(PlaceHold.capacity_id == capacity_id, PlaceHold.status == HoldStatus.WAITLISTED)
        .order_by(PlaceHold.waitlist_number, PlaceHold.id)
        .limit(wanted)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    if not holds:
        return []
    taken = db.session.execute(
        sa.update(OptionCapacity)
        .where(
            OptionCapacity.id == capacity_id,
            OptionCapacity.places_held + OptionCapacity.places_used + len(holds)
            <= OptionCapacity.places_total,
        )
        .values(places_held=OptionCapacity.places_held + len(holds))
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise Conflict(_l("The place counts do not match; nothing was changed."))
    office_id = db.session.scalar(
        sa.select(Partner.office_id)
        .join(SupportOption, SupportOption.partner_id == Partner.id)
        .where(SupportOption.id == holds[0].option_id)
    )
    now = now_utc()
    for hold in holds:
        hold.status, hold.waitlist_number, hold.promoted_at = HoldStatus.HELD, None, now
        record_audit("place.promote", hold, actor=actor, office_id=office_id)
    promoted = [hold.id for hold in holds]
    events.places_promoted.send(None, hold_ids=promoted, actor=actor)
    return promoted


def consume_place(hold_id: int, *, actor: Actor) -> PlaceHold:
    """The held place is used (the support is delivered or starts): held -> used."""
    hold, option = _hold(hold_id, actor)
    if hold.status != HoldStatus.HELD:
        raise Conflict(_l("Only a held place can be used."))
    if hold.capacity_id is not None:
        _change_counts(hold.capacity_id, held=-1, used=1)
    hold.status, hold.closed_at = HoldStatus.CONSUMED, now_utc()
    record_audit("place.consume", hold, actor=actor, office_id=option.partner.office_id)
    return hold


def _change_counts(capacity_id: int, *, held: int, used: int) -> None:
    changed = db.session.execute(
        sa.update(OptionCapacity)
        .where(OptionCapacity.id == capacity_id, OptionCapacity.places_held + held >= 0)
        .values(
            places_held=OptionCapacity.places_held + held,
            places_used=OptionCapacity.places_used + used,
        )
        .returning(OptionCapacity.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        raise Conflict(_l("The place counts do not match; nothing was changed."))


def free_places(option_id: int, on: dt.date | None = None) -> int | None:
    """Free places of the option in the period of ``on``; ``None`` when unlimited."""
    on = on or now_utc().date()
    option = db.session.get(SupportOption, option_id)
    if option is None:
        raise NotFound(_l("Support option not found."))
    if option.capacity_places is None:
        return None
    start, _end = period_bounds(option.capacity_period, on)
    row = db.session.execute(
        sa.select(
            OptionCapacity.places_total, OptionCapacity.places_held, OptionCapacity.places_used
        ).where(OptionCapacity.option_id == option_id, OptionCapacity.period_start == start)
    ).one_or_none()
    if row is None:
        return option.capacity_places
    free: int = max(0, row.places_total - row.places_held - row.places_used)
    return free


def waitlist(option_id: int, *, actor: Actor, on: dt.date | None = None) -> Sequence[PlaceHold]:
    """The open holds and waitlist entries of the option's period of ``on``, in order."""
    option = get_option(option_id, actor=actor)
    on = on or now_utc().date()
    start, _end = period_bounds(option.capacity_period, on)
    return db.session.scalars(
        sa.select(PlaceHold)
        .outerjoin(OptionCapacity, OptionCapacity.id == PlaceHold.capacity_id)
        .where(
            PlaceHold.option_id == option.id,
            PlaceHold.status.in_([HoldStatus.HELD, HoldStatus.WAITLISTED]),
            sa.or_(PlaceHold.capacity_id.is_(None), OptionCapacity.period_start == start),
        )
        .order_by(PlaceHold.status, PlaceHold.waitlist_number, PlaceHold.id)
    ).all()
