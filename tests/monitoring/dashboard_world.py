"""A hand-made programme for the dashboard tests: five cases whose every figure is worked out
by hand in the tests (see ``test_dashboard.py``).

    case  host     country origin   grant departed    arrived     vulnerable plan      closed
    C1    Riga     GE      Tbilisi  G     2024-01-10  2024-01-11  yes        approved  -
    C2    Riga     GE      Tbilisi  G     2024-02-05  -           no         approved  -
    C3    Vilnius  AM      Yerevan  G     2024-03-01  2024-03-02  no         submitted -
    C4    Vilnius  AM      Yerevan  -     -           -           no         -         withdrew
    C5    Riga     AM      Yerevan  G     2023-12-20  2023-12-21  no         approved  completed

Approved plans: C1 on 2024-01-25 (15 days after return), line of P1's business option EUR
1,000.00, delivered EUR 800.00; C2 on 2024-01-30 (6 days before return), line of P2's business
option EUR 500.00, not delivered; C5 on 2024-04-19 (121 days), line of P3's housing option EUR
300.00, delivered EUR 300.00.

Milestones: C1 Tbilisi due 2024-02-01 done 2024-01-30 (on time), Tbilisi due 2024-03-01
overdue, Riga due 2024-02-10 done 2024-02-15 (late); C2 Tbilisi due 2030-01-01 due, Tbilisi due
2024-04-01 overdue; C5 Yerevan due 2024-05-01 overdue, Yerevan due 2024-01-01 cancelled.

Surveys: C1 2024-06-01 composite 0.2 (an older one), 2025-01-10 economic 0.9, social 0.7,
psychosocial 0.8, composite 0.8 (high); C2 2025-02-01 0.5 / 0.3 / 0.4, composite 0.4 (medium).

Grant G: budget EUR 100,000.00, AMIF 75 % / state budget 25 %; targets returns 4,
reintegration 2, short stays 10, capacity-building events 1. Activities: short stays of 3
people (2024-05-01) and 4 people (2023-06-01), one capacity-building event of 20 people.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from partners.models import Partner, SupportCategory, SupportOption
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import (
    CaseStatus,
    ClosureReason,
    LegalStatus,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.core.roles import OfficeKind, Role, SystemActor
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Responsible,
    ScoringVersion,
    SustainabilitySurvey,
)
from reintegration_hub.monitoring.models import ActivityKind, ProgrammeActivity
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus
from reintegration_hub.programmes import services as programmes
from reintegration_hub.programmes.models import Grant, TargetIndicator
from tests.factories import OfficeFactory, PartnerFactory, SupportOptionFactory, UserFactory

AS_OF = dt.date(2025, 6, 1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


@dataclass
class World:
    riga: Office
    vilnius: Office
    tbilisi: Office
    yerevan: Office
    grant: Grant
    p1: Partner
    p2: Partner
    p3: Partner
    manager: User
    admin: User
    riga_counsellor: User
    vilnius_counsellor: User
    tbilisi_manager: User
    cases: dict[str, Returnee]


_made = 0


def returnee(
    w_offices: dict[str, Office],
    counsellors: dict[int, User],
    *,
    host: str,
    country: str,
    origin: str,
    grant: Grant | None,
    departed: dt.date | None,
    arrived: dt.date | None,
    vulnerable: bool = False,
    status: CaseStatus = CaseStatus.MONITORING,
    closure: ClosureReason | None = None,
) -> Returnee:
    global _made
    _made += 1
    office = w_offices[host]
    case = Returnee(
        case_number=f"{office.country_code}-2024-{_made:05d}",
        first_name="Test",
        last_name=f"Person{_made}",
        date_of_birth=dt.date(1990, 1, 1),
        sex=Sex.FEMALE,
        nationality=country,
        return_country_code=country,
        host_office_id=office.id,
        counsellor_id=counsellors[office.id].id,
        origin_office_id=w_offices[origin].id,
        grant_id=grant.id if grant else None,
        legal_status=LegalStatus.IRREGULAR_STAY,
        status=status,
        closure_reason=closure,
        departed_on=departed,
        arrived_on=arrived,
        shares_with_origin=True,
    )
    if vulnerable:
        case.vulnerabilities = [VulnerabilityEntry(category=VulnerabilityCategory.SINGLE_PARENT)]
    db.session.add(case)
    db.session.flush()
    return case


def approved_plan(
    case: Returnee, approved_on: dt.date, option: SupportOption, total: int, delivered: int | None
) -> Plan:
    plan = Plan(
        returnee_id=case.id,
        status=PlanStatus.APPROVED,
        approved_at=at(approved_on),
        total_eur_minor=total,
    )
    db.session.add(plan)
    db.session.flush()
    line = PlanLine(
        plan_id=plan.id,
        option_id=option.id,
        unit_cost_minor=total,
        currency="EUR",
        eur_rate=Decimal(1),
        rate_on=approved_on,
        total_eur_minor=total,
    )
    db.session.add(line)
    db.session.flush()
    if delivered is not None:
        db.session.add(
            Delivery(
                plan_line_id=line.id,
                delivered_on=approved_on + dt.timedelta(days=20),
                amount_minor=delivered,
                currency="EUR",
                eur_rate=Decimal(1),
                amount_eur_minor=delivered,
                certificate_key=f"test-{line.id}",
                certificate_name="handover.pdf",
                certificate_type="application/pdf",
                certificate_size=1,
                certificate_sha256="0" * 64,
            )
        )
    return plan


def milestone(
    plan: Plan,
    office: Office,
    key: str,
    due: dt.date,
    status: MilestoneStatus,
    done: dt.date | None = None,
) -> None:
    db.session.add(
        Milestone(
            plan_id=plan.id,
            returnee_id=plan.returnee_id,
            office_id=office.id,
            step_key=key,
            kind=MilestoneKind.MONITORING_VISIT,
            name=key,
            responsible=Responsible.CASE_MANAGER,
            due_on=due,
            remind_on=due - dt.timedelta(days=7),
            status=status,
            completed_at=at(done) if done else None,
        )
    )


def survey(
    case: Returnee, taken: dt.date, scores: tuple[float, float, float, float], band: str
) -> None:
    version = db.session.scalars(sa.select(ScoringVersion).order_by(ScoringVersion.id)).first()
    assert version is not None  # seeded by migration 0006
    economic, social, psychosocial, composite = scores
    db.session.add(
        SustainabilitySurvey(
            returnee_id=case.id,
            taken_on=taken,
            answers={},
            scoring_version_id=version.id,
            economic=economic,
            social=social,
            psychosocial=psychosocial,
            composite=composite,
            band=band,
            flags=[],
        )
    )


def world() -> World:
    offices = {
        "riga": OfficeFactory(name="IOM Riga", kind=OfficeKind.HOST, country_code="LV"),
        "vilnius": OfficeFactory(name="IOM Vilnius", kind=OfficeKind.HOST, country_code="LT"),
        "tbilisi": OfficeFactory(name="IOM Tbilisi", kind=OfficeKind.ORIGIN, country_code="GE"),
        "yerevan": OfficeFactory(name="IOM Yerevan", kind=OfficeKind.ORIGIN, country_code="AM"),
    }
    home = OfficeFactory(name="Home office", kind=OfficeKind.HOME, country_code="LV")
    counsellors = {
        offices[name].id: UserFactory(role=Role.COUNSELLOR, office=offices[name])
        for name in ("riga", "vilnius")
    }
    grant = programmes.create_grant(
        number="G/2024/1",
        title="Test grant",
        start_on=dt.date(2023, 1, 1),
        end_on=dt.date(2025, 12, 31),
        currency="EUR",
        total_budget_minor=100_000_00,
        funding_shares={"AMIF": 7500, "State budget": 2500},
        targets={
            TargetIndicator.RETURNS: 4,
            TargetIndicator.REINTEGRATION: 2,
            TargetIndicator.SHORT_STAYS: 10,
            TargetIndicator.CAPACITY_EVENTS: 1,
        },
        actor=SystemActor("test"),
    )
    db.session.flush()
    p1 = PartnerFactory(office=offices["tbilisi"], name="Partner One")
    p2 = PartnerFactory(office=offices["tbilisi"], name="Partner Two")
    p3 = PartnerFactory(office=offices["yerevan"], name="Partner Three", country_code="AM")
    o1 = SupportOptionFactory(partner=p1, category=SupportCategory.BUSINESS_START_UP)
    o2 = SupportOptionFactory(partner=p2, category=SupportCategory.BUSINESS_START_UP)
    o3 = SupportOptionFactory(partner=p3, category=SupportCategory.HOUSING)

    def make(**kw: object) -> Returnee:
        return returnee(offices, counsellors, **kw)  # type: ignore[arg-type]

    c1 = make(
        host="riga",
        country="GE",
        origin="tbilisi",
        grant=grant,
        departed=dt.date(2024, 1, 10),
        arrived=dt.date(2024, 1, 11),
        vulnerable=True,
    )
    c2 = make(
        host="riga",
        country="GE",
        origin="tbilisi",
        grant=grant,
        departed=dt.date(2024, 2, 5),
        arrived=None,
    )
    c3 = make(
        host="vilnius",
        country="AM",
        origin="yerevan",
        grant=grant,
        departed=dt.date(2024, 3, 1),
        arrived=dt.date(2024, 3, 2),
        status=CaseStatus.PLAN_SUBMITTED,
    )
    c4 = make(
        host="vilnius",
        country="AM",
        origin="yerevan",
        grant=None,
        departed=None,
        arrived=None,
        status=CaseStatus.CLOSED,
        closure=ClosureReason.WITHDREW,
    )
    c5 = make(
        host="riga",
        country="AM",
        origin="yerevan",
        grant=grant,
        departed=dt.date(2023, 12, 20),
        arrived=dt.date(2023, 12, 21),
        status=CaseStatus.CLOSED,
        closure=ClosureReason.COMPLETED,
    )
    plan1 = approved_plan(c1, dt.date(2024, 1, 25), o1, 100_000, 80_000)
    plan2 = approved_plan(c2, dt.date(2024, 1, 30), o2, 50_000, None)
    db.session.add(Plan(returnee_id=c3.id, status=PlanStatus.SUBMITTED))
    plan5 = approved_plan(c5, dt.date(2024, 4, 19), o3, 30_000, 30_000)
    tbilisi, yerevan, riga = offices["tbilisi"], offices["yerevan"], offices["riga"]
    done, overdue = MilestoneStatus.DONE, MilestoneStatus.OVERDUE
    milestone(plan1, tbilisi, "m1", dt.date(2024, 2, 1), done, dt.date(2024, 1, 30))
    milestone(plan1, tbilisi, "m2", dt.date(2024, 3, 1), overdue)
    milestone(plan1, riga, "m3", dt.date(2024, 2, 10), done, dt.date(2024, 2, 15))
    milestone(plan2, tbilisi, "m4", dt.date(2030, 1, 1), MilestoneStatus.DUE)
    milestone(plan2, tbilisi, "m5", dt.date(2024, 4, 1), overdue)
    milestone(plan5, yerevan, "m6", dt.date(2024, 5, 1), overdue)
    milestone(plan5, yerevan, "m7", dt.date(2024, 1, 1), MilestoneStatus.CANCELLED)
    survey(c1, dt.date(2024, 6, 1), (0.2, 0.2, 0.2, 0.2), "low")
    survey(c1, dt.date(2025, 1, 10), (0.9, 0.7, 0.8, 0.8), "high")
    survey(c2, dt.date(2025, 2, 1), (0.5, 0.3, 0.4, 0.4), "medium")
    for kind, on, people in (
        (ActivityKind.SHORT_STAY, dt.date(2024, 5, 1), 3),
        (ActivityKind.SHORT_STAY, dt.date(2023, 6, 1), 4),
        (ActivityKind.CAPACITY_EVENT, dt.date(2024, 9, 1), 20),
    ):
        db.session.add(
            ProgrammeActivity(grant_id=grant.id, kind=kind, occurred_on=on, people_count=people)
        )
    db.session.flush()
    return World(
        riga=riga,
        vilnius=offices["vilnius"],
        tbilisi=tbilisi,
        yerevan=yerevan,
        grant=grant,
        p1=p1,
        p2=p2,
        p3=p3,
        manager=UserFactory(role=Role.PROGRAMME_MANAGER, office=home),
        admin=UserFactory(role=Role.ADMIN, office=home),
        riga_counsellor=counsellors[riga.id],
        vilnius_counsellor=counsellors[offices["vilnius"].id],
        tbilisi_manager=UserFactory(role=Role.CASE_MANAGER, office=tbilisi),
        cases={"C1": c1, "C2": c2, "C3": c3, "C4": c4, "C5": c5},
    )


def more_cases(w: World, count: int) -> None:
    """``count`` more cases like C1 (approved, a line, milestones, a survey), for the
    statement-count test."""
    offices = {"riga": w.riga, "tbilisi": w.tbilisi}
    counsellors = {w.riga.id: w.riga_counsellor}
    option = db.session.scalars(
        sa.select(SupportOption).where(SupportOption.partner_id == w.p1.id)
    ).first()
    assert option is not None
    for i in range(count):
        case = returnee(
            offices,
            counsellors,
            host="riga",
            country="GE",
            origin="tbilisi",
            grant=w.grant,
            departed=dt.date(2024, 1, 1) + dt.timedelta(days=i),
            arrived=None,
            vulnerable=i % 2 == 0,
        )
        plan = approved_plan(case, dt.date(2024, 2, 1), option, 10_000, 5_000 if i % 3 else None)
        milestone(plan, w.tbilisi, "a", dt.date(2024, 3, 1), MilestoneStatus.OVERDUE)
        milestone(plan, w.riga, "b", dt.date(2024, 3, 1), MilestoneStatus.DUE)
        survey(case, dt.date(2025, 1, 1), (0.5, 0.5, 0.5, 0.5), "medium")
    db.session.flush()
