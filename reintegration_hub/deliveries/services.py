"""Recording deliveries of approved plan lines, in instalments, with their handover certificates.

The origin case manager, or a user of the partner that accepted the referral, records what was
delivered of a plan line: the date, how many of its units, what was paid (and the euro rate
used), the invoice and the handover certificate. A line is delivered in one instalment or
several (monthly rent, a business grant paid in stages) up to its planned quantity and amount,
never beyond; it is delivered when either is reached. The first instalment consumes the line's
place and moves the case to "in delivery"; each closes the line's next delivery milestone; the
last one marks the referral delivered, closes the milestones left and writes the returnee's
feedback request (``feedback.services.request_feedback``), all in one transaction.
Two instalments of one line recorded at the same moment are taken one after the other (the
line's row is locked on PostgreSQL; the numbering of instalments refuses the second on both).
Certificates are checked and stored by ``deliveries.certificates``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from babel.numbers import get_currency_precision
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from partners.capacity import consume_place
from partners.models import (
    PartnerMember,
    Referral,
    ReferralStatus,
    SupportOption,
    instalments,
)
from partners.referrals import mark_referral_delivered
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.cases.services import advance_case
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.i18n import currency_codes, format_money
from reintegration_hub.core.money import eur_per_unit, to_eur_minor
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.validation import MAX_AMOUNT_MINOR, MAX_ID
from reintegration_hub.deliveries.certificates import (
    KEY,
    CertificateUpload,
    certificate_dir,
    check_certificate,
    download_name,
    read_limited,
    store,
)
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback.services import request_feedback
from reintegration_hub.followups.models import OPEN_STATUSES, Milestone, MilestoneKind
from reintegration_hub.followups.scheduling import complete_milestones
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus

#: Who records deliveries: the origin case manager, the partner's users, administrators.
RECORDER_ROLES = frozenset({Role.CASE_MANAGER, Role.PARTNER, Role.ADMIN})
#: Bounds that keep quantities and rates inside their columns (INTEGER, NUMERIC(18, 10)).
MAX_QUANTITY = 10**6
MAX_AMOUNT_EUR_MINOR = 10**15
MAX_RATE = Decimal(10) ** 8
RATE_PLACES = Decimal("1e-10")
INVOICE_MAX = 64
NOTE_MAX = 1000


@dataclass(frozen=True, kw_only=True)
class DeliveryInput:
    delivered_on: dt.date
    amount_minor: int
    currency: str  # ISO 4217
    eur_rate: Decimal | None  # None: the recorded ExchangeRate in force on delivered_on
    invoice_number: str
    note: str = ""
    quantity: int | None = None  # units handed over; None: ``LineProgress.suggested_quantity``


@dataclass(frozen=True, kw_only=True)
class LineProgress:
    """What is delivered of a plan line and what is still due, in the line's currency."""

    line_id: int
    currency: str
    planned_quantity: int
    planned_minor: int
    instalments_planned: int  # its delivery milestones (else the option's schedule)
    delivered_quantity: int = 0
    delivered_minor: int = 0  # counted against the line (``Delivery.amount_line_minor``)
    delivered_eur_minor: int = 0  # at each instalment's own rate
    instalments_recorded: int = 0
    complete: bool = False  # its final instalment is recorded
    next_due_on: dt.date | None = None  # the earliest open delivery milestone

    @property
    def remaining_quantity(self) -> int:
        return 0 if self.complete else max(self.planned_quantity - self.delivered_quantity, 0)

    @property
    def remaining_minor(self) -> int:
        return 0 if self.complete else max(self.planned_minor - self.delivered_minor, 0)

    @property
    def instalments_due(self) -> int:
        """The scheduled instalments not recorded yet (at least one until it is complete)."""
        if self.complete:
            return 0
        return max(self.instalments_planned - self.instalments_recorded, 1)

    @property
    def suggested_quantity(self) -> int:
        """The units of the next instalment when none are given: its share of what is left."""
        return self.remaining_quantity // self.instalments_due if self.instalments_due else 0

    @property
    def suggested_minor(self) -> int:
        """The amount of the next instalment to offer: its share of what is left."""
        return self.remaining_minor // self.instalments_due if self.instalments_due else 0

    def completes(self, quantity: int, amount_minor: int) -> bool:
        """Whether an instalment of ``quantity`` units and ``amount_minor`` (in the line's
        currency) delivers the rest of the line: all its units, or its whole planned amount."""
        return self.delivered_quantity + quantity >= self.planned_quantity or (
            self.planned_minor > 0 and self.delivered_minor + amount_minor >= self.planned_minor
        )


