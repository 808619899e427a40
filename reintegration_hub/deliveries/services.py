"""Recording deliveries of approved plan lines, with their handover certificates.

The origin case manager, or a user of the partner that accepted the referral, records that a
plan line was delivered: the date, what was paid (and the euro rate used) and the handover
certificate. Recording consumes the line's place, marks the referral delivered and moves the
case to "in delivery" in the same transaction.

Certificates are PDF, JPEG or PNG, decided by their content alone (the signature at the start
of the file, confirmed by puremagic), never by the file name or the client's content type.
They are stored outside the web root (``CERTIFICATE_DIR``) under a random name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, BinaryIO

import puremagic
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload
from werkzeug.utils import secure_filename

from partners.models import PartnerMember, Referral, ReferralStatus, SupportOption
from partners.referrals import mark_referral_delivered
from partners.services import consume_place
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.cases.services import advance_case
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, sees_all_offices
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.i18n import currency_codes
from reintegration_hub.core.money import eur_per_unit, to_eur_minor
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.validation import MAX_AMOUNT_MINOR, MAX_ID
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MilestoneKind
from reintegration_hub.followups.services import complete_milestones
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus

#: Who records deliveries: the origin case manager, the partner's users, administrators.
RECORDER_ROLES = frozenset({Role.CASE_MANAGER, Role.PARTNER, Role.ADMIN})
MAX_PAGE_SIZE = 100
MAX_PAGE = 10**6  # keeps the offset inside a BIGINT
#: Bounds that keep amounts and rates inside their columns (BIGINT, NUMERIC(18, 10)).
MAX_AMOUNT_EUR_MINOR = 10**15
MAX_RATE = Decimal(10) ** 8
RATE_PLACES = Decimal("1e-10")
INVOICE_MAX = 64
NOTE_MAX = 1000
NAME_MAX = 200

#: The accepted certificate types: (MIME type, signature at offset 0, file name extension).
CERTIFICATE_TYPES: tuple[tuple[str, bytes, str], ...] = (
    ("application/pdf", b"%PDF-", "pdf"),
    ("image/jpeg", b"\xff\xd8\xff", "jpg"),
    ("image/png", b"\x89PNG\r\n\x1a\n", "png"),
)
#: The file name extensions each type may keep on download.
EXTENSIONS = {"application/pdf": {"pdf"}, "image/jpeg": {"jpg", "jpeg"}, "image/png": {"png"}}
_KEY = re.compile(r"[0-9a-f]{32}")
_CHUNK = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class DeliveryInput:
    delivered_on: dt.date
    amount_minor: int
    currency: str  # ISO 4217
    eur_rate: Decimal | None  # None: the recorded ExchangeRate in force on delivered_on
    invoice_number: str
    note: str = ""


@dataclass(frozen=True)
class CertificateUpload:
    filename: str  # as the client named it; only kept (sanitised) for the download
    stream: BinaryIO  # read at most CERTIFICATE_MAX_BYTES + 1 bytes


@dataclass(frozen=True)
class RecordingState:
    """What the recording page shows for a line: why recording is refused, if it is."""

    line: PlanLine
    refusal: Conflict | None
    delivery_id: int | None  # the delivery already recorded for the line


@dataclass
class DeliveryPage:
    items: list[Delivery]
    total: int
    page: int
    page_size: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, -(-self.total // self.page_size))


# --- access ----------------------------------------------------------------------------------


def _partner_ids(actor: Actor) -> sa.Select[Any]:
    return sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == actor.id)


def _visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Deliveries ``actor`` may read: of the plans they see, or of their partners' referrals."""
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
    return Delivery.plan_line_id.in_(lines)


def _recordable_line(line_id: int, actor: Actor) -> PlanLine:
    """The line if ``actor`` may record its delivery: PermissionDenied for other roles,
    NotFound when the line is missing or out of their scope (never says which)."""
    if actor.role not in RECORDER_ROLES:
        raise PermissionDenied(
            _l("Only case managers, partners and administrators record deliveries.")
        )
    if not 0 < line_id <= MAX_ID:
        raise NotFound(_l("Not found."))
    line = db.session.scalars(
        sa.select(PlanLine)
        .where(PlanLine.id == line_id)
        .options(
            joinedload(PlanLine.plan).joinedload(Plan.returnee),
            joinedload(PlanLine.referral),
            joinedload(PlanLine.option).selectinload(SupportOption.texts),
        )
    ).one_or_none()
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


def _delivery_id_for(line_id: int) -> int | None:
    return db.session.scalar(sa.select(Delivery.id).where(Delivery.plan_line_id == line_id))


