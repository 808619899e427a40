from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from reintegration_hub.auth.models import User
from reintegration_hub.cases import services
from reintegration_hub.cases.models import (
    CaseStatus,
    ClosureReason,
    Consent,
    DependantRelation,
    Returnee,
)
from reintegration_hub.core.audit import REDACTED, AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.extensions import db
from tests.cases.helpers import (
    case_manager,
    counsellor,
    details,
    host_office,
    origin_office,
    register,
)
from tests.clock import TODAY
from tests.factories import user_with_role

YEAR = TODAY.year  # of the tests' clock (tests/clock.py)


def test_case_numbers_are_sequential_per_host_country_and_year(app) -> None:
    riga = counsellor(host_office("LV", "Riga"))
    prague = counsellor(host_office("CZ", "Prague"))
    first = register(riga, first_name="A")
    second = register(riga, first_name="B", date_of_birth=dt.date(1980, 1, 1))
    czech = register(prague, first_name="C", date_of_birth=dt.date(1981, 1, 1))
    assert first.case_number == f"LV-{YEAR}-00001"
    assert second.case_number == f"LV-{YEAR}-00002"
    assert czech.case_number == f"CZ-{YEAR}-00001"
    assert first.status == CaseStatus.REGISTERED
    assert first.host_office_id == riga.office_id
    assert first.counsellor_id == riga.id


def test_registration_keeps_dependants_vulnerability_and_consent(app) -> None:
    actor = counsellor()
    case = services.register_case(
        details(),
        dependants=[
            services.DependantInput(DependantRelation.CHILD, dt.date(2015, 3, 1), True),
            services.DependantInput(DependantRelation.SPOUSE, dt.date(1988, 3, 1), False),
        ],
        vulnerabilities={VulnerabilityCategory.SINGLE_PARENT: "two children"},
        consent=services.ConsentInput(True, False, dt.date(2026, 1, 5)),
        actor=actor,
    )
    db.session.commit()
    assert [d.relation for d in case.dependants] == [
        DependantRelation.CHILD,
        DependantRelation.SPOUSE,
    ]
    assert case.vulnerabilities[0].category == VulnerabilityCategory.SINGLE_PARENT
    assert case.consent is not None
    assert case.consent.share_with_origin_office
    assert case.shares_with_origin


def test_audit_of_registration_never_holds_names(app) -> None:
    case = register(counsellor())
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.register")
    ).one()
    assert entry.changes["first_name"] == [None, REDACTED]
    assert entry.changes["date_of_birth"] == [None, REDACTED]
    assert entry.changes["case_number"] == [None, case.case_number]
    assert "Beridze" not in str(entry.changes)


def test_only_host_office_counsellors_register(app) -> None:
    with pytest.raises(PermissionDenied):
        services.register_case(details(), actor=user_with_role(Role.CASE_MANAGER))
    with pytest.raises(PermissionDenied):
        services.register_case(details(), actor=user_with_role(Role.ADMIN))


@pytest.mark.parametrize(("days", "ok"), [(6, False), (7, True), (30, True), (31, False)])
def test_departure_deadline_is_7_to_30_days_after_the_decision(app, days, ok) -> None:
    decided = dt.date(2026, 3, 1)
    values = details(return_decision_on=decided, departure_deadline_on=decided + dt.timedelta(days))
    if ok:
        assert services.register_case(values, actor=counsellor()).departure_deadline_on
    else:
        with pytest.raises(InvalidInput) as refused:
            services.register_case(values, actor=counsellor())
        assert "departure_deadline_on" in refused.value.field_errors


def test_deadline_needs_a_decision_date(app) -> None:
    with pytest.raises(InvalidInput) as refused:
        services.register_case(
            details(departure_deadline_on=dt.date(2026, 3, 1)), actor=counsellor()
        )
    assert "return_decision_on" in refused.value.field_errors