@dataclass(frozen=True)
class RecordingState:
    """What the recording page shows for a line: what is delivered and due, its instalments,
    and why recording is refused, if it is."""

    line: PlanLine
    refusal: Conflict | None
    progress: LineProgress
    deliveries: list[Delivery]  # the line's instalments, first first


# --- access ----------------------------------------------------------------------------------


def _partner_ids(actor: Actor) -> sa.Select[Any]:
    return sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == actor.id)


def _visible_lines(actor: Actor) -> sa.ColumnElement[bool]:
    """Plan lines whose deliveries ``actor`` may read: of the plans they see, or of their
    partners' referrals; administrators and programme managers all."""
    if sees_all_offices(actor):
        return sa.true()
    if actor.role == Role.PARTNER:
        if actor.id is None:
            return sa.false()
        lines = (
            sa.select(PlanLine.id)
            .join(Referral, Referral.id == PlanLine.referral_id)
            .where(Referral.partner_id.in_(_partner_ids(actor)))
        )
    else:
        lines = sa.select(PlanLine.id).join(Plan, Plan.id == PlanLine.plan_id)
        lines = lines.where(Plan.visible_to(actor))
    return PlanLine.id.in_(lines)


def _visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Deliveries ``actor`` may read (see ``_visible_lines``)."""
    if sees_all_offices(actor):
        return sa.true()
    return Delivery.plan_line_id.in_(sa.select(PlanLine.id).where(_visible_lines(actor)))


def _line(line_id: int, *where: sa.ColumnElement[bool]) -> PlanLine | None:
    if not 0 < line_id <= MAX_ID:
        return None
    return db.session.scalars(
        sa.select(PlanLine)
        .where(PlanLine.id == line_id, *where)
        .options(
            joinedload(PlanLine.plan).joinedload(Plan.returnee),
            joinedload(PlanLine.referral),
            joinedload(PlanLine.option).selectinload(SupportOption.texts),
        )
    ).one_or_none()


def _recordable_line(line_id: int, actor: Actor) -> PlanLine:
    """The line if ``actor`` may record its delivery: PermissionDenied for other roles,
    NotFound when the line is missing or out of their scope (never says which)."""
    if actor.role not in RECORDER_ROLES:
        raise PermissionDenied(
            _l("Only case managers, partners and administrators record deliveries.")
        )
    line = _line(line_id)
    if line is None:
        raise NotFound(_l("Not found."))
    if actor.role == Role.CASE_MANAGER:
        get_scoped(Plan, line.plan_id, actor)
    elif actor.role == Role.PARTNER and not _answers_for(line.referral, actor):
        raise NotFound(_l("Not found."))
    return line


def _answers_for(referral: Referral | None, actor: Actor) -> bool:
    """Whether ``actor`` is a user of the partner ``referral`` was sent to."""
    if referral is None or actor.id is None:
        return False
    mine = _partner_ids(actor).where(PartnerMember.partner_id == referral.partner_id)
    return bool(db.session.scalar(sa.select(mine.exists())))


def line_progress(line_ids: Sequence[int]) -> dict[int, LineProgress]:
    """The progress of each of the plan lines ``line_ids`` (missing ids are left out), in three
    statements whatever their number; the caller has checked the lines' scope."""
    ids = sorted(set(line_ids))
    if not ids:
        return {}
    lines = db.session.execute(
        sa.select(
            PlanLine.id,
            PlanLine.quantity,
            PlanLine.unit_cost_minor,
            PlanLine.currency,
            SupportOption.payment_schedule,
            SupportOption.payment_months,
            SupportOption.cost_basis,
        )
        .join(SupportOption, SupportOption.id == PlanLine.option_id)
        .where(PlanLine.id.in_(ids))
    ).all()
    delivered = {
        row.plan_line_id: row
        for row in db.session.execute(
            sa.select(
                Delivery.plan_line_id,
                sa.func.count().label("instalments"),
                sa.func.sum(Delivery.quantity).label("quantity"),
                sa.func.sum(Delivery.amount_line_minor).label("minor"),
                sa.func.sum(Delivery.amount_eur_minor).label("eur_minor"),
                sa.func.max(sa.case((Delivery.final, 1), else_=0)).label("complete"),
            )
            .where(Delivery.plan_line_id.in_(ids))
            .group_by(Delivery.plan_line_id)
        )
    }
    is_open = Milestone.status.in_(OPEN_STATUSES)
    scheduled = {
        row.plan_line_id: row
        for row in db.session.execute(
            sa.select(
                Milestone.plan_line_id,
                sa.func.count().label("milestones"),
                sa.func.min(sa.case((is_open, Milestone.due_on))).label("next_due_on"),
            )
            .where(Milestone.plan_line_id.in_(ids), Milestone.kind == MilestoneKind.LINE_DELIVERED)
            .group_by(Milestone.plan_line_id)
        )
    }
    progress = {}
    for line in lines:
        plan = scheduled.get(line.id)
        if plan is not None:
            planned = int(plan.milestones)
        else:
            planned = instalments(
                line.payment_schedule, line.payment_months, line.cost_basis, line.quantity
            )
        done = delivered.get(line.id)
        progress[line.id] = LineProgress(
            line_id=line.id,
            currency=line.currency,
            planned_quantity=line.quantity,
            planned_minor=line.unit_cost_minor * line.quantity,
            instalments_planned=planned,
            next_due_on=plan.next_due_on if plan is not None else None,
            delivered_quantity=int(done.quantity) if done else 0,
            delivered_minor=int(done.minor) if done else 0,
            delivered_eur_minor=int(done.eur_minor) if done else 0,
            instalments_recorded=int(done.instalments) if done else 0,
            complete=bool(done.complete) if done else False,
        )
    return progress


