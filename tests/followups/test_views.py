"""The work list: overdue first, filters, and each user only what they answer for."""

from __future__ import annotations

import pytest

from partners.models import PartnerMember
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import visits
from reintegration_hub.followups.sweep import sweep
from tests.clock import TODAY
from tests.factories import UserFactory
from tests.followups.helpers import approved, day
from tests.plans.helpers import World, other_counsellor, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = w.case.arrived_on = day(0)
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


def test_the_case_manager_records_a_visit_and_a_survey_from_the_plan(w: World, login) -> None:
    approved(w, w.option())
    db.session.commit()
    client = login(w.case_manager)

    missing = client.post(f"/follow-up/cases/{w.case.id}/visit", data={"mode": "phone"})
    assert missing.status_code == 422
    visit = client.post(
        f"/follow-up/cases/{w.case.id}/visit",
        data={"visited_on": TODAY.isoformat(), "mode": "in_person", "findings": "Shop opened"},
    )
    assert visit.status_code == 302
    form = client.get(f"/follow-up/cases/{w.case.id}/survey")
    assert form.status_code == 200
    assert b"Sources of income" in form.data
    version = visits.current_scoring_version()
    data = {f"answer_{key}": 3 for key in version.indicators} | {"taken_on": TODAY.isoformat()}
    assert client.post(f"/follow-up/cases/{w.case.id}/survey", data=data).status_code == 302

    page = client.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)
    assert "Shop opened" in page
    assert "0.75 (High sustainability)" in page
    assert login(w.counsellor).get(f"/follow-up/cases/{w.case.id}/visit").status_code == 403