def test_days_left_and_warning_near_the_deadline(app) -> None:
    today = now_utc().date()
    case = register(
        counsellor(),
        return_decision_on=today - dt.timedelta(days=10),
        departure_deadline_on=today + dt.timedelta(days=4),
    )
    assert services.days_to_deadline(case) == 4
    assert services.deadline_is_near(case)
    assert not services.deadline_is_near(case, today - dt.timedelta(days=2))


def test_origin_office_must_be_in_the_return_country(app) -> None:
    armenia = origin_office("AM", "Yerevan")
    with pytest.raises(InvalidInput) as refused:
        services.register_case(details(origin_office_id=armenia.id), actor=counsellor())
    assert "origin_office_id" in refused.value.field_errors
    georgia = origin_office("GE")
    manager = case_manager(georgia)
    case = services.register_case(
        details(origin_office_id=georgia.id, case_manager_id=manager.id), actor=counsellor()
    )
    assert case.origin_office_id == georgia.id
    assert case.case_manager_id == manager.id


def test_case_manager_must_work_in_the_origin_office(app) -> None:
    georgia = origin_office("GE")
    elsewhere = case_manager(origin_office("GE", "Batumi"))
    with pytest.raises(InvalidInput) as refused:
        services.register_case(
            details(origin_office_id=georgia.id, case_manager_id=elsewhere.id), actor=counsellor()
        )
    assert "case_manager_id" in refused.value.field_errors


def test_allowed_transitions_and_closing_with_a_reason(app) -> None:
    actor = counsellor()
    case = register(actor)
    services.change_case_status(case.id, CaseStatus.ASSESSED, actor=actor)
    assert case.status == CaseStatus.ASSESSED
    with pytest.raises(InvalidInput):
        services.change_case_status(case.id, CaseStatus.CLOSED, actor=actor)
    services.change_case_status(
        case.id, CaseStatus.CLOSED, reason=ClosureReason.WITHDREW, actor=actor
    )
    assert case.closure_reason == ClosureReason.WITHDREW
    assert case.closed_at is not None
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.action == "case.status")
    ).all()
    assert len(actions) == 2


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (CaseStatus.REGISTERED, CaseStatus.PLAN_APPROVED),
        (CaseStatus.REGISTERED, CaseStatus.MONITORING),
        (CaseStatus.ASSESSED, CaseStatus.REGISTERED),
        (CaseStatus.CLOSED, CaseStatus.ASSESSED),
    ],
)
def test_refused_transitions(app, start, target) -> None:
    actor = counsellor()
    case = register(actor)
    case.status = start
    db.session.flush()
    with pytest.raises(Conflict):
        services.change_case_status(case.id, target, actor=actor)
    assert case.status == start


def test_every_open_state_may_close_and_closed_is_final() -> None:
    for state, targets in services.ALLOWED_TRANSITIONS.items():
        assert (CaseStatus.CLOSED in targets) == (state != CaseStatus.CLOSED)
    assert services.ALLOWED_TRANSITIONS[CaseStatus.CLOSED] == frozenset()


def test_reason_only_when_closing(app) -> None:
    actor = counsellor()
    case = register(actor)
    with pytest.raises(InvalidInput):
        services.change_case_status(
            case.id, CaseStatus.ASSESSED, reason=ClosureReason.DIED, actor=actor
        )


def test_programme_managers_cannot_change_status(app) -> None:
    case = register(counsellor())
    with pytest.raises(PermissionDenied):
        services.change_case_status(
            case.id, CaseStatus.ASSESSED, actor=user_with_role(Role.PROGRAMME_MANAGER)
        )


def test_duplicates_are_found_across_offices_by_fuzzy_name(app) -> None:
    riga_case = register(
        counsellor(host_office("LV", "Riga")), first_name="Nīno", last_name="Beridze"
    )
    prague = counsellor(host_office("CZ", "Prague"))
    with pytest.raises(services.PossibleDuplicate) as warned:
        services.register_case(details(first_name="BERIDZE", last_name="Nino"), actor=prague)
    [match] = warned.value.matches
    assert match.case_number == riga_case.case_number
    assert match.case_id == riga_case.id
    assert match.can_open is False
    # nothing about the other office's case but its number
    shown = str(warned.value.message) + str(warned.value.field_errors)
    assert "Beridze" not in shown
    assert "Riga" not in shown
    assert riga_case.case_number in shown


