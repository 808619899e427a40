# ruff: noqa: RUF001 - the expected e-mails are in Russian and Czech, in their own scripts
"""E-mails are written in their recipient's language, whoever sent them and in whatever language
they work, and every link in them starts with the configured ``PUBLIC_BASE_URL``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from partners.models import DeclineReason, PartnerMember
from partners.referrals import accept_referral, decline_referral
from reintegration_hub.auth.models import User
from reintegration_hub.core.outbox import (
    OutboxMessage,
    message_key,
    public_url,
    recipient_languages,
)
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneKind
from reintegration_hub.followups.timeline import recheck_plan
from reintegration_hub.notifications.services import deliver_outbox
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan
from tests.factories import PartnerFactory, UserFactory
from tests.notifications.helpers import NOW, queue
from tests.notifications.smtp import Sink
from tests.plans.helpers import World, world

BASE = "https://hub.example.org/iom"


@pytest.fixture
def app(make_app: Callable[..., Flask], smtp: Sink) -> Iterator[Flask]:
    app = make_app(
        SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, SMTP_TIMEOUT_SECONDS=5, PUBLIC_BASE_URL=BASE
    )
    with app.app_context():
        yield app


@pytest.fixture
def w(app: Flask) -> World:
    made = world()
    made.counsellor.preferred_language = "lv"  # Riga works in Latvian
    made.programme_manager.preferred_language = "lv"
    return made


def message(key_end: str, to: str | None = None) -> OutboxMessage:
    """The one message whose key ends so (to ``to`` when several recipients are told)."""
    stmt = sa.select(OutboxMessage).where(OutboxMessage.key.endswith(key_end))
    if to is not None:
        stmt = stmt.where(OutboxMessage.to_address == to)
    return db.session.scalars(stmt).one()


def feasible(w: World, contact_language: str) -> Plan:
    """A plan with one Tbilisi option of a partner whose contact language is given, submitted
    by the Riga counsellor and confirmed: approving it refers the line to the partner."""
    option = w.option(partner__contact_language=contact_language)
    plan = plans.start_plan(w.case.id, actor=w.counsellor)
    plans.add_line(plan.id, option.id, actor=w.counsellor)
    with force_locale("lv"):
        plans.submit_plan(plan.id, actor=w.counsellor)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    return plan


def focal_point_account(w: World, plan: Plan, language: str) -> User:
    """An account for the focal point of the plan's partner, in ``language``."""
    partner = plan.lines[0].option.partner
    user: User = UserFactory(
        role=Role.PARTNER,
        office=w.tbilisi,
        email=partner.focal_point_email.lower(),
        preferred_language=language,
    )
    db.session.add(PartnerMember(partner_id=partner.id, user_id=user.id))
    db.session.flush()
    return user


def test_a_referral_approved_in_latvian_reaches_a_georgian_partner_in_english(
    w: World, login
) -> None:
    plan = feasible(w, "ka")  # no catalogue for Georgian: English
    browser = login(w.programme_manager)
    assert '<html lang="lv">' in browser.get(f"/cases/{w.case.id}/plan").get_data(as_text=True)

    response = browser.post(f"/plans/{plan.id}/approve", data={"comment": ""})

    assert response.status_code == 302
    sent = message(":sent")
    assert sent.language == "en"
    assert sent.subject == f"New referral {w.case.case_number}: please answer"
    assert sent.body_text.startswith("Hello,\n\nIOM refers a returnee to")


def test_a_partner_whose_contact_language_is_russian_reads_russian(w: World) -> None:
    plan = feasible(w, "ru")
    with force_locale("lv"):  # the sender's interface
        plans.approve_plan(plan.id, actor=w.programme_manager)

    sent = message(":sent")
    assert sent.language == "ru"
    assert sent.subject == f"Новое направление {w.case.case_number}: просим ответить"
    assert sent.body_text.startswith("Здравствуйте!\n\nМОМ направляет вернувшегося человека")


def test_a_focal_point_with_an_account_reads_the_language_of_the_account(w: World) -> None:
    plan = feasible(w, "ru")
    focal_point_account(w, plan, "cs")
    with force_locale("lv"):
        plans.approve_plan(plan.id, actor=w.programme_manager)

    sent = message(":sent")
    assert sent.language == "cs"
    assert sent.subject == f"Nový předaný případ {w.case.case_number}: odpovězte prosím"


