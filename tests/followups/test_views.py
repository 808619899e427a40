"""The work list: overdue first, filters, and each user only what they answer for."""

from __future__ import annotations

import pytest

from partners.models import PartnerMember
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep
from tests.factories import UserFactory
from tests.followups.test_services import approved
from tests.followups.test_sweep import day
from tests.plans.helpers import World, other_counsellor, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = day(0)
    return w


def rows(html: bytes) -> list[str]:
    return [part.split("</tr>")[0] for part in html.decode().split('data-testid="work-row"')[1:]]


def test_the_case_manager_sees_overdue_first_and_filters_by_kind(w: World, login) -> None:
    approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))  # arrival, first contact overdue; the 90-day visit due soon

    listed = rows(login(w.case_manager).get("/follow-up/").data)

    assert len(listed) == 3
    assert "table-danger" in listed[0]
    assert "table-danger" in listed[1]
    assert "Monitoring visit" in listed[2]
    assert "table-danger" not in listed[2]
    visits = rows(login(w.case_manager).get("/follow-up/?kind=monitoring_visit").data)
    assert len(visits) == 1
    overdue = rows(login(w.case_manager).get("/follow-up/?overdue=1").data)
    assert len(overdue) == 2


def test_others_see_only_their_share(w: World, login) -> None:
    plan = approved(w, w.option())
    db.session.commit()
    sweep(day(30))

    assert rows(login(other_counsellor()).get("/follow-up/").data) == []
    riga = rows(login(w.counsellor).get("/follow-up/").data)
    assert len(riga) >= 1  # the counsellor oversees the host office's cases
    partner_user = UserFactory(role=Role.PARTNER, office=w.tbilisi)
    db.session.add(
        PartnerMember(partner_id=plan.lines[0].option.partner_id, user_id=partner_user.id)
    )
    db.session.commit()
    partner_rows = rows(login(partner_user).get("/follow-up/").data)
    assert len(partner_rows) == 1
    assert "Support delivered" in partner_rows[0]