def _refusal(line: PlanLine, progress: LineProgress) -> Conflict | None:
    """Why no instalment can be recorded for ``line`` now; None when one can."""
    if progress.complete:
        return Conflict(_l("This plan line is fully delivered: nothing more can be recorded."))
    if line.plan.status != PlanStatus.APPROVED:
        return Conflict(_l("Deliveries are recorded only for lines of an approved plan."))
    if line.plan.returnee.status == CaseStatus.CLOSED:
        return Conflict(_l("The case is closed."))
    if line.referral is None or line.referral.status != ReferralStatus.ACCEPTED:
        return Conflict(_l("Only a line whose referral the partner accepted can be delivered."))
    return None


def line_deliveries(line_id: int) -> list[Delivery]:
    """The instalments of a line, first first (the caller has checked the line's scope)."""
    return list(
        db.session.scalars(
            sa.select(Delivery)
            .where(Delivery.plan_line_id == line_id)
            .options(joinedload(Delivery.recorded_by))
            .order_by(Delivery.instalment)
        )
    )


def _state(line: PlanLine) -> RecordingState:
    progress = line_progress([line.id])[line.id]
    return RecordingState(
        line=line,
        refusal=_refusal(line, progress),
        progress=progress,
        deliveries=line_deliveries(line.id),
    )


def recording_state(line_id: int, *, actor: Actor) -> RecordingState:
    """The line for the recording page, with its progress and instalments, and the refusal
    ``record_delivery`` would raise.

    Raises what ``record_delivery`` raises for the actor: PermissionDenied, NotFound.
    """
    return _state(_recordable_line(line_id, actor))


