"""The e-mail delivery page: administrators see failures and send them again."""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus, message_key
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.factories import user_with_role
from tests.notifications.helpers import queue

Login = Callable[[User], FlaskClient]


def test_admins_see_failed_messages_and_counts(app: Flask, login: Login) -> None:
    failed = queue(
        message_key("referral:{}:sent", 1),
        "gone@example.org",
        status=OutboxStatus.FAILED,
        attempts=3,
    )
    failed.last_error = "550 5.1.1 Mailbox unavailable"
    queue(message_key("referral:{}:sent", 2), "fine@example.org", status=OutboxStatus.SENT)
    queue(message_key("sms:test:{}", 3), "+995555123456", status=OutboxStatus.WITHDRAWN)
    page = login(user_with_role(Role.ADMIN)).get("/admin/notifications").get_data(as_text=True)
    assert "E-mail delivery" in page
    assert '<dt class="col-sm-2">Withdrawn</dt>' in page
    assert 'data-status="withdrawn">1<' in page
    assert 'data-status="failed">1<' in page
    assert 'data-status="sent">1<' in page
    assert 'data-status="queued">0<' in page
    failed_table = page.split('data-testid="failed-messages"')[1].split("</table>")[0]
    assert "gone@example.org" in failed_table
    assert "550 5.1.1 Mailbox unavailable" in failed_table
    assert f"/admin/notifications/{failed.id}/retry" in failed_table
    assert "fine@example.org" not in failed_table


def test_retrying_queues_the_message_again(app: Flask, login: Login) -> None:
    failed = queue(message_key("referral:{}:sent", 1), status=OutboxStatus.FAILED, attempts=8)
    client = login(user_with_role(Role.ADMIN))
    response = client.post(f"/admin/notifications/{failed.id}/retry")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/notifications")
    db.session.expire_all()
    assert db.session.get(OutboxMessage, failed.id).status == OutboxStatus.QUEUED
    again = client.post(f"/admin/notifications/{failed.id}/retry", follow_redirects=True)
    assert "Only a failed message can be sent again." in again.get_data(as_text=True)


def test_other_roles_are_refused(app: Flask, login: Login) -> None:
    failed = queue(message_key("referral:{}:sent", 1), status=OutboxStatus.FAILED)
    client = login(user_with_role(Role.PROGRAMME_MANAGER))
    assert client.get("/admin/notifications").status_code == 403
    assert client.post(f"/admin/notifications/{failed.id}/retry").status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxMessage, failed.id).status == OutboxStatus.FAILED


def test_the_retry_button_needs_its_csrf_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        admin = user_with_role(Role.ADMIN)
        failed = queue(message_key("referral:{}:sent", 1), status=OutboxStatus.FAILED)
        start_session(admin)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = admin.get_id()
        assert client.post(f"/admin/notifications/{failed.id}/retry").status_code == 400
        page = client.get("/admin/notifications").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None
        client.post(f"/admin/notifications/{failed.id}/retry", data={"csrf_token": token[1]})
        db.session.expire_all()
        status = db.session.scalar(
            sa.select(OutboxMessage.status).where(OutboxMessage.id == failed.id)
        )
        assert status == OutboxStatus.QUEUED
