"""Budget cap rules as data: the seeded default, the most specific rule, and the case rules
that follow from them (largest household, departure window, a grant that covers the return)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import DependantRelation
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from reintegration_hub.programmes import caps
from reintegration_hub.programmes.models import BudgetCapRule
from tests.cases.helpers import counsellor, details, host_office, register
from tests.factories import OfficeFactory, user_with_role
from tests.plans.helpers import world
from tests.programmes.helpers import grant, host_manager, riga_grant

DECIDED = dt.date(2026, 3, 2)


def rule_terms(**overrides: Any) -> caps.CapRuleTerms:
    values: dict[str, Any] = {
        "name": "National programme, Georgia",
        "grant_id": None,
        "return_country_code": "GE",
        "per_adult_minor": 300000,
        "per_dependant_minor": 50000,
        "max_household": 6,
        "min_departure_days": 10,
        "max_departure_days": 20,
        **overrides,
    }
    return caps.CapRuleTerms(**values)


def children(count: int) -> list[cases.DependantInput]:
    return [
        cases.DependantInput(DependantRelation.CHILD, dt.date(2015, 1, 1)) for _ in range(count)
    ]


def test_the_migration_seeds_todays_rules_as_the_default(app) -> None:
    rule = caps.cap_rule_for(None, "GE")
    assert rule is not None
    assert rule.is_default
    assert (rule.per_adult_minor, rule.per_dependant_minor) == (200000, 100000)
    assert (rule.min_departure_days, rule.max_departure_days) == (7, 30)
    assert rule.max_household == 12


def test_the_most_specific_rule_applies(app) -> None:
    admin = user_with_role(Role.ADMIN)
    eu, other = grant(), grant(number="G-2")
    georgia = caps.create_cap_rule(rule_terms(), actor=admin)
    eu_any = caps.create_cap_rule(
        rule_terms(name="EU grant", grant_id=eu.id, return_country_code=None), actor=admin
    )
    eu_georgia = caps.create_cap_rule(
        rule_terms(name="EU grant, Georgia", grant_id=eu.id), actor=admin
    )
    default = caps.cap_rule_for(None, None)

    assert caps.cap_rule_for(eu.id, "GE") == eu_georgia
    assert caps.cap_rule_for(eu.id, "AM") == eu_any
    assert caps.cap_rule_for(other.id, "GE") == georgia
    assert caps.cap_rule_for(other.id, "AM") == default
    assert caps.cap_rule_for(None, "ge") == georgia


def test_one_rule_per_programme_and_country(app) -> None:
    admin = user_with_role(Role.ADMIN)
    caps.create_cap_rule(rule_terms(), actor=admin)
    with pytest.raises(Conflict) as refused:
        caps.create_cap_rule(rule_terms(name="Another"), actor=admin)
    assert "return_country_code" in refused.value.field_errors
    with pytest.raises(Conflict) as refused:
        caps.create_cap_rule(rule_terms(return_country_code="AM"), actor=admin)
    assert "name" in refused.value.field_errors


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("max_household", {"max_household": 0}),
        ("max_household", {"max_household": 1000}),
        ("max_departure_days", {"min_departure_days": 20, "max_departure_days": 10}),
        ("max_departure_days", {"max_departure_days": 2**31}),
        ("per_adult_minor", {"per_adult_minor": 2**63}),
        ("return_country_code", {"return_country_code": "XX"}),
        ("name", {"name": "EU\x00"}),
        ("grant_id", {"grant_id": 2**31 - 1}),
    ],
)
def test_invalid_rules_are_refused_at_their_field(app, field: str, overrides: dict) -> None:
    with pytest.raises(InvalidInput) as refused:
        caps.create_cap_rule(rule_terms(**overrides), actor=user_with_role(Role.ADMIN))
    assert field in refused.value.field_errors


def test_the_default_rule_stays_general_and_cannot_be_removed(app) -> None:
    admin = user_with_role(Role.ADMIN)
    default = caps.cap_rule_for(None, None)
    assert default is not None
    with pytest.raises(Conflict):
        caps.update_cap_rule(default.id, rule_terms(name=default.name), actor=admin)
    with pytest.raises(PermissionDenied):
        caps.delete_cap_rule(default.id, actor=admin)
    changed = caps.update_cap_rule(
        default.id,
        rule_terms(name=default.name, return_country_code=None, max_household=8),
        actor=admin,
    )
    assert changed.is_default
    assert changed.max_household == 8
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "cap_rule.update")
    ).one()
    assert entry.changes["max_household"] == [12, 8]


def test_a_rule_that_capped_plans_is_changed_not_removed(app) -> None:
    w = world()
    admin = user_with_role(Role.ADMIN)
    georgia = caps.create_cap_rule(rule_terms(), actor=admin)
    plan = plans.start_plan(w.case.id, actor=w.counsellor)
    assert plan.cap_rule_id == georgia.id
    assert plan.cap_eur_minor == 300000 + 2 * 50000
    with pytest.raises(Conflict):
        caps.delete_cap_rule(georgia.id, actor=admin)
    unused = caps.create_cap_rule(rule_terms(name="Armenia", return_country_code="AM"), actor=admin)
    caps.delete_cap_rule(unused.id, actor=admin)
    assert db.session.get(BudgetCapRule, unused.id) is None
    assert db.session.scalars(
        sa.select(AuditEntry.changes).where(AuditEntry.action == "cap_rule.delete")
    ).one() == {"name": ["Armenia", None]}


def test_a_host_office_sets_rules_only_for_its_own_grants(app) -> None:
    riga = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", city="Riga")
    manager = host_manager(riga)
    own, home = riga_grant(riga), grant(number="EU-1")
    mine = caps.create_cap_rule(rule_terms(name="Riga", grant_id=own.id), actor=manager)

    assert caps.list_cap_rules(actor=manager) == [mine]
    with pytest.raises(InvalidInput):
        caps.create_cap_rule(rule_terms(), actor=manager)  # programme-wide: the home office's
    with pytest.raises(NotFound):
        caps.create_cap_rule(rule_terms(name="EU", grant_id=home.id), actor=manager)
    default = caps.cap_rule_for(None, None)
    assert default is not None
    with pytest.raises(NotFound):
        caps.get_cap_rule(default.id, actor=manager)


# --- the case rules that follow ---------------------------------------------------------------


def test_the_largest_household_comes_from_the_rule(app) -> None:
    actor = counsellor()
    assert cases.register_case(details(), dependants=children(11), actor=actor)
    caps.create_cap_rule(rule_terms(), actor=user_with_role(Role.ADMIN))  # 6 persons to GE
    with pytest.raises(InvalidInput) as refused:
        cases.register_case(details(first_name="Other"), dependants=children(6), actor=actor)
    assert "dependants" in refused.value.field_errors
    armenia = cases.register_case(
        details(first_name="Ani", return_country_code="AM", nationality="AM"),
        dependants=children(6),
        actor=actor,
    )
    assert len(armenia.dependants) == 6


def test_an_edit_keeps_the_household_within_the_rule(app) -> None:
    case = register(counsellor())
    caps.create_cap_rule(rule_terms(max_household=3), actor=user_with_role(Role.ADMIN))
    with pytest.raises(InvalidInput) as refused:
        cases.update_case(case.id, details(), dependants=children(3), actor=case.counsellor)
    assert "dependants" in refused.value.field_errors


def test_the_departure_window_comes_from_the_rule(app) -> None:
    actor = counsellor()
    within_old_constants = details(
        return_decision_on=DECIDED, departure_deadline_on=DECIDED + dt.timedelta(days=25)
    )
    caps.create_cap_rule(rule_terms(), actor=user_with_role(Role.ADMIN))  # 10 to 20 days
    with pytest.raises(InvalidInput) as refused:
        cases.register_case(within_old_constants, actor=actor)
    assert "10 to 20 days" in str(refused.value.field_errors["departure_deadline_on"][0])
    fits = dataclasses.replace(
        within_old_constants, departure_deadline_on=DECIDED + dt.timedelta(days=15)
    )
    assert cases.register_case(fits, actor=actor).departure_deadline_on == DECIDED + dt.timedelta(
        days=15
    )


def test_before_departure_the_deadline_then_the_registration_day_must_be_covered(app) -> None:
    actor = counsellor()
    ended = grant(number="OLD", start_on=dt.date(2019, 1, 3), end_on=dt.date(2022, 12, 31))
    with pytest.raises(InvalidInput):
        register(
            actor,
            grant_id=ended.id,
            return_decision_on=DECIDED,
            departure_deadline_on=DECIDED + dt.timedelta(days=20),
        )
    with pytest.raises(InvalidInput):
        register(actor, grant_id=ended.id)  # registered today, long after it ended
    assert register(actor, grant_id=ended.id, departed_on=dt.date(2022, 6, 1)).grant_id == ended.id


def test_a_case_cannot_take_a_grant_another_host_office_holds(app) -> None:
    vilnius = host_office("LT", "Vilnius")
    lithuanian = riga_grant(vilnius, number="LT-1")
    with pytest.raises(InvalidInput) as refused:
        register(counsellor(), grant_id=lithuanian.id, departed_on=dt.date(2026, 3, 1))
    assert "grant_id" in refused.value.field_errors
    own = register(counsellor(vilnius), grant_id=lithuanian.id, departed_on=dt.date(2026, 3, 1))
    assert own.grant_id == lithuanian.id


def test_the_cap_never_counts_persons_beyond_the_largest_household(app) -> None:
    rule = BudgetCapRule(
        name="Small", per_adult_minor=200000, per_dependant_minor=100000, max_household=4
    )
    assert rule.cap_minor(1, 3) == 200000 + 3 * 100000
    assert rule.cap_minor(1, 1000) == 200000 + 3 * 100000
    assert rule.cap_minor(5, 2) == 4 * 200000
