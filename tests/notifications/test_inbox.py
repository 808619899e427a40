"""Every message e-mailed to a user is also a notice in their inbox (written once per message,
by the outbox's one writer); each user's e-mail choice per kind, escalations always e-mailed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.core.errors import InvalidInput, NotFound
from reintegration_hub.core.inbox import (
    EmailChoice,
    InboxNotice,
    NotificationPreference,
    next_digest_at,
    summary_of,
)
from reintegration_hub.core.outbox import (
    OutboxMessage,
    OutgoingMessage,
    message_key,
    queue_messages,
)
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import notice_message_key
from reintegration_hub.notifications import inbox
from reintegration_hub.notifications.services import deliver_outbox
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan
from tests.clock import NOW
from tests.factories import UserFactory, user_with_role
from tests.notifications.smtp import Sink
from tests.plans.helpers import World, approved_plan, submitted_plan, world


@pytest.fixture
def w(app: Flask) -> World:
    return world()


def notices(user: User) -> list[InboxNotice]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(InboxNotice).where(InboxNotice.user_id == user.id).order_by(InboxNotice.id)
        )
    )


def outbox(key: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == key)))


def approval_key(plan: Plan) -> str:
    return message_key("plan:{}:v{}:approved", plan.id, plan.version).text


def test_a_plan_approval_writes_a_notice_for_each_user_it_e_mails(w: World) -> None:
    option = w.option()
    focal_point = UserFactory(
        role=Role.PARTNER, office=w.tbilisi, email=option.partner.focal_point_email.lower()
    )

    plan = approved_plan(w, option)

    (approved,) = [n for n in notices(w.counsellor) if n.kind == "plan:approved"]
    assert approved.key == approval_key(plan)
    assert approved.subject == f"Plan {w.case.case_number} approved"
    assert approved.summary.startswith(f"The reintegration plan of case {w.case.case_number}")
    assert approved.link == f"/cases/{w.case.id}/plan"  # a path in the app, not an address
    assert approved.read_at is None
    # the partner's focal point is e-mailed at an address an account has: its notice too
    (referral,) = notices(focal_point)
    assert referral.kind == "referral:sent"
    assert referral.link == f"/marketplace/referrals/{plan.lines[0].referral_id}"
    # the case manager was asked to review it when it was submitted
    assert [n.kind for n in notices(w.case_manager)] == ["plan:submitted"]
    assert len(outbox(approval_key(plan))) == 1


def test_the_writer_run_twice_writes_one_notice_and_one_e_mail(w: World) -> None:
    plan = approved_plan(w, w.option())
    key = message_key("plan:{}:v{}:approved", plan.id, plan.version)

    plans.notify(key, w.counsellor, "Plan approved", "plan_approved.txt", case=w.case, plan=plan)
    plans.notify(key, w.counsellor, "Plan approved", "plan_approved.txt", case=w.case, plan=plan)

    assert [n.key for n in notices(w.counsellor)].count(key.text) == 1
    assert len(outbox(key.text)) == 1


def test_a_message_to_an_address_without_an_account_has_no_notice(w: World) -> None:
    plan = approved_plan(w, w.option())  # the partner's focal point has no account here
    referral_key = message_key("referral:{}:sent", plan.lines[0].referral_id).text
    assert len(outbox(referral_key)) == 1
    assert db.session.scalar(sa.select(InboxNotice).where(InboxNotice.key == referral_key)) is None


def test_the_unread_count_and_marking_read(w: World) -> None:
    plan = submitted_plan(w, w.option())
    plans.return_plan(plan.id, comment="Add the rent line, please.", actor=w.case_manager)
    plans.submit_plan(plan.id, actor=w.counsellor)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    assert inbox.unread_count(actor=w.counsellor) == 2
    newest, oldest = inbox.inbox_page(actor=w.counsellor, page=1, per_page=10).items
    assert (newest.kind, oldest.kind) == ("plan:approved", "plan:returned")

    inbox.mark_read(oldest.id, actor=w.counsellor)
    assert inbox.unread_count(actor=w.counsellor) == 1
    assert [
        n.id for n in inbox.inbox_page(actor=w.counsellor, page=1, per_page=10, unread=True).items
    ] == [newest.id]

    assert inbox.mark_all_read(actor=w.counsellor) == 1
    assert inbox.unread_count(actor=w.counsellor) == 0
    assert inbox.unread_count(actor=w.case_manager) == 2  # submitted twice: theirs untouched


def test_another_users_notice_is_not_found(w: World, login: Callable[[User], FlaskClient]) -> None:
    approved_plan(w, w.option())
    (theirs,) = [n for n in notices(w.counsellor) if n.kind == "plan:approved"]
    other = user_with_role(Role.COUNSELLOR)

    with pytest.raises(NotFound):
        inbox.mark_read(theirs.id, actor=other)
    client = login(other)
    assert client.get(f"/inbox/{theirs.id}").status_code == 404
    assert client.post(f"/inbox/{theirs.id}/read").status_code == 404
    assert client.post(f"/api/v1/me/notifications/{theirs.id}/read").status_code == 404
    assert client.get("/api/v1/me/notifications").get_json() == []
    assert notices(w.counsellor)[-1].read_at is None


def test_the_inbox_pages_and_the_menu(w: World, login: Callable[[User], FlaskClient]) -> None:
    approved_plan(w, w.option())
    (notice,) = [n for n in notices(w.counsellor) if n.kind == "plan:approved"]
    client = login(w.counsellor)

    page = client.get("/inbox").get_data(as_text=True)
    assert 'data-testid="unread-count" aria-hidden="true">1</span>' in page
    assert f'data-notice-id="{notice.id}" data-unread="true"' in page
    assert "fw-bold" in page

    opened = client.get(f"/inbox/{notice.id}")
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/cases/{w.case.id}/plan")
    assert notices(w.counsellor)[-1].read_at is not None
    assert 'data-testid="unread-count"' not in client.get("/inbox").get_data(as_text=True)


def test_the_api_lists_and_marks_the_callers_notices(
    w: World, login: Callable[[User], FlaskClient]
) -> None:
    approved_plan(w, w.option())
    client = login(w.counsellor)

    (listed,) = client.get("/api/v1/me/notifications?unread=true").get_json()
    assert listed["kind"] == "plan:approved"
    assert listed["link"] == f"/cases/{w.case.id}/plan"
    assert listed["read_at"] is None

    marked = client.post(f"/api/v1/me/notifications/{listed['id']}/read")
    assert marked.status_code == 200
    assert marked.get_json()["read_at"] is not None
    assert client.get("/api/v1/me/notifications?unread=true").get_json() == []


def test_no_e_mail_chosen_queues_none_but_the_notice_is_written(w: World) -> None:
    inbox.set_email_choices({"plan:approved": EmailChoice.NONE}, actor=w.counsellor)

    plan = approved_plan(w, w.option())

    assert outbox(approval_key(plan)) == []
    assert [n.key for n in notices(w.counsellor)] == [approval_key(plan)]


def test_the_daily_digest_holds_the_e_mails_and_sends_them_as_one_digest(
    w: World, smtp: Sink
) -> None:
    inbox.set_email_choices(
        {"plan:returned": EmailChoice.DIGEST, "plan:approved": EmailChoice.DIGEST},
        actor=w.counsellor,
    )
    plan = submitted_plan(w, w.option())
    plans.return_plan(plan.id, comment="Add the rent line, please.", actor=w.case_manager)
    plans.submit_plan(plan.id, actor=w.counsellor)
    plans.confirm_feasibility(plan.id, actor=w.case_manager)
    plans.approve_plan(plan.id, actor=w.programme_manager)
    db.session.commit()
    held = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.to_address == w.counsellor.email)
    ).all()
    digest_at = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)  # the next 06:00 UTC after NOW
    assert {(m.kind, m.daily_digest, m.next_attempt_at) for m in held} == {
        ("plan:returned", True, digest_at),
        ("plan:approved", True, digest_at),
    }

    deliver_outbox(batch_size=100, now=digest_at - dt.timedelta(minutes=1))
    assert smtp.to(w.counsellor.email) == []

    counts = deliver_outbox(batch_size=100, now=digest_at)
    assert counts.digests == 1  # two of two kinds: fewer than OUTBOX_DIGEST_AFTER of a kind
    (digest,) = smtp.to(w.counsellor.email)
    assert digest["Subject"] == "Reintegration Hub: 2 notifications"
    assert len(notices(w.counsellor)) == 2


def test_an_escalation_is_e_mailed_whatever_the_recipient_chose(w: World) -> None:
    supervisor = w.case_manager
    with pytest.raises(InvalidInput):
        inbox.set_email_choices({"milestone:escalation": EmailChoice.NONE}, actor=supervisor)
    # a choice stored anyway (written before the rule, or by hand) is not followed
    db.session.add(
        NotificationPreference(
            user_id=supervisor.id, kind="milestone:escalation", email=EmailChoice.NONE
        )
    )
    db.session.add(
        NotificationPreference(user_id=supervisor.id, kind="milestone", email=EmailChoice.NONE)
    )
    escalation = notice_message_key(4242, 1, supervisor.email)
    reminder = notice_message_key(4242, 0, supervisor.email)

    queue_messages(
        OutgoingMessage(key, supervisor.email, "Overdue", "Overdue.\n", "en", user_id=supervisor.id)
        for key in (escalation, reminder)
    )

    assert escalation.kind == "milestone:escalation"
    (sent,) = outbox(escalation.text)
    assert not sent.daily_digest
    assert outbox(reminder.text) == []  # a reminder may be turned off
    assert {n.key for n in notices(supervisor)} == {escalation.text, reminder.text}
    assert inbox.email_choices(actor=supervisor)["milestone:escalation"] == EmailChoice.IMMEDIATELY


def test_the_e_mail_choices_page_saves_each_kinds_choice(
    w: World, login: Callable[[User], FlaskClient]
) -> None:
    client = login(w.counsellor)
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'name="plan__approved"' in page
    assert 'name="milestone__escalation"' not in page  # shown, never asked
    assert "Always e-mailed at once" in page

    saved = client.post(
        "/account/notifications", data={"plan__approved": "digest", "plan__returned": "none"}
    )

    assert saved.status_code == 302
    chosen = inbox.email_choices(actor=w.counsellor)
    assert chosen["plan:approved"] == EmailChoice.DIGEST
    assert chosen["plan:returned"] == EmailChoice.NONE
    assert chosen["milestone"] == EmailChoice.IMMEDIATELY
    refused = client.post("/account/notifications", data={"plan__approved": "weekly"})
    assert refused.status_code == 200
    assert inbox.email_choices(actor=w.counsellor)["plan:approved"] == EmailChoice.DIGEST


def test_the_short_text_and_the_digest_hour() -> None:
    body = "Hello,\n\nThe plan of case\nLV-1 is approved.\n\nOpen the plan: https://x/y\n"
    assert summary_of(body) == "The plan of case LV-1 is approved."
    assert next_digest_at(NOW, 6) == dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
    assert next_digest_at(NOW, 11) == dt.datetime(2026, 12, 6, 11, 0, tzinfo=dt.UTC)


def test_the_mark_read_buttons(w: World, login: Callable[[User], FlaskClient]) -> None:
    plan = approved_plan(w, w.option())
    client = login(w.case_manager)
    (first,) = notices(w.case_manager)
    assert 'data-testid="mark-all-read"' in client.get("/inbox").get_data(as_text=True)

    assert client.post(f"/inbox/{first.id}/read").status_code == 302
    assert notices(w.case_manager)[0].read_at is not None

    plans.notify(
        message_key("plan:{}:v{}:submitted", 999, 1),
        w.case_manager,
        "Another plan",
        "plan_submitted.txt",
        case=w.case,
        plan=plan,
    )
    assert inbox.unread_count(actor=w.case_manager) == 1
    assert client.post("/inbox/read").status_code == 302
    assert inbox.unread_count(actor=w.case_manager) == 0
