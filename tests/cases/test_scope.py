from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.cases.helpers import case_manager, counsellor, host_office, origin_office, register
from tests.factories import user_with_role
from tests.queries import counted_statements


def _visible(actor) -> set[int]:
    return set(db.session.scalars(scoped(sa.select(Returnee.id), Returnee, actor)))


def test_counsellors_see_their_host_office_only(app) -> None:
    riga, prague = counsellor(host_office("LV")), counsellor(host_office("CZ", "Prague"))
    riga_case = register(riga)
    prague_case = register(prague, first_name="X", date_of_birth=dt.date(1970, 1, 1))
    assert _visible(riga) == {riga_case.id}
    assert _visible(prague) == {prague_case.id}
    colleague = counsellor(riga.office)
    assert _visible(colleague) == {riga_case.id}


def test_case_managers_see_their_country_once_consent_allows(app) -> None:
    actor = counsellor()
    case = register(actor, consent_origin=False)
    tbilisi = case_manager(origin_office("GE"))
    yerevan = case_manager(origin_office("AM", "Yerevan"))
    assert _visible(tbilisi) == set()
    services.record_consent(
        case.id, services.ConsentInput(True, False, dt.date(2026, 1, 1)), actor=actor
    )
    assert _visible(tbilisi) == {case.id}
    assert _visible(yerevan) == set()
    services.record_consent(
        case.id, services.ConsentInput(False, False, dt.date(2026, 1, 2)), actor=actor
    )
    assert _visible(tbilisi) == set()


def test_partners_see_no_cases_yet_and_admins_see_all(app) -> None:
    case = register(counsellor(), consent_origin=True)
    assert _visible(user_with_role(Role.PARTNER)) == set()
    assert _visible(user_with_role(Role.ADMIN)) == {case.id}
    assert _visible(user_with_role(Role.PROGRAMME_MANAGER)) == {case.id}


def test_admin_filters_by_host_office_others_cannot_widen(app) -> None:
    riga, prague = counsellor(host_office("LV")), counsellor(host_office("CZ", "Prague"))
    register(riga)
    register(prague, first_name="X", date_of_birth=dt.date(1970, 1, 1))
    admin = user_with_role(Role.ADMIN)
    assert services.list_cases(actor=admin, host_office_id=prague.office_id).total == 1
    assert services.list_cases(actor=admin).total == 2
    assert services.list_cases(actor=riga, host_office_id=prague.office_id).total == 1  # still own


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.ADMIN])
def test_list_query_count_does_not_grow_with_page_size(app, role) -> None:
    actor = counsellor(host_office("LV"))
    georgia = origin_office("GE")
    for i in range(60):
        register(
            actor,
            first_name=f"P{i}",
            date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=i),
            origin_office_id=georgia.id if i % 2 else None,
        )
    db.session.commit()
    reader = actor if role == Role.COUNSELLOR else user_with_role(role)
    db.session.commit()

    def statements(page_size: int) -> int:
        db.session.expire_all()
        reader_id = reader.id
        with counted_statements() as seen:
            page = services.list_cases(
                actor=db.session.get(type(reader), reader_id), page_size=page_size
            )
            for case in page.items:  # what the list page renders
                _ = (
                    case.case_number,
                    case.host_office.name,
                    case.origin_office and case.origin_office.name,
                )
            assert len(page.items) == page_size
        return len(seen)

    assert statements(5) == statements(50)


def test_list_page_query_count_does_not_grow(client, login) -> None:
    actor = counsellor()
    for i in range(40):
        register(
            actor, first_name=f"P{i}", date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=i)
        )
    login(actor)
    client.get("/cases/")  # warm up caches of the first request
    with counted_statements() as seen:
        client.get("/cases/?page=2")  # 15 rows
        few = len(seen)
        seen.clear()
        client.get("/cases/")  # 25 rows
        many = len(seen)
    assert few == many
