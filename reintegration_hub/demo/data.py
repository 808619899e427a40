"""The demo world, loaded through the same services as real data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from partners.models import Partner
from reintegration_hub.auth import services as auth
from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.roles import OfficeKind, Role, SystemActor
from reintegration_hub.demo.marketplace import load_marketplace
from reintegration_hub.extensions import db
from reintegration_hub.followups.ownership import set_office_supervisor
from reintegration_hub.programmes import services as programmes
from reintegration_hub.programmes.models import TargetIndicator

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for the demo, refused in production

OFFICES: list[tuple[str, OfficeKind, str, str, list[str]]] = [
    ("IOM Vilnius", OfficeKind.HOST, "LT", "Vilnius", ["lt", "en", "ru"]),
    ("IOM Riga", OfficeKind.HOST, "LV", "Riga", ["lv", "en", "ru"]),
    ("IOM Prague", OfficeKind.HOST, "CZ", "Prague", ["cs", "en", "vi", "mn"]),
    ("IOM Tbilisi", OfficeKind.ORIGIN, "GE", "Tbilisi", ["ka", "en", "ru"]),
    ("IOM Yerevan", OfficeKind.ORIGIN, "AM", "Yerevan", ["hy", "en", "ru"]),
    ("IOM Baku", OfficeKind.ORIGIN, "AZ", "Baku", ["az", "en", "ru"]),
    ("IOM Dushanbe", OfficeKind.ORIGIN, "TJ", "Dushanbe", ["tg", "ru", "en"]),
    ("IOM Erbil", OfficeKind.ORIGIN, "IQ", "Erbil", ["ar", "ku", "en"]),
    ("IOM Hanoi", OfficeKind.ORIGIN, "VN", "Hanoi", ["vi", "en"]),
    ("IOM Ulaanbaatar", OfficeKind.ORIGIN, "MN", "Ulaanbaatar", ["mn", "en", "ru"]),
    ("Home office (AVRR programme)", OfficeKind.HOME, "LV", "Riga", ["en", "lv"]),
]


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    office: str
    role: Role
    language: str = "en"


USERS = [
    DemoUser("admin@demo.example", "Ada Admin", "Home office (AVRR programme)", Role.ADMIN),
    DemoUser(
        "manager@demo.example",
        "Mara Manager",
        "Home office (AVRR programme)",
        Role.PROGRAMME_MANAGER,
    ),
    DemoUser("counsellor.riga@demo.example", "Liene Counsellor", "IOM Riga", Role.COUNSELLOR, "lv"),
    DemoUser(
        "counsellor.vilnius@demo.example", "Rūta Counsellor", "IOM Vilnius", Role.COUNSELLOR, "lt"
    ),
    DemoUser(
        "counsellor.prague@demo.example", "Petra Counsellor", "IOM Prague", Role.COUNSELLOR, "cs"
    ),
    DemoUser(
        "casemanager.tbilisi@demo.example", "Nino Case Manager", "IOM Tbilisi", Role.CASE_MANAGER
    ),
    DemoUser(
        "casemanager.yerevan@demo.example", "Aram Case Manager", "IOM Yerevan", Role.CASE_MANAGER
    ),
    DemoUser("partner.tbilisi@demo.example", "Giorgi Partner", "IOM Tbilisi", Role.PARTNER),
]


#: The organisation whose referrals the demo's partner focal point answers.
PARTNER_OF_DEMO_FOCAL_POINT = "Imereti Vocational Training Centre"


def is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(Office.id))) == 0


def load() -> list[DemoUser]:
    """Create the demo world in the current transaction; the caller commits."""
    actor = SystemActor("demo")
    offices = {
        name: auth.create_office(
            name=name, kind=kind, country_code=country, city=city, languages=langs, actor=actor
        )
        for name, kind, country, city, langs in OFFICES
    }
    created: dict[str, User] = {}
    for user in USERS:
        created[user.email] = auth.create_user(
            email=user.email,
            full_name=user.full_name,
            office_id=offices[user.office].id,
            role=user.role,
            preferred_language=user.language,
            password=DEMO_PASSWORD,
            actor=actor,
        )
    for staff in created.values():  # each office's one counsellor or case manager supervises it
        if staff.role in {Role.COUNSELLOR, Role.CASE_MANAGER}:
            set_office_supervisor(staff.office_id, staff.id, actor=created["admin@demo.example"])
    programmes.create_grant(
        number="AK/IOM/PMIF/2018/1",
        title="Assisted voluntary return and reintegration of third-country nationals (Latvia)",
        start_on=dt.date(2019, 1, 3),
        end_on=dt.date(2022, 12, 31),
        currency="EUR",
        total_budget_minor=532_651_00,
        funding_shares={"AMIF": 7500, "State budget": 2500},
        targets={
            TargetIndicator.RETURNS: 280,
            TargetIndicator.REINTEGRATION: 140,
            TargetIndicator.SHORT_STAYS: 56,
        },
        actor=actor,
    )
    load_marketplace({name: office.id for name, office in offices.items()}, actor=actor)
    db.session.flush()
    kutaisi_centre = db.session.scalar(
        sa.select(Partner.id).where(Partner.name == PARTNER_OF_DEMO_FOCAL_POINT)
    )
    assert kutaisi_centre is not None
    auth.set_partner_memberships(
        created["partner.tbilisi@demo.example"].id,
        [kutaisi_centre],
        actor=created["admin@demo.example"],
    )
    return USERS