def line_state(line_id: int, *, actor: Actor) -> RecordingState:
    """A plan line's deliveries for whoever may read them (see ``deliveries_statement``), with
    what is due and why no instalment can be recorded now, if none can; NotFound otherwise."""
    line = _line(line_id, _visible_lines(actor))
    if line is None:
        raise NotFound(_l("Not found."))
    return _state(line)


def progress_by_referral(referrals: Sequence[Referral]) -> dict[int, LineProgress]:
    """The delivery progress of each referral's plan line, by referral id (referrals made for
    no plan line are left out); the caller has read the referrals within its scope."""
    ids = [referral.id for referral in referrals]
    if not ids:
        return {}
    line_of: dict[int, int] = {
        int(referral_id): line_id
        for referral_id, line_id in db.session.execute(
            sa.select(PlanLine.referral_id, PlanLine.id).where(PlanLine.referral_id.in_(ids))
        )
    }
    progress = line_progress(list(line_of.values()))
    return {referral_id: progress[line_id] for referral_id, line_id in line_of.items()}


# --- validation ------------------------------------------------------------------------------


def _check_rate(data: DeliveryInput, errors: dict[str, list[Any]]) -> Decimal | None:
    """The rate to use (given, or the recorded one in force on the delivery date)."""
    if data.eur_rate is not None:
        rate = data.eur_rate
        if rate.is_finite() and 0 < rate < MAX_RATE:
            rate = rate.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
        if not rate.is_finite() or rate <= 0:
            errors["eur_rate"] = [_l("Give a rate greater than zero.")]
        elif rate >= MAX_RATE:
            errors["eur_rate"] = [_l("The rate is too large.")]
        else:
            return rate
        return None
    if "currency" in errors or "delivered_on" in errors:
        return None
    try:
        return eur_per_unit(data.currency, data.delivered_on)
    except InvalidInput:
        errors["eur_rate"] = [
            _l(
                "No exchange rate for %(currency)s is recorded on that date; give the rate used.",
                currency=data.currency,
            )
        ]
        return None


@dataclass(frozen=True)
class _Checked:
    data: DeliveryInput  # cleaned, with its quantity
    rate: Decimal
    amount_eur_minor: int
    amount_line_minor: int
    mime: str


