"""Browser test helpers: signing in, a one-pixel PNG to upload, approved plans on the demo
world (one fresh, one of a case returned 40 days ago with its first contact overdue)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from partners.models import SupportOption, SupportOptionText
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import DependantRelation, LegalStatus
from reintegration_hub.core.vocabulary import Sex
from reintegration_hub.demo import data
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans import services
from tests.plans.helpers import single_mother

RENT = "Rent subsidy for the first three months"
TODAY = dt.date.today()  # noqa: DTZ011 - the live server runs on the real clock
RETURNED = TODAY - dt.timedelta(days=40)


def sign_in(page, base_url: str, email: str, password: str = data.DEMO_PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():  # the next step acts on the page the sign-in leads to
        page.get_by_role("button", name="Sign in").click()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082"
)


def option_id(title: str) -> int:
    """The demo option of this English title."""
    found = db.session.scalar(
        sa.select(SupportOption.id)
        .join(SupportOptionText)
        .where(SupportOptionText.language == "en", SupportOptionText.title == title)
    )
    assert found is not None, title
    return found


def approved_rent_plan(app: Flask) -> tuple[int, str]:
    """A single mother's approved plan with the rent subsidy (set up through the services: the
    whole path through the pages is test_plan_path's); her case id and case number."""
    with app.app_context():
        users = {u.email: u for u in db.session.scalars(sa.select(User))}
        counsellor = users["counsellor.riga@demo.example"]
        manager = users["casemanager.tbilisi@demo.example"]
        tbilisi = db.session.scalars(sa.select(Office).where(Office.name == "IOM Tbilisi")).one()
        case = single_mother(counsellor, tbilisi, first_name="Tamar")
        case.case_manager_id = manager.id
        plan = services.start_plan(case.id, actor=counsellor)
        services.add_line(plan.id, option_id(RENT), quantity=3, actor=counsellor)
        services.submit_plan(plan.id, actor=counsellor)
        services.confirm_feasibility(plan.id, actor=manager)
        services.approve_plan(plan.id, actor=users["manager@demo.example"])
        db.session.commit()
        found = (case.id, case.case_number)
        db.session.remove()
    return found


def user_of(email: str) -> User:
    """The demo user of this e-mail."""
    user = db.session.scalar(sa.select(User).where(User.email == email))
    assert user is not None
    return user


def course_plan(
    make_app: Callable[..., Flask], *, first_name: str, departed_on: dt.date, approve: bool
) -> int:
    """Through the services, on the live server's database: a Riga counsellor's case returning
    to Kutaisi with the tailoring course in its plan, submitted and found feasible by the
    Tbilisi case manager, and approved by the programme manager when ``approve``; its id."""
    app = make_app()  # e-mails built here carry links: a server name
    with app.app_context():
        adviser = user_of("counsellor.riga@demo.example")
        manager = user_of("casemanager.tbilisi@demo.example")
        case = cases.register_case(
            cases.CaseDetails(
                first_name=first_name,
                last_name="Gelashvili",
                date_of_birth=dt.date(1988, 6, 2),
                sex=Sex.FEMALE,
                nationality="GE",
                return_country_code="GE",
                return_region="Imereti",
                return_city="Kutaisi",
                legal_status=LegalStatus.IRREGULAR_STAY,
                origin_office_id=manager.office_id,
                case_manager_id=manager.id,
                departed_on=departed_on,
            ),
            dependants=[cases.DependantInput(DependantRelation.CHILD, dt.date(2018, 3, 1))],
            consent=cases.ConsentInput(
                share_with_origin_office=True,
                share_with_partners=True,
                given_on=min(departed_on, TODAY),
            ),
            confirm_duplicate=True,
            actor=adviser,
        )
        plan = services.start_plan(case.id, actor=adviser)
        services.add_line(
            plan.id, option_id("Tailoring and sewing vocational course"), actor=adviser
        )
        services.submit_plan(plan.id, actor=adviser)
        services.confirm_feasibility(plan.id, actor=manager)
        if approve:
            services.approve_plan(plan.id, actor=user_of("manager@demo.example"))
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def returned_case(make_app: Callable[..., Flask]) -> int:
    """A case with an approved plan, returned 40 days ago (its first contact, due at +30, is
    overdue), swept today."""
    case_id = course_plan(make_app, first_name="Ketevan", departed_on=RETURNED, approve=True)
    with make_app().app_context():
        sweep(TODAY)
        db.session.remove()
    return case_id
