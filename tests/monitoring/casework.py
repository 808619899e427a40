"""Hand-made case work for the monitoring tests: rows written directly, every date chosen, so
that the expected figures can be worked out by hand."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from partners.models import (
    DeclineReason,
    Partner,
    Referral,
    ReferralStatus,
    SupportCategory,
    SupportOption,
)
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import CaseStatus, LegalStatus, Returnee
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import ScoringVersion, SustainabilitySurvey
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus
from reintegration_hub.programmes.models import (
    Grant,
    GrantFundingSource,
    GrantTarget,
    TargetIndicator,
)
from tests.factories import OfficeFactory, PartnerFactory, SupportOptionFactory, UserFactory

_numbers = itertools.count(1)


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@dataclass
class Offices:
    riga: Office
    prague: Office
    tbilisi: Office
    home: Office
    riga_counsellor: User
    prague_counsellor: User
    programme_manager: User


def offices() -> Offices:
    riga = OfficeFactory(name="IOM Riga", kind=OfficeKind.HOST, country_code="LV", city="Riga")
    prague = OfficeFactory(
        name="IOM Prague", kind=OfficeKind.HOST, country_code="CZ", city="Prague"
    )
    tbilisi = OfficeFactory(
        name="IOM Tbilisi", kind=OfficeKind.ORIGIN, country_code="GE", city="Tbilisi"
    )
    home = OfficeFactory(name="IOM Home", kind=OfficeKind.HOME, country_code="LV", city="Riga")
    return Offices(
        riga=riga,
        prague=prague,
        tbilisi=tbilisi,
        home=home,
        riga_counsellor=UserFactory(role=Role.COUNSELLOR, office=riga, full_name="Rita Riga"),
        prague_counsellor=UserFactory(
            role=Role.COUNSELLOR, office=prague, full_name="Pavel Prague"
        ),
        programme_manager=UserFactory(
            role=Role.PROGRAMME_MANAGER, office=home, full_name="Paula Manager"
        ),
    )


def partner_with_option(
    where: Offices, name: str, category: SupportCategory = SupportCategory.BUSINESS_START_UP
) -> tuple[Partner, SupportOption]:
    partner = PartnerFactory(office=where.tbilisi, name=name)
    option = SupportOptionFactory(partner=partner, category=category, cost_minor=50_000)
    return partner, option


def case(
    where: Offices,
    host: Office,
    *,
    first_name: str = "Nino",
    last_name: str = "Secretname",
    departed_on: dt.date | None = None,
    grant_id: int | None = None,
    return_country: str = "GE",
    status: CaseStatus = CaseStatus.MONITORING,
    vulnerable: bool = False,
    created_at: dt.datetime | None = None,
) -> Returnee:
    counsellor = where.riga_counsellor if host.id == where.riga.id else where.prague_counsellor
    number = next(_numbers)
    returnee = Returnee(
        case_number=f"{host.country_code}-2026-{number:05d}",
        first_name=first_name,
        last_name=last_name,
        date_of_birth=dt.date(1990, 1, 1),
        sex=Sex.FEMALE,
        nationality=return_country,
        return_country_code=return_country,
        return_city="Kutaisi",
        host_office_id=host.id,
        counsellor_id=counsellor.id,
        origin_office_id=where.tbilisi.id,
        legal_status=LegalStatus.IRREGULAR_STAY,
        status=status,
        departed_on=departed_on,
        grant_id=grant_id,
    )
    if created_at is not None:
        returnee.created_at = created_at
    if vulnerable:
        from reintegration_hub.cases.models import VulnerabilityEntry

        returnee.vulnerabilities = [VulnerabilityEntry(category=next(iter(VulnerabilityCategory)))]
    db.session.add(returnee)
    db.session.flush()
    return returnee


def plan(returnee: Returnee, approved_on: dt.date | None = None) -> Plan:
    row = Plan(
        returnee_id=returnee.id,
        status=PlanStatus.APPROVED if approved_on else PlanStatus.DRAFT,
        approved_at=at(approved_on) if approved_on else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def referred_line(
    plan_row: Plan,
    option: SupportOption,
    *,
    sent: dt.datetime,
    answered: dt.datetime | None = None,
    declined: bool = False,
    status: ReferralStatus | None = None,
    total_eur_minor: int = 50_000,
) -> PlanLine:
    """A plan line of ``option`` and its referral, sent and answered when given."""
    line = PlanLine(
        plan_id=plan_row.id,
        option_id=option.id,
        unit_cost_minor=total_eur_minor,
        currency="EUR",
        eur_rate=Decimal(1),
        rate_on=sent.date(),
        total_eur_minor=total_eur_minor,
    )
    db.session.add(line)
    db.session.flush()
    if status is None:
        status = (
            ReferralStatus.DECLINED
            if declined
            else ReferralStatus.ACCEPTED
            if answered
            else ReferralStatus.SENT
        )
    referral = Referral(
        reference=line.reference,
        option_id=option.id,
        partner_id=option.partner_id,
        office_id=db.session.get(Returnee, plan_row.returnee_id).origin_office_id,
        status=status,
        decline_reason=DeclineReason.NO_CAPACITY if declined else None,
        sent_at=sent,
        expires_at=sent + dt.timedelta(days=7),
        answered_at=answered,
        case_number="XX",
        first_name="Nino",
    )
    db.session.add(referral)
    db.session.flush()
    line.referral_id = referral.id
    db.session.flush()
    return line


def deliver(line: PlanLine, on: dt.date, amount_eur_minor: int | None = None) -> Delivery:
    amount = line.total_eur_minor if amount_eur_minor is None else amount_eur_minor
    row = Delivery(
        plan_line_id=line.id,
        delivered_on=on,
        amount_minor=amount,
        currency="EUR",
        eur_rate=Decimal(1),
        amount_eur_minor=amount,
        certificate_key=f"cert-{line.id}",
        certificate_name="handover.png",
        certificate_type="image/png",
        certificate_size=10,
        certificate_sha256="0" * 64,
    )
    db.session.add(row)
    referral = db.session.get(Referral, line.referral_id)
    if referral is not None:
        referral.status = ReferralStatus.DELIVERED
    db.session.flush()
    return row


def survey(
    returnee: Returnee,
    taken_on: dt.date,
    economic: float,
    social: float,
    psychosocial: float,
) -> SustainabilitySurvey:
    version = db.session.scalars(sa.select(ScoringVersion).order_by(ScoringVersion.id)).first()
    assert version is not None
    row = SustainabilitySurvey(
        returnee_id=returnee.id,
        taken_on=taken_on,
        answers={},
        scoring_version_id=version.id,
        economic=economic,
        social=social,
        psychosocial=psychosocial,
        composite=round((economic + social + psychosocial) / 3, 4),
        band="medium",
    )
    db.session.add(row)
    db.session.flush()
    return row


def grant(number: str) -> Grant:
    """A grant of 2026-2027 with two funding sources and targets for returns and reintegration."""
    grant = Grant(
        number=number,
        title="Return and reintegration from Latvia",
        start_on=dt.date(2026, 1, 1),
        end_on=dt.date(2027, 12, 31),
        currency="EUR",
        total_budget_minor=10_000_000,
        funding_sources=[
            GrantFundingSource(name="AMIF", share_bp=7500),
            GrantFundingSource(name="State budget", share_bp=2500),
        ],
        targets=[
            GrantTarget(indicator=TargetIndicator.RETURNS, target_value=280),
            GrantTarget(indicator=TargetIndicator.REINTEGRATION, target_value=140),
        ],
    )
    db.session.add(grant)
    db.session.flush()
    return grant