def test_the_case_manager_reads_a_decline_in_their_own_language(w: World) -> None:
    w.case_manager.preferred_language = "cs"
    plan = feasible(w, "ru")
    plans.approve_plan(plan.id, actor=w.programme_manager)
    partner_user = focal_point_account(w, plan, "ru")

    with force_locale("ru"):  # the partner's interface
        decline_referral(
            plan.lines[0].referral_id, DeclineReason.LOCATION, actor=partner_user, note="Tbilisi"
        )

    declined = message(":declined", to=w.case_manager.email)
    assert declined.subject == f"Předání případu {w.case.case_number} bylo odmítnuto"
    assert "Důvod:" in declined.body_text
    referral_page = f"{BASE}/marketplace/referrals/{plan.lines[0].referral_id}"
    assert referral_page in declined.body_text


def test_every_link_starts_with_the_public_base_url(w: World, app: Flask) -> None:
    plan = feasible(w, "en")  # submitted outside any request: no host to take links from
    plans.approve_plan(plan.id, actor=w.programme_manager)

    submitted = message(":submitted")
    assert f"{BASE}/cases/{w.case.id}/plan\n" in submitted.body_text
    assert "hub.test" not in submitted.body_text  # not the server name of the app
    assert f"{BASE}/marketplace/referrals/answer/" in message(":sent").body_text
    with app.test_request_context("/", base_url="http://10.0.0.7:5000"):
        assert public_url("plans.plan", case_id=7) == f"{BASE}/cases/7/plan"


def test_a_delivery_reminder_reaches_the_partner_in_its_language_with_the_delivery_form(
    w: World,
) -> None:
    plan = feasible(w, "ru")
    plans.approve_plan(plan.id, actor=w.programme_manager)
    line = plan.lines[0]
    accept_referral(line.referral_id, actor=focal_point_account(w, plan, "ru"))
    due = db.session.scalars(
        sa.select(Milestone.due_on).where(
            Milestone.plan_line_id == line.id, Milestone.kind == MilestoneKind.LINE_DELIVERED
        )
    ).one()

    recheck_plan(plan.id, actor=w.case_manager, as_of=due)

    reminders = db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.to_address == line.option.partner.focal_point_email
        )
    ).all()
    (reminder,) = [m for m in reminders if m.key.startswith("milestone:")]
    assert reminder.language == "ru"
    assert f"{BASE}/deliveries/lines/{line.id}/new" in reminder.body_text
    assert reminder.body_text.startswith("Напоминание: этап «Помощь оказана» по делу")


def test_a_digest_is_written_in_its_recipients_language(app: Flask, smtp: Sink) -> None:
    for number in range(6):
        queue(message_key("referral:{}:sent", number), "partner@example.org").language = "lv"
    db.session.commit()

    deliver_outbox(batch_size=100, now=NOW)

    (digest,) = smtp.to("partner@example.org")
    assert digest["Subject"] == "Reintegration Hub: 6 paziņojumi"


def test_the_language_of_each_address(app: Flask) -> None:
    account = UserFactory(email="nino@iom.example.org", preferred_language="ru")
    PartnerFactory(focal_point_email="Desk@Kutaisi.example.org", contact_language="cs")
    PartnerFactory(focal_point_email="desk@tbilisi.example.org", contact_language="ka")
    PartnerFactory(focal_point_email="nino@iom.example.org", contact_language="lv")
    PartnerFactory(focal_point_email="plain@partner.example.org")

    found = recipient_languages(
        [
            "NINO@iom.example.org",
            "desk@kutaisi.example.org",
            "desk@tbilisi.example.org",
            "plain@partner.example.org",
            "stranger@example.org",
        ]
    )

    assert account.email == "nino@iom.example.org"
    assert found == {
        "NINO@iom.example.org": "ru",  # the account wins over the partner
        "desk@kutaisi.example.org": "cs",
        "desk@tbilisi.example.org": "en",  # Georgian: no catalogue
        "plain@partner.example.org": "en",
        "stranger@example.org": "en",
    }
