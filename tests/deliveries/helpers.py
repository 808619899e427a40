"""A case with an approved plan whose line was referred to a partner who accepted it; real
PDF, JPEG and PNG bytes made here (no image library needed)."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from partners.capacity import hold_place
from partners.models import (
    Partner,
    PartnerMember,
    Referral,
    ReferralStatus,
    SupportOption,
)
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.deliveries.certificates import CertificateUpload
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.deliveries.services import DeliveryInput
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus
from tests.cases.helpers import register
from tests.factories import OfficeFactory, PartnerFactory, SupportOptionFactory, UserFactory

GEL_RATE = Decimal("0.34")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(padding: int = 0) -> bytes:
    """A 1x1 grey PNG; ``padding`` bytes of an ancillary text chunk make it larger."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    text = _png_chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    pixels = _png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    return b"\x89PNG\r\n\x1a\n" + header + text + pixels + _png_chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    """A 1x1 grey baseline JPEG: one all-zero block, Huffman tables with one code each."""
    segments = [
        b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64,
        b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 1, 1, 1) + b"\x01\x11\x00",
        b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00",
        b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00",
        b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00",
    ]
    # DC difference 0 ("0"), end of block ("0"), padded with one-bits
    return b"\xff\xd8" + b"".join(segments) + b"\x3f" + b"\xff\xd9"


PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
    b"trailer <</Root 1 0 R>>\n%%EOF\n"
)
PNG = png_bytes()
JPEG = jpeg_bytes()


def stored_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def delivery_row(line_id: int, **values: object) -> sa.Insert:
    """An INSERT of a delivery of the line, as another transaction would write it (GEL at the
    helpers' rate, a certificate that is not on disk); ``values`` replace the defaults."""
    return sa.insert(Delivery).values(
        **{
            "plan_line_id": line_id,
            "instalment": 1,
            "final": False,
            "delivered_on": now_utc().date(),
            "quantity": 1,
            "amount_minor": 1,
            "currency": "GEL",
            "eur_rate": GEL_RATE,
            "amount_eur_minor": 0,
            "amount_line_minor": 1,
            "certificate_key": "0" * 32,
            "certificate_name": "other.png",
            "certificate_type": "image/png",
            "certificate_size": 1,
            "certificate_sha256": "0" * 64,
            "recorded_at": now_utc(),
            **values,
        }
    )


def upload(content: bytes = PNG, filename: str = "handover.png") -> CertificateUpload:
    return CertificateUpload(filename, io.BytesIO(content))


def delivery_input(**changes: object) -> DeliveryInput:
    values: dict[str, object] = {
        "delivered_on": now_utc().date(),
        "amount_minor": 45000,
        "currency": "GEL",
        "eur_rate": None,
        "invoice_number": "INV-2026-001",
        "note": "Tools handed over in Kutaisi.",
        **changes,
    }
    return DeliveryInput(**values)  # type: ignore[arg-type]


@dataclass
class World:
    host: Office
    origin: Office
    counsellor: User
    case_manager: User
    partner_user: User
    admin: User
    partner: Partner
    option: SupportOption
    case: Returnee
    plan: Plan
    line: PlanLine
    referral: Referral


def case_manager_in(country: str, city: str) -> User:
    office = OfficeFactory(kind=OfficeKind.ORIGIN, country_code=country, city=city)
    return UserFactory(role=Role.CASE_MANAGER, office=office)


def partner_user_of(partner: Partner, office: Office) -> User:
    user = UserFactory(role=Role.PARTNER, office=office)
    db.session.add(PartnerMember(partner_id=partner.id, user_id=user.id))
    db.session.flush()
    return user


def build_world(
    *,
    plan_status: PlanStatus = PlanStatus.APPROVED,
    referral_status: ReferralStatus = ReferralStatus.ACCEPTED,
    approved_days_ago: int = 10,
    places: int | None = 3,
) -> World:
    """A Riga case returning to Georgia (consent shared with the origin office), its approved
    plan with one line (2 x 250 GEL), the place held and the referral answered."""
    host = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", city="Riga")
    origin = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE", city="Tbilisi")
    counsellor = UserFactory(role=Role.COUNSELLOR, office=host)
    case_manager = UserFactory(role=Role.CASE_MANAGER, office=origin)
    admin = UserFactory(
        role=Role.ADMIN, office=OfficeFactory(kind=OfficeKind.HOME, country_code="CH")
    )
    partner = PartnerFactory(office=origin)
    partner_user = partner_user_of(partner, origin)
    option = SupportOptionFactory(
        partner=partner,
        capacity_places=places,
        cost_minor=25000,
        currency="GEL",
        cost_eur_minor=8500,
        eur_rate=GEL_RATE,
    )
    if db.session.scalar(sa.select(ExchangeRate.id).where(ExchangeRate.currency == "GEL")) is None:
        db.session.add(
            ExchangeRate(currency="GEL", valid_on=dt.date(2020, 1, 1), eur_per_unit=GEL_RATE)
        )
    case = register(counsellor, consent_origin=True)
    case.origin_office_id, case.case_manager_id = origin.id, case_manager.id
    case.status = (
        CaseStatus.PLAN_APPROVED
        if plan_status == PlanStatus.APPROVED
        else CaseStatus.PLAN_SUBMITTED
    )
    approved_at = now_utc() - dt.timedelta(days=approved_days_ago)
    plan = Plan(
        returnee_id=case.id,
        status=plan_status,
        cap_eur_minor=200000,
        total_eur_minor=17000,
        approved_at=approved_at if plan_status == PlanStatus.APPROVED else None,
    )
    line = PlanLine(
        plan=plan,
        option_id=option.id,
        quantity=2,
        unit_cost_minor=25000,
        currency="GEL",
        eur_rate=GEL_RATE,
        rate_on=approved_at.date(),
        total_eur_minor=17000,
    )
    db.session.add_all([plan, line])
    db.session.flush()
    line.hold_id = hold_place(option.id, line.reference, actor=case_manager).hold_id
    referral = Referral(
        reference=line.reference,
        option_id=option.id,
        partner_id=partner.id,
        hold_id=line.hold_id,
        office_id=origin.id,
        status=referral_status,
        expires_at=now_utc() + dt.timedelta(days=7),
        answered_at=now_utc(),
        case_number=case.case_number,
        first_name=case.first_name,
        quantity=2,
        contact_name=case_manager.full_name,
        contact_email=case_manager.email,
    )
    db.session.add(referral)
    db.session.flush()
    line.referral_id = referral.id
    db.session.flush()
    return World(
        host=host,
        origin=origin,
        counsellor=counsellor,
        case_manager=case_manager,
        partner_user=partner_user,
        admin=admin,
        partner=partner,
        option=option,
        case=case,
        plan=plan,
        line=line,
        referral=referral,
    )


def form_data(content: bytes = PNG, filename: str = "handover.png", **changes: str) -> dict:
    return {
        "delivered_on": now_utc().date().isoformat(),
        "amount": "450.00",
        "currency": "GEL",
        "eur_rate": "",
        "invoice_number": "INV-7",
        "note": "",
        "certificate": (io.BytesIO(content), filename),
        **changes,
    }
