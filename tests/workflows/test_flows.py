"""The flows, orchestrated for real: a Prefect test server (``prefect_test_harness``, started
once for the session), task runs through the engine, artifacts stored on the server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import Referral, ReferralStatus
from partners.services import StaleCounts
from reintegration_hub.cases import sms
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus, message_key
from reintegration_hub.extensions import db
from reintegration_hub.notifications.services import DeliveryCounts
from tests.cases.helpers import counsellor, texted
from tests.factories import SupportOptionFactory
from tests.notifications.helpers import NOW, queue
from tests.notifications.smtp import Sink
from tests.partners.helpers import refer
from tests.sms_gateway import Gateway, sms_gateway
from tests.workflows.helpers import artifact_rows
from workflows import flows
from workflows.app import reset_app

pytestmark = [pytest.mark.orchestrated, pytest.mark.usefixtures("prefect_server")]


def test_deliver_notifications_sends_every_due_message_once_in_batches(
    app: Flask, worker_app: Flask, smtp: Sink
) -> None:
    for n in range(7):
        queue(message_key("referral:{}:sent", n), f"partner{n}@example.org")
    queue(
        message_key("referral:{}:sent", 99), "later@example.org", due=NOW + dt.timedelta(minutes=5)
    )
    db.session.commit()

    state = flows.deliver_notifications(as_of=NOW, return_state=True)
    assert state.is_completed()
    assert state.result() == DeliveryCounts(sent=7)
    ids = smtp.message_ids()
    assert len(ids) == len(set(ids)) == 7
    (row,) = artifact_rows("deliver-notifications", state.state_details.flow_run_id)
    assert (row["sent"], row["failed"], row["batches"]) == (7, 0, 3)  # OUTBOX_BATCH_SIZE=3

    assert flows.deliver_notifications(as_of=NOW) == DeliveryCounts()
    assert len(smtp.received) == 7
    db.session.commit()
    statuses = db.session.execute(sa.select(OutboxMessage.key, OutboxMessage.status)).all()
    assert {key for key, status in statuses if status == OutboxStatus.QUEUED} == {
        "referral:99:sent"
    }


@pytest.fixture
def gateway(worker_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """A fake SMS gateway the worker's application sends text messages through."""
    with sms_gateway() as found:
        for name, value in found.config().items():
            monkeypatch.setenv(f"HUB_{name}", str(value))
        reset_app()
        yield found
    reset_app()


def test_deliver_notifications_counts_the_texts_it_withdrew(app: Flask, gateway: Gateway) -> None:
    case = texted(counsellor())
    key = message_key("sms:test:{}", 1)
    assert sms.queue_returnee_sms(case.id, key=key, text_for_language=str)
    case.mobile_number = "+995555999999"  # changed since: the text to the old one is withdrawn
    db.session.commit()

    later = now_utc() + dt.timedelta(minutes=1)  # a test that commits runs on the real clock
    state = flows.deliver_notifications(as_of=later, return_state=True)
    assert state.is_completed()
    assert state.result() == DeliveryCounts(withdrawn=1)
    (row,) = artifact_rows("deliver-notifications", state.state_details.flow_run_id)
    assert (row["sent"], row["failed"], row["withdrawn"]) == (0, 0, 1)
    assert gateway.received == []


def test_expire_referrals_expires_the_unanswered_ones(app: Flask, worker_app: Flask) -> None:
    referral_id = refer(SupportOptionFactory(capacity_places=1)).id
    db.session.commit()
    expires_at = db.session.get_one(Referral, referral_id).expires_at
    db.session.commit()

    state = flows.expire_referrals(as_of=expires_at, return_state=True)
    assert state.result() == 1
    (row,) = artifact_rows("expire-referrals", state.state_details.flow_run_id)
    assert row["expired"] == 1
    assert db.session.get_one(Referral, referral_id).status == ReferralStatus.EXPIRED


def test_flag_stale_listings_flags_options_not_verified_in_time(
    app: Flask, worker_app: Flask
) -> None:
    SupportOptionFactory(last_verified_at=NOW - dt.timedelta(days=200))
    db.session.commit()
    state = flows.flag_stale_listings(as_of=NOW, return_state=True)
    assert state.result() == StaleCounts(flagged=1, stale=1, hidden=0)
    (row,) = artifact_rows("flag-stale-listings", state.state_details.flow_run_id)
    assert (row["flagged"], row["stale"], row["hidden"]) == (1, 1, 0)