def test_different_person_is_no_duplicate(app) -> None:
    register(counsellor())
    actor = counsellor()
    assert not services.find_duplicates(
        first_name="Giorgi",
        last_name="Kapanadze",
        date_of_birth=dt.date(1990, 4, 12),
        nationality="GE",
        actor=actor,
    )
    assert not services.find_duplicates(
        first_name="Nino",
        last_name="Beridze",
        date_of_birth=dt.date(1990, 4, 13),
        nationality="GE",
        actor=actor,
    )


def test_confirmed_duplicate_registers_and_is_audited(app) -> None:
    actor = counsellor()
    first = register(actor)
    second = services.register_case(details(), confirm_duplicate=True, actor=actor)
    assert second.case_number != first.case_number
    matches = services.find_duplicates(
        first_name="Nino",
        last_name="Beridze",
        date_of_birth=dt.date(1990, 4, 12),
        nationality="GE",
        actor=actor,
    )
    assert {m.case_number for m in matches} == {first.case_number, second.case_number}
    assert all(m.can_open for m in matches)


def test_consent_versions_are_kept_and_latest_is_in_force(app) -> None:
    actor = counsellor()
    case = register(actor, consent_origin=False)
    services.record_consent(
        case.id, services.ConsentInput(True, True, dt.date(2026, 1, 10)), actor=actor
    )
    db.session.commit()
    db.session.expire_all()
    case = db.session.get(Returnee, case.id)
    assert len(case.consents) == 2
    assert case.consent.share_with_origin_office
    assert case.shares_with_origin
    services.record_consent(
        case.id, services.ConsentInput(False, False, dt.date(2026, 1, 11)), actor=actor
    )
    assert not case.shares_with_origin
    assert db.session.scalar(sa.select(sa.func.count(Consent.id))) == 3


def test_update_replaces_details_and_audits_without_values(app) -> None:
    actor = counsellor()
    case = register(actor)
    services.update_case(
        case.id,
        details(last_name="Beridze-Kapanadze", return_city="Batumi"),
        dependants=[services.DependantInput(DependantRelation.CHILD, dt.date(2019, 1, 1))],
        vulnerabilities={VulnerabilityCategory.DISABILITY: ""},
        actor=actor,
    )
    assert case.return_city == "Batumi"
    assert len(case.dependants) == 1
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.update")
    ).one()
    assert entry.changes["last_name"] == [REDACTED, REDACTED]
    assert entry.changes["return_city"] == ["Kutaisi", "Batumi"]
    assert entry.changes["dependants"] == [0, 1]
    assert entry.changes["vulnerabilities"] == [[], ["disability"]]


def test_case_managers_cannot_edit(app) -> None:
    case = register(counsellor(), consent_origin=True)
    with pytest.raises(PermissionDenied):
        services.update_case(case.id, details(), actor=case_manager())


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_fifty_concurrent_registrations_get_fifty_numbers(app, make_app, database_url) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no race to test")
    actor_id = counsellor().id
    db.session.commit()
    racing = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 50, "max_overflow": 0})
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(50, timeout=60)

    def work(i: int) -> None:
        try:
            with racing.app_context():  # its own session, on its own connection
                db.session.execute(sa.text("SELECT 1"))
                actor = db.session.get(User, actor_id)
                start.wait()
                case = services.register_case(
                    details(
                        first_name=f"Person{i}",
                        date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=i),
                    ),
                    confirm_duplicate=True,
                    actor=actor,
                )
                numbers.append(case.case_number)
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(numbers)) == 50
    year = now_utc().year  # a committing test runs on the real clock
    assert sorted(numbers) == [f"LV-{year}-{n:05d}" for n in range(1, 51)]
    assert db.session.scalar(sa.select(sa.func.count(Returnee.id))) == 50