def _refusal(line: PlanLine, delivery_id: int | None) -> Conflict | None:
    """Why no delivery can be recorded for ``line`` now; None when it can."""
    if delivery_id is not None:
        return Conflict(_l("A delivery is already recorded for this plan line."))
    if line.plan.status != PlanStatus.APPROVED:
        return Conflict(_l("Deliveries are recorded only for lines of an approved plan."))
    if line.plan.returnee.status == CaseStatus.CLOSED:
        return Conflict(_l("The case is closed."))
    if line.referral is None or line.referral.status != ReferralStatus.ACCEPTED:
        return Conflict(_l("Only a line whose referral the partner accepted can be delivered."))
    return None


def recording_state(line_id: int, *, actor: Actor) -> RecordingState:
    """The line for the recording page, with the refusal ``record_delivery`` would raise.

    Raises what ``record_delivery`` raises for the actor: PermissionDenied, NotFound.
    """
    line = _recordable_line(line_id, actor)
    delivery_id = _delivery_id_for(line.id)
    return RecordingState(line=line, refusal=_refusal(line, delivery_id), delivery_id=delivery_id)


# --- validation ------------------------------------------------------------------------------


def _read_limited(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream`` (a short read does not end it early)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def detect_certificate_type(content: bytes) -> str | None:
    """The MIME type of ``content`` if it is a PDF, JPEG or PNG, else None.

    Both must agree: the format's signature at the very start of the file, and puremagic's
    identification of the content.
    """
    declared = next(
        (mime for mime, magic, _ext in CERTIFICATE_TYPES if content.startswith(magic)), None
    )
    if declared is None:
        return None
    try:
        found = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        return None
    return declared if any(match.mime_type == declared for match in found) else None


def _download_name(filename: str, mime: str) -> str:
    """The uploaded name made safe (``secure_filename``), with an extension that matches the
    detected type (a PNG sent as ``scan.pdf`` downloads as ``scan.png``)."""
    extension = next(ext for known, _magic, ext in CERTIFICATE_TYPES if known == mime)
    name = secure_filename(filename).lstrip("._")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if suffix.lower() not in EXTENSIONS[mime]:
        suffix = extension
    stem = stem.rstrip("._") or "certificate"
    return f"{stem[: NAME_MAX - len(suffix) - 1]}.{suffix}"


def _check_certificate(content: bytes, errors: dict[str, list[Any]]) -> str | None:
    limit = int(current_app.config["CERTIFICATE_MAX_BYTES"])
    if not content:
        errors["certificate"] = [_l("Attach the handover certificate: the file is empty.")]
        return None
    if len(content) > limit:
        errors["certificate"] = [
            _l("The certificate is larger than %(size)d MB.", size=max(1, limit // 2**20))
        ]
        return None
    mime = detect_certificate_type(content)
    if mime is None:
        errors["certificate"] = [_l("The certificate must be a PDF, JPEG or PNG file.")]
    return mime


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


def _validate(
    data: DeliveryInput, plan: Plan, content: bytes
) -> tuple[DeliveryInput, Decimal, int, str]:
    """The cleaned input, the rate, the amount in euro cents and the certificate's type."""
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
    cleaned = DeliveryInput(
        delivered_on=data.delivered_on,
        amount_minor=data.amount_minor,
        currency=currency,
        eur_rate=data.eur_rate,
        invoice_number=invoice,
        note=note,
    )
    rate = _check_rate(cleaned, errors)
    amount_eur_minor = 0
    if rate is not None and "amount_minor" not in errors and "currency" not in errors:
        amount_eur_minor = to_eur_minor(cleaned.amount_minor, currency, rate)
        if amount_eur_minor > MAX_AMOUNT_EUR_MINOR:
            errors["amount_minor"] = [_l("The amount is too large.")]
    mime = _check_certificate(content, errors)
    if errors:
        raise InvalidInput(_l("Check the delivery's details."), field_errors=errors)
    assert rate is not None
    assert mime is not None
    return cleaned, rate, amount_eur_minor, mime


# --- storage ---------------------------------------------------------------------------------


def certificate_dir() -> Path:
    """Where certificates are kept: ``CERTIFICATE_DIR``, or ``instance/certificates``.

    Refuses a directory inside the static folder: certificates are never served directly.
    """
    configured = current_app.config.get("CERTIFICATE_DIR")
    directory = Path(configured) if configured else Path(current_app.instance_path) / "certificates"
    directory = directory.resolve()
    static = current_app.static_folder
    if static and directory.is_relative_to(Path(static).resolve()):
        raise RuntimeError("CERTIFICATE_DIR must be outside the static folder")
    return directory


def _store(content: bytes) -> tuple[str, Path]:
    """Write ``content`` under a new random name (a temporary file, then renamed into place,
    so a reader never sees half a file); returns the name and the path."""
    directory = certificate_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    path = directory / key
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return key, path


# --- recording -------------------------------------------------------------------------------


def record_delivery(
    line_id: int, data: DeliveryInput, certificate: CertificateUpload, *, actor: Actor
) -> Delivery:
    """Record that plan line ``line_id`` was delivered, with its handover certificate.

    Checks, in this order: the actor's role (PermissionDenied) and scope (NotFound: case
    managers who see the plan, users of the referral's partner, administrators); the state
    (Conflict: a delivery already recorded, plan not approved, case closed, referral not
    accepted); the input and the certificate (InvalidInput naming each bad field). Then stores
    the certificate, inserts the delivery (``delivery.record``), consumes the line's place,
    marks the referral delivered and moves a ``plan_approved`` case to ``in_delivery``, each
    audited. If anything fails after the file is written, the file is removed; the caller
    then rolls the session back (a refused insert leaves it unusable).
    """
    line = _recordable_line(line_id, actor)
    refusal = _refusal(line, _delivery_id_for(line.id))
    if refusal is not None:
        raise refusal
    content = _read_limited(
        certificate.stream, int(current_app.config["CERTIFICATE_MAX_BYTES"]) + 1
    )
    cleaned, rate, amount_eur_minor, mime = _validate(data, line.plan, content)
    assert line.referral is not None  # _refusal checked it
    key, path = _store(content)
    delivery = Delivery(
        plan_line_id=line.id,
        delivered_on=cleaned.delivered_on,
        amount_minor=cleaned.amount_minor,
        currency=cleaned.currency,
        eur_rate=rate,
        amount_eur_minor=amount_eur_minor,
        invoice_number=cleaned.invoice_number,
        note=cleaned.note,
        certificate_key=key,
        certificate_name=_download_name(certificate.filename, mime),
        certificate_type=mime,
        certificate_size=len(content),
        certificate_sha256=hashlib.sha256(content).hexdigest(),
        recorded_by_id=actor.id,
        recorded_at=now_utc(),
    )
    try:
        record_audit("delivery.record", delivery, actor=actor, office_id=line.plan.audit_office_id)
        if line.hold_id is not None:
            consume_place(line.hold_id, actor=actor)
        mark_referral_delivered(line.referral.id, actor=actor)
        complete_milestones(
            line.plan.returnee_id, MilestoneKind.LINE_DELIVERED, plan_line_id=line.id, actor=actor
        )
        if line.plan.returnee.status == CaseStatus.PLAN_APPROVED:
            advance_case(line.plan.returnee, CaseStatus.IN_DELIVERY, actor=actor)
    except sa.exc.IntegrityError:
        path.unlink(missing_ok=True)
        raise Conflict(_l("A delivery is already recorded for this plan line.")) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return delivery


# --- reads -----------------------------------------------------------------------------------


def _loaded(stmt: sa.Select[Any]) -> sa.Select[Any]:
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


def deliveries_statement(*, actor: Actor, plan_id: int | None = None) -> sa.Select[Any]:
    """The deliveries ``actor`` may see, newest first: administrators and programme managers
    all; partner users those of their partners' referrals; others those of the plans they see
    (counsellors their host office's cases, case managers their shared cases)."""
    stmt = sa.select(Delivery).where(_visible(actor))
    if plan_id is not None:
        stmt = stmt.where(
            Delivery.plan_line_id.in_(sa.select(PlanLine.id).where(PlanLine.plan_id == plan_id))
        )
    return _loaded(stmt).order_by(Delivery.id.desc())


def list_deliveries(
    *, actor: Actor, page: int = 1, page_size: int = 25, plan_id: int | None = None
) -> DeliveryPage:
    """One page of ``deliveries_statement`` and the total, in a fixed number of queries."""
    page = min(max(page, 1), MAX_PAGE)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    stmt = deliveries_statement(actor=actor, plan_id=plan_id)
    total = int(
        db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
        or 0
    )
    rows = db.session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)).unique()
    return DeliveryPage(items=list(rows), total=total, page=page, page_size=page_size)


def certificate_file(delivery_id: int, *, actor: Actor) -> tuple[Delivery, Path]:
    """The delivery and its certificate's path, for serving; every call is audited
    (``delivery.certificate_view``). NotFound when out of scope or the file is missing."""
    delivery = get_delivery(delivery_id, actor=actor)
    if not _KEY.fullmatch(delivery.certificate_key):
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
