"""``flask demo load`` leaves a database that real work continues in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import Referral
from reintegration_hub.auth.models import Office, User
from reintegration_hub.extensions import db
from reintegration_hub.plans import services as plans
from tests.demo.helpers import kutaisi_course
from tests.plans.helpers import single_mother


def _user(email: str) -> User:
    return db.session.scalars(sa.select(User).where(User.email == email)).one()


@pytest.mark.postgres
def test_after_the_demo_a_new_case_plan_line_and_referral_get_ids_of_their_own(
    app: Flask, runner, database_url: str
) -> None:
    """The demo's history is bulk-inserted; on PostgreSQL each table's id sequence must then
    continue after its rows (explicit ids left them at 1: the next case was a 500)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: SQLite has no sequences to leave behind")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    tbilisi = db.session.scalars(sa.select(Office).where(Office.name == "IOM Tbilisi")).one()
    counsellor = _user("counsellor.riga@demo.example")
    manager = _user("casemanager.tbilisi@demo.example")
    course = kutaisi_course()
    assert course is not None

    case = single_mother(counsellor, tbilisi, first_name="Tamar", last_name="Newcase")
    case.case_manager_id = manager.id
    plan = plans.start_plan(case.id, actor=counsellor)
    line = plans.add_line(plan.id, course.id, actor=counsellor)
    plans.submit_plan(plan.id, actor=counsellor)
    plans.confirm_feasibility(plan.id, actor=manager)
    plans.approve_plan(plan.id, actor=_user("manager@demo.example"))
    db.session.commit()

    referral = db.session.get(Referral, line.referral_id)
    assert referral is not None
    assert referral.first_name == "Tamar"
    assert referral.reference == line.reference
