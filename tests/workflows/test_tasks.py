"""The work of each task, called as the plain function it wraps (``task.fn``): no Prefect
server is involved, and none may be started (``PREFECT_SERVER_EPHEMERAL_ENABLED=false``)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from prefect.states import Failed

from partners.models import Referral, ReferralStatus
from partners.services import StaleCounts
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus, message_key, public_url
from reintegration_hub.extensions import db
from reintegration_hub.notifications.services import DeliveryCounts, MailServerUnavailable
from tests.factories import SupportOptionFactory
from tests.notifications.helpers import NOW, queue, stored
from tests.notifications.smtp import Sink
from tests.partners.helpers import refer
from workflows import flows
from workflows.app import get_app, unit_of_work


def test_the_worker_app_comes_from_the_environment_once(worker_app: Flask, smtp: Sink) -> None:
    assert get_app() is worker_app
    assert worker_app.config["SMTP_PORT"] == smtp.port
    assert worker_app.config["OUTBOX_BATCH_SIZE"] == 3


def test_building_the_worker_app_freezes_what_the_process_holds(worker_app: Flask) -> None:
    # the collector's full collections scan only what flow runs make afterwards
    assert gc.get_freeze_count() > 0


def test_the_worker_app_has_every_route_but_no_api_document(
    worker_app: Flask, make_app: Callable[..., Flask]
) -> None:
    """A flow run serves no request: its app skips building the OpenAPI document, and keeps
    every other route, whose addresses its e-mails may link to."""
    served = {rule.endpoint for rule in make_app().url_map.iter_rules()}
    routes = {rule.endpoint for rule in worker_app.url_map.iter_rules()}
    assert served - routes == {"api-docs.openapi_json", "api_docs"}
    with worker_app.app_context():
        assert public_url("cases_api.list_cases").endswith("/api/v1/cases")


def test_a_unit_of_work_commits_at_the_end_and_rolls_back_on_error(
    app: Flask, worker_app: Flask
) -> None:
    with unit_of_work():
        queue(message_key("kept:{}", 1))

    def failing_task() -> None:
        with unit_of_work():
            queue(message_key("dropped:{}", 1))
            raise RuntimeError("the task failed")

    with pytest.raises(RuntimeError):
        failing_task()
    db.session.expire_all()
    assert db.session.scalars(sa.select(OutboxMessage.key)).all() == ["kept:1"]


def test_deliver_batch_sends_one_batch_and_commits(
    app: Flask, worker_app: Flask, smtp: Sink
) -> None:
    for n in range(4):
        queue(message_key("referral:{}:sent", n), f"partner{n}@example.org")
    db.session.commit()
    assert flows.deliver_batch.fn(NOW, 3) == DeliveryCounts(sent=3)
    assert flows.deliver_batch.fn(NOW, 3) == DeliveryCounts(sent=1)
    assert len(smtp.received) == 4
    assert stored("referral:3:sent").status == OutboxStatus.SENT


def test_expire_due_referrals_expires_those_unanswered_at_the_time_given(
    app: Flask, worker_app: Flask
) -> None:
    referral_id = refer(SupportOptionFactory(capacity_places=1)).id
    db.session.commit()
    expires_at = db.session.get_one(Referral, referral_id).expires_at
    db.session.commit()  # SQLite: no transaction (and write lock) of ours during the task
    assert flows.expire_due_referrals.fn(expires_at - dt.timedelta(minutes=1)) == 0
    assert flows.expire_due_referrals.fn(expires_at) == 1
    assert flows.expire_due_referrals.fn(expires_at) == 0  # idempotent
    db.session.commit()  # a new snapshot (SQLite), fresh objects
    assert db.session.get_one(Referral, referral_id).status == ReferralStatus.EXPIRED
    notice = db.session.scalar(
        sa.select(OutboxMessage.to_address).where(
            OutboxMessage.key == f"referral:{referral_id}:expired"
        )
    )
    assert notice == "tamar.case@iom.example.org"


def test_flag_stale_options_flags_the_options_not_verified_in_time(
    app: Flask, worker_app: Flask
) -> None:
    SupportOptionFactory(last_verified_at=NOW - dt.timedelta(days=200))
    SupportOptionFactory(last_verified_at=NOW - dt.timedelta(days=10))
    db.session.commit()
    assert flows.flag_stale_options.fn(NOW) == StaleCounts(flagged=1, stale=1, hidden=0)
    assert flows.flag_stale_options.fn(NOW) == StaleCounts(flagged=0, stale=1, hidden=0)


def test_tasks_retry_only_when_a_later_try_can_succeed() -> None:
    def retried(error: BaseException) -> bool:
        return flows.is_transient(None, None, Failed(data=error))

    assert retried(MailServerUnavailable("ConnectionRefusedError"))
    assert retried(sa.exc.OperationalError("SELECT 1", {}, Exception("server closed")))
    assert not retried(ValueError("a bug"))
    assert not retried(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate")))
