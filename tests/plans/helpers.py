"""A Riga counsellor's case returning to Georgia, with Tbilisi's options, for the plan tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from partners.models import SupportOption
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import DependantRelation, Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import Role
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.extensions import db
from reintegration_hub.plans import services
from reintegration_hub.plans.models import Plan
from tests.cases.helpers import case_manager, counsellor, details, host_office, origin_office
from tests.factories import SupportOptionFactory, UserFactory, user_with_role


@dataclass
class World:
    riga: Office
    tbilisi: Office
    counsellor: User
    case_manager: User
    programme_manager: User
    case: Returnee

    def option(self, **overrides: Any) -> SupportOption:
        option: SupportOption = SupportOptionFactory(partner__office=self.tbilisi, **overrides)
        return option


def single_mother(actor: User, tbilisi: Office, **overrides: Any) -> Returnee:
    """A single mother of two children returning to Kutaisi; consent shares with both."""
    today = now_utc().date()  # the test's clock: tests.clock.NOW unless the test moves it
    return cases.register_case(
        details(origin_office_id=tbilisi.id, **overrides),
        dependants=[
            cases.DependantInput(DependantRelation.CHILD, today.replace(year=today.year - 8)),
            cases.DependantInput(DependantRelation.CHILD, today.replace(year=today.year - 5)),
        ],
        vulnerabilities={VulnerabilityCategory.SINGLE_PARENT: "Two children, 8 and 5"},
        consent=cases.ConsentInput(
            share_with_origin_office=True, share_with_partners=True, given_on=today
        ),
        confirm_duplicate=True,
        actor=actor,
    )


def world() -> World:
    riga, tbilisi = host_office(), origin_office()
    adviser = counsellor(riga)
    manager = case_manager(tbilisi)
    db.session.add(
        ExchangeRate(currency="GEL", valid_on=dt.date(2020, 1, 1), eur_per_unit=Decimal("0.34"))
    )
    case = single_mother(adviser, tbilisi)
    case.case_manager_id = manager.id
    db.session.flush()
    return World(
        riga=riga,
        tbilisi=tbilisi,
        counsellor=adviser,
        case_manager=manager,
        programme_manager=user_with_role(Role.PROGRAMME_MANAGER),
        case=case,
    )


def other_counsellor(country: str = "CZ", city: str = "Prague") -> User:
    user: User = UserFactory(role=Role.COUNSELLOR, office=host_office(country, city))
    return user


def submitted_plan(
    w: World, *options: SupportOption, justification: str = "", case: Returnee | None = None
) -> Plan:
    plan = services.start_plan((case or w.case).id, actor=w.counsellor)
    for option in options:
        services.add_line(plan.id, option.id, actor=w.counsellor)
    services.submit_plan(plan.id, justification=justification, actor=w.counsellor)
    return plan


def approved_plan(w: World, *options: SupportOption, case: Returnee | None = None) -> Plan:
    """Submitted, confirmed by the Tbilisi case manager and approved: every line referred."""
    plan = submitted_plan(w, *options, case=case)
    services.confirm_feasibility(plan.id, actor=w.case_manager)
    services.approve_plan(plan.id, actor=w.programme_manager)
    return plan


def another_case(w: World, first_name: str = "Tamar") -> Returnee:
    """A second case of the same counsellor, returning to Georgia too."""
    case = single_mother(w.counsellor, w.tbilisi, first_name=first_name)
    case.case_manager_id = w.case_manager.id
    db.session.flush()
    return case