def _storable(text: str) -> bool:
    """Text a database column can hold: UTF-8 with no NUL (PostgreSQL refuses it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def in_line_currency(
    amount_minor: int, currency: str, amount_eur_minor: int, line: PlanLine
) -> int:
    """What an instalment counts against ``line``'s planned amount, in the line's currency: its
    own amount when paid in it, else its euro amount at the rate the line was priced at."""
    if currency == line.currency:
        return amount_minor
    euros = Decimal(amount_eur_minor) / 100 / Decimal(line.eur_rate)
    minor = euros.scaleb(get_currency_precision(line.currency))
    return int(minor.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _check_instalment(
    checked: tuple[int, int | None],
    line: PlanLine,
    progress: LineProgress,
    errors: dict[str, list[Any]],
) -> None:
    """Refuse what would take the line past its planned quantity or amount (at the field)."""
    quantity, amount_line_minor = checked
    if quantity > progress.remaining_quantity:
        errors["quantity"] = [
            _l(
                "Only %(remaining)d of the %(planned)d units planned remain to be delivered.",
                remaining=progress.remaining_quantity,
                planned=progress.planned_quantity,
            )
        ]
    if amount_line_minor is not None and amount_line_minor > progress.remaining_minor:
        errors["amount_minor"] = [
            _l(
                "This is more than the %(remaining)s that remain of the %(planned)s planned.",
                remaining=format_money(progress.remaining_minor, line.currency),
                planned=format_money(progress.planned_minor, line.currency),
            )
        ]
    if quantity == 0 and amount_line_minor == 0 and "amount_minor" not in errors:
        errors["quantity"] = [_l("An instalment hands over at least one unit or an amount.")]


def _validate(
    data: DeliveryInput, line: PlanLine, progress: LineProgress, content: bytes
) -> _Checked:
    """The cleaned input with its rate, amounts and certificate type; InvalidInput naming
    every bad field, over-delivery included."""
    plan = line.plan
    errors: dict[str, list[Any]] = {}
    today = now_utc().date()
    if data.delivered_on > today:
        errors["delivered_on"] = [_l("The delivery date cannot be in the future.")]
    elif plan.approved_at is not None and data.delivered_on < plan.approved_at.date():
        errors["delivered_on"] = [
            _l(
                "The delivery date cannot be before the plan was approved (%(date)s).",
                date=plan.approved_at.date().isoformat(),
            )
        ]
    quantity = progress.suggested_quantity if data.quantity is None else data.quantity
    if quantity < 0:
        errors["quantity"] = [_l("The quantity cannot be negative.")]
    elif quantity > MAX_QUANTITY:
        errors["quantity"] = [_l("The quantity is too large.")]
    if data.amount_minor < 0:
        errors["amount_minor"] = [_l("The amount cannot be negative.")]
    elif data.amount_minor > MAX_AMOUNT_MINOR:
        errors["amount_minor"] = [_l("The amount is too large.")]
    currency = data.currency.strip().upper()
    if currency not in currency_codes():
        errors["currency"] = [_l("Choose a currency by its ISO 4217 code.")]
    invoice = data.invoice_number.strip()
    if not invoice:
        errors["invoice_number"] = [_l("Give the invoice number.")]
    elif len(invoice) > INVOICE_MAX:
        errors["invoice_number"] = [_l("At most %(max)d characters.", max=INVOICE_MAX)]
    note = data.note.strip()
    if len(note) > NOTE_MAX:
        errors["note"] = [_l("At most %(max)d characters.", max=NOTE_MAX)]
    for name, text in (("invoice_number", invoice), ("note", note)):
        if name not in errors and not _storable(text):
            errors[name] = [_l("Remove the control characters from this text.")]
    cleaned = DeliveryInput(
        delivered_on=data.delivered_on,
        amount_minor=data.amount_minor,
        currency=currency,
        eur_rate=data.eur_rate,
        invoice_number=invoice,
        note=note,
        quantity=quantity,
    )
    rate = _check_rate(cleaned, errors)
    amount_eur_minor = 0
    amount_line_minor: int | None = None
    if rate is not None and "amount_minor" not in errors and "currency" not in errors:
        amount_eur_minor = to_eur_minor(cleaned.amount_minor, currency, rate)
        if amount_eur_minor > MAX_AMOUNT_EUR_MINOR:
            errors["amount_minor"] = [_l("The amount is too large.")]
        else:
            amount_line_minor = in_line_currency(
                cleaned.amount_minor, currency, amount_eur_minor, line
            )
    if "quantity" not in errors:
        _check_instalment((quantity, amount_line_minor), line, progress, errors)
    mime = check_certificate(content, errors)
    if errors:
        raise InvalidInput(_l("Check the delivery's details."), field_errors=errors)
    assert rate is not None
    assert mime is not None
    assert amount_line_minor is not None
    return _Checked(cleaned, rate, amount_eur_minor, amount_line_minor, mime)


# --- recording -------------------------------------------------------------------------------


def _close_delivery_milestones(
    line: PlanLine,
    before: LineProgress,
    quantity: int,
    checked: _Checked,
    final: bool,
    actor: Actor,
) -> None:
    """Close the line's delivery milestones the instalment answers: all of them when it
    completes the line; else the earliest open ones, as many as the share delivered so far
    covers (two months of rent paid at once close two monthly milestones), at least one."""
    close = partial(
        complete_milestones,
        line.plan.returnee_id,
        MilestoneKind.LINE_DELIVERED,
        plan_line_id=line.id,
        actor=actor,
    )
    if final:
        close()
        return
    scheduled = before.instalments_planned
    shares = [before.instalments_recorded + 1]
    if before.planned_quantity:
        shares.append((before.delivered_quantity + quantity) * scheduled // before.planned_quantity)
    if before.planned_minor:
        amount = before.delivered_minor + checked.amount_line_minor
        shares.append(amount * scheduled // before.planned_minor)
    still_open = db.session.scalar(
        sa.select(sa.func.count()).where(
            Milestone.plan_line_id == line.id,
            Milestone.kind == MilestoneKind.LINE_DELIVERED,
            Milestone.status.in_(OPEN_STATUSES),
        )
    )
    already_closed = scheduled - int(still_open or 0)
    for _ in range(min(max(shares), scheduled) - already_closed):
        close(first_only=True)


def line_delivered(delivery: Delivery, *, actor: Actor) -> None:
    """What follows, wherever it happens, when ``delivery`` ends its plan line: the
    instalment that completes it (``record_delivery``), or the last one recorded of a line an
    amendment reduced to what was delivered (``plans.amendments``). ``delivery`` becomes the
    line's ``final`` instalment (partner performance counts the line delivered by it), the
    accepted referral is marked delivered, and the returnee is asked how the support went
    (``request_feedback``: once per delivery, by SMS when they consent to it)."""
    if not delivery.final:
        delivery.final = True
        record_audit(
            "delivery.final",
            delivery,
            actor=actor,
            office_id=delivery.plan_line.plan.audit_office_id,
        )
    referral = delivery.plan_line.referral
    if referral is not None and referral.status == ReferralStatus.ACCEPTED:
        mark_referral_delivered(referral.id, actor=actor)
    request_feedback(delivery, actor=actor)


def last_instalment(line_id: int) -> Delivery | None:
    """The instalment of the line recorded last (the highest number), if any."""
    return db.session.scalars(
        sa.select(Delivery)
        .where(Delivery.plan_line_id == line_id)
        .order_by(Delivery.instalment.desc())
        .limit(1)
    ).first()


def _lock_line(line_id: int) -> None:
    """Hold the plan line's row until the commit (PostgreSQL): a second instalment of the
    same line waits here, then sees the first."""
    db.session.execute(sa.select(PlanLine.id).where(PlanLine.id == line_id).with_for_update())


def record_delivery(
    line_id: int, data: DeliveryInput, certificate: CertificateUpload, *, actor: Actor
) -> Delivery:
    """Record an instalment of plan line ``line_id`` (its only one, or the next), with its
    handover certificate.

    Checks, in this order: the actor's role (PermissionDenied) and scope (NotFound: case
    managers who see the plan, users of the referral's partner, administrators); the state
    (Conflict: the line fully delivered, plan not approved, case closed, referral not
    accepted); the input and the certificate (InvalidInput naming each bad field, and the
    quantity or amount that would take the line past what was planned). Then stores the
    certificate and inserts the instalment (``delivery.record``). The first one consumes the
    line's place and moves a ``plan_approved`` case to ``in_delivery``; each closes the line's
    next open delivery milestone; the one that completes the line (all its units, or its whole
    amount) marks the referral delivered and closes the line's other milestones; each
    audited. If anything fails after the file is written, the file is removed; the caller
    then rolls the session back (a refused insert leaves it unusable).
    """
    line = _recordable_line(line_id, actor)
    _lock_line(line.id)
    progress = line_progress([line.id])[line.id]
    refusal = _refusal(line, progress)
    if refusal is not None:
        raise refusal
    content = read_limited(certificate.stream, int(current_app.config["CERTIFICATE_MAX_BYTES"]) + 1)
    checked = _validate(data, line, progress, content)
    cleaned = checked.data
    assert line.referral is not None  # _refusal checked it
    assert cleaned.quantity is not None  # _validate set it
    number = progress.instalments_recorded + 1
    final = progress.completes(cleaned.quantity, checked.amount_line_minor)
    key, path = store(content)
    delivery = Delivery(
        plan_line_id=line.id,
        instalment=number,
        final=final,
        delivered_on=cleaned.delivered_on,
        quantity=cleaned.quantity,
        amount_minor=cleaned.amount_minor,
        currency=cleaned.currency,
        eur_rate=checked.rate,
        amount_eur_minor=checked.amount_eur_minor,
        amount_line_minor=checked.amount_line_minor,
        invoice_number=cleaned.invoice_number,
        note=cleaned.note,
        certificate_key=key,
        certificate_name=download_name(certificate.filename, checked.mime),
        certificate_type=checked.mime,
        certificate_size=len(content),
        certificate_sha256=hashlib.sha256(content).hexdigest(),
        recorded_by_id=actor.id,
        recorded_at=now_utc(),
    )
    try:
        record_audit("delivery.record", delivery, actor=actor, office_id=line.plan.audit_office_id)
        if number == 1 and line.hold_id is not None:
            consume_place(line.hold_id, actor=actor)
        _close_delivery_milestones(line, progress, cleaned.quantity, checked, final, actor)
        if final:
            line_delivered(delivery, actor=actor)
        if line.plan.returnee.status == CaseStatus.PLAN_APPROVED:
            advance_case(line.plan.returnee, CaseStatus.IN_DELIVERY, actor=actor)
    except sa.exc.IntegrityError:
        path.unlink(missing_ok=True)
        raise Conflict(
            _l("Another delivery of this line was recorded at the same moment; check it first.")
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return delivery


# --- reads -----------------------------------------------------------------------------------


def _loaded(stmt: sa.Select[tuple[Delivery]]) -> sa.Select[tuple[Delivery]]:
    """With what lists and pages show, in a fixed number of queries whatever the rows."""
    return stmt.options(
        joinedload(Delivery.plan_line).joinedload(PlanLine.plan).joinedload(Plan.returnee),
        joinedload(Delivery.plan_line).joinedload(PlanLine.referral),
        joinedload(Delivery.plan_line)
        .joinedload(PlanLine.option)
        .selectinload(SupportOption.texts),
        joinedload(Delivery.recorded_by),
    )


def get_delivery(delivery_id: int, *, actor: Actor) -> Delivery:
    """The delivery if ``actor`` may see it (see ``deliveries_statement``); NotFound otherwise."""
    if not 0 < delivery_id <= MAX_ID:
        raise NotFound(_l("Not found."))
    delivery = db.session.scalars(
        _loaded(sa.select(Delivery).where(Delivery.id == delivery_id, _visible(actor)))
    ).one_or_none()
    if delivery is None:
        raise NotFound(_l("Not found."))
    return delivery


def deliveries_statement(
    *, actor: Actor, plan_id: int | None = None, plan_line_id: int | None = None
) -> sa.Select[Any]:
    """The deliveries ``actor`` may see, newest first: administrators and programme managers
    all; partner users those of their partners' referrals; others those of the plans they see
    (counsellors their host office's cases, case managers their shared cases)."""
    stmt = sa.select(Delivery).where(_visible(actor))
    if plan_id is not None:
        stmt = stmt.where(
            Delivery.plan_line_id.in_(sa.select(PlanLine.id).where(PlanLine.plan_id == plan_id))
        )
    if plan_line_id is not None:
        stmt = stmt.where(Delivery.plan_line_id == plan_line_id)
    return _loaded(stmt).order_by(Delivery.id.desc())


def list_deliveries(
    *, actor: Actor, page: int = 1, page_size: int = 25, plan_id: int | None = None
) -> Page[Delivery]:
    """One page of ``deliveries_statement`` and the total, in a fixed number of queries."""
    stmt = deliveries_statement(actor=actor, plan_id=plan_id)
    return paginate(stmt, page=page, per_page=page_size)


def certificate_file(delivery_id: int, *, actor: Actor) -> tuple[Delivery, Path]:
    """The delivery and its certificate's path, for serving; every call is audited
    (``delivery.certificate_view``). NotFound when out of scope or the file is missing."""
    delivery = get_delivery(delivery_id, actor=actor)
    if not KEY.fullmatch(delivery.certificate_key):
        raise NotFound(_l("The certificate file is missing."))
    path = certificate_dir() / delivery.certificate_key
    if not path.is_file():
        raise NotFound(_l("The certificate file is missing."))
    record_audit(
        "delivery.certificate_view",
        delivery,
        actor=actor,
        changes={},
        office_id=delivery.plan_line.plan.audit_office_id,
    )
    return delivery, path
