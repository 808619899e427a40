"""Offices, users and cases for the case tests: Riga and Prague host offices, Tbilisi origin."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from pypdf import PdfWriter

from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import services
from reintegration_hub.cases.models import LegalStatus, Returnee
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.vocabulary import Sex
from tests.clock import TODAY
from tests.factories import OfficeFactory, UserFactory


def host_office(country: str = "LV", city: str = "Riga") -> Office:
    return OfficeFactory(kind=OfficeKind.HOST, country_code=country, city=city)


def origin_office(country: str = "GE", city: str = "Tbilisi") -> Office:
    return OfficeFactory(kind=OfficeKind.ORIGIN, country_code=country, city=city)


def counsellor(office: Office | None = None) -> User:
    return UserFactory(role=Role.COUNSELLOR, office=office or host_office())


def case_manager(office: Office | None = None) -> User:
    return UserFactory(role=Role.CASE_MANAGER, office=office or origin_office())


def details(**overrides: Any) -> services.CaseDetails:
    values: dict[str, Any] = {
        "first_name": "Nino",
        "last_name": "Beridze",
        "date_of_birth": dt.date(1990, 4, 12),
        "sex": Sex.FEMALE,
        "nationality": "GE",
        "return_country_code": "GE",
        "return_region": "Imereti",
        "return_city": "Kutaisi",
        "languages": ["ka", "ru"],
        "contact_after_return": "+995 555 000 000",
        "legal_status": LegalStatus.REJECTED_ASYLUM_SEEKER,
        **overrides,
    }
    return services.CaseDetails(**values)


def register(actor: User, *, consent_origin: bool = False, **overrides: Any) -> Returnee:
    consent = services.ConsentInput(
        share_with_origin_office=consent_origin,
        share_with_partners=False,
        given_on=TODAY,
    )
    return services.register_case(
        details(**overrides), consent=consent, confirm_duplicate=True, actor=actor
    )


PAYLOAD = {
    "first_name": "Aram",
    "last_name": "Petrosyan",
    "date_of_birth": "1979-09-09",
    "sex": "male",
    "nationality": "AM",
    "return_country_code": "AM",
    "languages": ["hy"],
    "legal_status": "rejected_asylum_seeker",
    "dependants": [{"relation": "child", "date_of_birth": "2012-01-01"}],
    "vulnerabilities": [{"category": "serious_illness", "notes": "diabetes"}],
    "consent": {
        "share_with_origin_office": True,
        "share_with_partners": False,
        "given_on": "2026-01-02",
    },
}


def pdf_bytes(*, password: str | None = None) -> bytes:
    """A one-page PDF (encrypted with ``password`` if given), as a PDF writer makes it."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if password is not None:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def texted(actor: User, *, number: str = "+995 555 12 34 56", **overrides: Any) -> Returnee:
    """A case with a mobile number whose consent allows text messages (and sharing with the
    origin office)."""
    case = services.register_case(
        details(mobile_number=number, **overrides),
        consent=services.ConsentInput(
            share_with_origin_office=True,
            share_with_partners=False,
            given_on=TODAY,
            sms_contact=True,
        ),
        confirm_duplicate=True,
        actor=actor,
    )
    return case
