"""Grant rules: terms, co-financing, targets, the holding office, who manages what, audit."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from reintegration_hub.programmes import services
from reintegration_hub.programmes.models import PlanApprover, TargetIndicator
from tests.cases.helpers import counsellor, register
from tests.factories import OfficeFactory, user_with_role
from tests.programmes.helpers import grant, home_manager, host_manager, riga_grant, terms


def test_a_programme_manager_creates_a_grant_with_two_sources_and_targets(app) -> None:
    manager = home_manager()
    created = grant(manager, reintegration_places=140)

    assert {s.name: s.share_bp for s in created.funding_sources} == {
        "AMIF": 7500,
        "State budget": 2500,
    }
    assert {t.indicator: t.target_value for t in created.targets} == {
        TargetIndicator.RETURNS: 280,
        TargetIndicator.REINTEGRATION: 140,
    }
    assert created.office_id is None  # held by the home office
    assert created.plans_approved_by == PlanApprover.HOME_OFFICE
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "grant.create")
    ).one()
    assert entry.actor_id == manager.id
    assert entry.changes["funding_shares"] == [None, {"AMIF": 7500, "State budget": 2500}]
    assert entry.changes["reintegration_places"] == [None, 140]


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("funding_shares", {"funding_shares": {"AMIF": 7500, "State budget": 2000}}),
        ("funding_shares", {"funding_shares": {"AMIF": 10000, "amif ": 0}}),
        ("funding_shares", {"funding_shares": {}}),
        ("end_on", {"end_on": dt.date(2024, 12, 31)}),
        ("end_on", {"end_on": dt.date(9999, 12, 31)}),
        ("start_on", {"start_on": dt.date(1800, 1, 1)}),
        ("currency", {"currency": "XYZ"}),
        ("total_budget_minor", {"total_budget_minor": -1}),
        ("total_budget_minor", {"total_budget_minor": 2**63}),
        ("number", {"number": "AK\x00IOM"}),
        ("number", {"number": "AK\ud800"}),
        ("title", {"title": "x" * 201}),
        ("number", {"number": "   "}),
        ("reintegration_places", {"reintegration_places": 2**31}),
        ("targets", {"targets": {TargetIndicator.RETURNS: -5}}),
    ],
)
def test_invalid_terms_are_refused_at_their_field_and_nothing_is_written(
    app, field: str, overrides: dict
) -> None:
    admin = user_with_role(Role.ADMIN)
    with pytest.raises(InvalidInput) as refused:
        grant(admin, **overrides)
    assert field in refused.value.field_errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_grant_numbers_are_unique_whatever_the_case(app) -> None:
    grant()
    with pytest.raises(Conflict) as refused:
        grant(number="ak/iom/pmif/2026/1")
    assert "number" in refused.value.field_errors


def test_editing_replaces_sources_and_targets_and_audits_the_change(app) -> None:
    manager = home_manager()
    created = grant(manager)
    changed = dataclasses.replace(
        terms(),
        title="AVRR Latvia (extended)",
        funding_shares={"AMIF": 9000, "Municipality": 1000},
        targets={TargetIndicator.RETURNS: 300, TargetIndicator.SHORT_STAYS: 56},
        reintegration_places=150,
    )

    services.update_grant(created.id, changed, actor=manager)
    db.session.flush()

    assert {s.name: s.share_bp for s in created.funding_sources} == {
        "AMIF": 9000,
        "Municipality": 1000,
    }
    assert {t.indicator.value: t.target_value for t in created.targets} == {
        "returns": 300,
        "short_stays": 56,
    }
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "grant.update")
    ).one()
    assert entry.changes["title"][1] == "AVRR Latvia (extended)"
    assert entry.changes["funding_shares"] == [
        {"AMIF": 7500, "State budget": 2500},
        {"AMIF": 9000, "Municipality": 1000},
    ]
    assert entry.changes["reintegration_places"] == [None, 150]


def test_the_period_cannot_shrink_away_from_the_grants_cases(app) -> None:
    created = grant()
    case = register(counsellor(), grant_id=created.id, departed_on=dt.date(2026, 3, 1))

    with pytest.raises(Conflict) as refused:
        services.update_grant(
            created.id,
            dataclasses.replace(terms(), end_on=dt.date(2025, 12, 31)),
            actor=home_manager(),
        )
    assert case.case_number in str(refused.value)
    assert "end_on" in refused.value.field_errors


def test_a_host_office_manages_only_the_grants_it_holds(app) -> None:
    riga = OfficeFactory(kind=OfficeKind.HOST, country_code="LV", city="Riga")
    vilnius = OfficeFactory(kind=OfficeKind.HOST, country_code="LT", city="Vilnius")
    manager = host_manager(riga)
    own = riga_grant(riga)
    other = grant(number="LT-1", office_id=vilnius.id)
    home = grant(number="EU-1")

    assert [g.id for g in services.list_grants(actor=manager)] == [own.id]
    for foreign in (other, home):
        with pytest.raises(NotFound):
            services.update_grant(foreign.id, terms(number="X"), actor=manager)
    with pytest.raises(InvalidInput) as refused:
        grant(manager, number="LT-2", office_id=vilnius.id)
    assert "office_id" in refused.value.field_errors
    with pytest.raises(InvalidInput):
        grant(manager, number="EU-2")  # a home-office grant is the home office's to set up
    assert grant(manager, number="LV-2", office_id=riga.id).office_id == riga.id
    assert {g.id for g in services.list_grants(actor=home_manager())} >= {
        own.id,
        other.id,
        home.id,
    }


def test_only_a_holding_host_office_can_be_the_approver(app) -> None:
    with pytest.raises(InvalidInput) as refused:
        grant(plans_approved_by=PlanApprover.GRANT_OFFICE)
    assert "plans_approved_by" in refused.value.field_errors
    origin = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE")
    with pytest.raises(InvalidInput) as refused:
        grant(office_id=origin.id)
    assert "office_id" in refused.value.field_errors


def test_counsellors_cannot_set_up_grants(app) -> None:
    with pytest.raises(PermissionDenied):
        grant(counsellor())
