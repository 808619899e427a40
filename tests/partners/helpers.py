"""Partner test helpers: a referral sent for a case of a Georgian origin office, an option
and its import rows, the partner's answer form and link."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import sqlalchemy as sa

from partners import capacity, imports
from partners.models import Referral, SupportCategory, SupportOption
from partners.referrals import ReferralRequest, send_referral
from partners.services import LocationInput, OptionInput, TextInput
from reintegration_hub.auth.models import Office
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import OfficeKind, Role, SystemActor
from reintegration_hub.extensions import db
from tests.factories import OfficeFactory, SupportOptionFactory, UserFactory

ACTOR = SystemActor("test")
CONTACT = "tamar.case@iom.example.org"
LINK = re.compile(r"http://127\.0\.0\.1:5000(/marketplace/referrals/answer/\S+)")
COLUMNS = list(imports.COLUMNS)


def origin_office() -> Office:
    return OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE")


def refer(
    option: SupportOption | None = None,
    *,
    office: Office | None = None,
    reference: str = "plan-line:1",
    hold: bool = True,
    vulnerability_note: str = "",
) -> Referral:
    option = option or SupportOptionFactory(capacity_places=2)
    office = office or origin_office()
    hold_id = capacity.hold_place(option.id, reference, actor=ACTOR).hold_id if hold else None
    return send_referral(
        ReferralRequest(
            option_id=option.id,
            reference=reference,
            hold_id=hold_id,
            office_id=office.id,
            case_number="LV-2026-00042",
            first_name="Nino",
            quantity=1,
            starts_on=dt.date(2026, 5, 4),
            note_for_partner="Prefers morning classes.",
            vulnerability_note=vulnerability_note,
            contact_name="Tamar Case",
            contact_email=CONTACT,
            contact_phone="+995 555 010 203",
            shared_with_office=True,
            shared_with_partner=True,
        ),
        actor=ACTOR,
    )


def case_manager(country: str = "GE"):
    office = OfficeFactory(kind=OfficeKind.ORIGIN, country_code=country)
    return UserFactory(role=Role.CASE_MANAGER, office=office)


def kutaisi_course(**changes: object) -> OptionInput:
    data = OptionInput(
        category=SupportCategory.VOCATIONAL_TRAINING,
        texts=[
            TextInput("en", "Sewing course in Kutaisi", "Three months, certificate at the end."),
            TextInput("ka", "კერვის კურსი ქუთაისში", "სამი თვე."),
        ],
        locations=[
            LocationInput(
                "Kutaisi", "Imereti", latitude=Decimal("42.27"), longitude=Decimal("42.70")
            )
        ],
        service_area=["Imereti"],
        vulnerabilities_served=["single_parent"],
        max_family_size=6,
        cost_minor=120_000,
        currency="GEL",
        delivery_languages=["ka"],
        capacity_places=8,
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


API = "/api/v1/marketplace"


OPTION = {
    "category": "housing",
    "texts": [{"language": "en", "title": "Rent support in Tbilisi"}],
    "locations": [
        {"city": "Tbilisi", "region": "Tbilisi", "latitude": "41.7151", "longitude": "44.8271"}
    ],
    "max_family_size": 5,
    "vulnerabilities_served": ["single_parent"],
    "cost_minor": 30000,
    "currency": "EUR",
    "cost_basis": "per_month",
    "delivery_mode": "cash",
    "capacity_places": 1,
}


def rows(partner_name: str, count: int = 3) -> list[dict[str, str]]:
    base = {**imports.COLUMNS, "partner": partner_name, "currency": "EUR", "cost": "150.50"}
    return [{**base, "title_en": f"Course {n}", "city": f"City {n}"} for n in range(count)]


def as_csv(data: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue().encode()


def link_path(referral: Referral) -> str:
    (message,) = [m for m in outbox() if m.key == f"referral:{referral.id}:sent"]
    match = LINK.search(message.body_text)
    assert match, message.body_text
    return match.group(1)


def accept_form(note: str = "") -> dict[str, str]:
    return {"accept-note": note, "accept-submit": "Accept"}


def fresh(referral_id: int) -> Referral:
    db.session.expire_all()
    found = db.session.get(Referral, referral_id)
    assert found is not None
    return found


def outbox(key_suffix: str = "") -> list[OutboxMessage]:
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if key_suffix:
        stmt = stmt.where(OutboxMessage.key.endswith(key_suffix))
    return list(db.session.scalars(stmt))
