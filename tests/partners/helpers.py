"""Partner test helpers: a referral sent for a case of a Georgian origin office."""

from __future__ import annotations

import datetime as dt

from partners import capacity
from partners.models import Referral, SupportOption
from partners.referrals import ReferralRequest, send_referral
from reintegration_hub.auth.models import Office
from reintegration_hub.core.roles import OfficeKind, SystemActor
from tests.factories import OfficeFactory, SupportOptionFactory

ACTOR = SystemActor("test")
CONTACT = "tamar.case@iom.example.org"


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
