"""Observability: JSON log lines naming each request, and the Prometheus metrics behind a token."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.config import ConfigError
from reintegration_hub.core.observability import configure_logging, log_context
from reintegration_hub.core.outbox import (
    OutboxMessage,
    OutboxStatus,
    OutgoingMessage,
    message_key,
    queue_messages,
)
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus
from reintegration_hub.operations.services import finish_flow_run, start_flow_run
from tests.factories import user_with_role
from tests.followups.helpers import approved
from tests.plans.helpers import world

TOKEN = "scrape-secret-0123456789"
HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The application logging JSON, its metrics readable with ``TOKEN``."""
    app = make_app(LOG_FORMAT="json", METRICS_TOKEN=TOKEN)
    configure_logging(app)  # the process's logging is the last app built's: this one's
    with app.app_context():
        yield app


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line logged since the last call, each parsed as JSON (a line that is not fails)."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def access_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [line for line in log_lines(capsys) if line["logger"] == "reintegration_hub.access"]


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample ``name`` with (at least) ``labels`` in the exposition."""
    found = []
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        named = metric == name or metric.startswith(name + "{")
        if named and all(f'{key}="{label}"' in metric for key, label in labels.items()):
            found.append(float(value))
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_a_request_logs_one_json_line_with_the_id_it_was_sent(client, capsys) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-4f2a.9:x=1"})
    assert response.headers["X-Request-ID"] == "lb-4f2a.9:x=1"
    (line,) = access_lines(capsys)
    assert line["request_id"] == "lb-4f2a.9:x=1"
    assert {key: line[key] for key in ("method", "path", "endpoint", "status", "level")} == {
        "method": "GET",
        "path": "/healthz",
        "endpoint": "home.health",
        "status": 200,
        "level": "INFO",
    }
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] is None
    assert line["timestamp"].endswith("+00:00")


def test_a_request_without_an_id_gets_one_of_its_own(client, capsys) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert HEX_ID.fullmatch(first)
    assert HEX_ID.fullmatch(second)
    assert first != second
    assert [line["request_id"] for line in access_lines(capsys)] == [first, second]


@pytest.mark.parametrize(
    "hostile", ["x" * 129, "abc\x00def", "abc\ndef", "abc\r\n{}", "a b", "ünïcode", ""]
)
def test_a_hostile_request_id_is_replaced(client, capsys, hostile: str) -> None:
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": hostile})
    assert response.status_code == 200
    assert HEX_ID.fullmatch(response.headers["X-Request-ID"])
    (line,) = access_lines(capsys)
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_service_log_lines_carry_the_request_id(make_app, capsys) -> None:
    # readiness (home.services) logs a Prefect API that does not answer: nothing listens there
    app = make_app(LOG_FORMAT="json", PREFECT_API_URL="http://127.0.0.1:4899/api")
    configure_logging(app)
    with app.app_context():
        assert app.test_client().get("/readyz", headers={"X-Request-ID": "ready-1"}).status_code
    service, access = log_lines(capsys)
    assert service["logger"] == "reintegration_hub.home.services"
    assert service["level"] == "WARNING"
    assert service["request_id"] == access["request_id"] == "ready-1"


def test_bound_context_is_added_to_every_record_and_unbound_after(capsys) -> None:
    import logging

    logger = logging.getLogger("reintegration_hub.test")
    with log_context(flow_run_id="run-1", deployment="track-milestones"):
        logger.warning("inside")
    logger.warning("outside")
    inside, outside = log_lines(capsys)
    assert (inside["flow_run_id"], inside["deployment"]) == ("run-1", "track-milestones")
    assert "flow_run_id" not in outside
    assert outside["request_id"] is None


def test_a_signed_in_request_logs_the_user_id_only(client, login, capsys) -> None:
    user = user_with_role(Role.COUNSELLOR)
    login(user)
    capsys.readouterr()
    client.get("/cases/", query_string={"q": "Nino Beridze"})
    (line,) = access_lines(capsys)
    assert line["user_id"] == user.id
    assert line["endpoint"] == "cases.index"
    assert line["path"] == "/cases/"  # no query string
    assert user.email not in json.dumps(line)
    assert user.full_name not in json.dumps(line)


def test_a_secret_token_in_the_path_is_not_logged(client, capsys) -> None:
    client.get("/follow-up/calendar/s3cr3t-t0ken-value.ics")
    (line,) = access_lines(capsys)
    assert line["path"] == "/follow-up/calendar/<token>.ics"
    assert "s3cr3t" not in json.dumps(line)


def test_no_name_or_email_in_the_logs_or_metrics_of_requests_that_handled_them(
    client, login, capsys
) -> None:
    user = user_with_role(Role.ADMIN)
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": "wrong password"})
    login(user)
    client.post(
        "/admin/users/new",
        data={
            "email": "nino.beridze@example.org",
            "full_name": "Nino Beridze",
            "office_id": user.office_id,
            "role": "counsellor",
            "preferred_language": "en",
            "password": "a long initial password 4821",
        },
    )
    client.get("/cases/", query_string={"q": "Nino Beridze nino.beridze@example.org"})
    text = "\n".join(json.dumps(line) for line in log_lines(capsys)) + scrape(client)
    assert "request" in text  # the lines were there to search
    for personal in (user.email, user.full_name, "nino.beridze", "Nino", "Beridze"):
        assert personal not in text


@pytest.mark.parametrize(
    ("key", "value"),
    [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD"), ("METRICS_ALLOW_FROM", "10.0.0.0/8,intranet")],
)
def test_a_bad_setting_is_refused_with_its_name(make_fresh_app, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"HUB_{key}"):
        make_fresh_app(**{key: value})


def test_metrics_are_refused_without_the_token(client) -> None:
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"hub_" not in wrong.data
    assert b"flask_" not in wrong.data


def test_metrics_are_not_served_when_nothing_allows_them(make_app) -> None:
    app = make_app()
    with app.app_context():
        assert app.test_client().get("/metrics").status_code == 404


def test_metrics_are_served_to_an_allowed_address(make_app) -> None:
    app = make_app(METRICS_ALLOW_FROM="10.0.0.0/8, 127.0.0.1")
    with app.app_context():
        client = app.test_client()
        assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
        outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert outside.status_code == 403


def test_metrics_show_the_request_histogram_by_endpoint(client) -> None:
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page")
    after = scrape(client)
    count = "flask_http_request_duration_seconds_count"
    health = {"endpoint": "home.health", "method": "GET", "status": "200"}
    seen = sample(before, count, **health) if 'endpoint="home.health"' in before else 0
    assert sample(after, count, **health) == seen + 2
    assert sample(after, count, endpoint="None", status="404") >= 1  # no raw path as a label
    assert "/no/such/page" not in after
    assert 'endpoint="metrics"' not in after  # scrapes are not counted


def test_metrics_show_the_outbox_queue_and_overdue_milestones(client) -> None:
    w = world()
    plan = approved(w, w.option())
    milestones = db.session.scalars(
        sa.select(Milestone).where(Milestone.plan_id == plan.id).limit(2)
    ).all()
    for milestone in milestones:
        milestone.status = MilestoneStatus.OVERDUE
    db.session.execute(sa.delete(OutboxMessage))  # the approval's own messages
    messages = [
        OutgoingMessage(
            message_key("test:{}:observed", n), f"person{n}@example.org", "Subject", "Body", "en"
        )
        for n in range(4)
    ]
    assert queue_messages(messages) == 4
    rows = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    rows[0].created_at -= dt.timedelta(hours=1)
    rows[0].next_attempt_at -= dt.timedelta(minutes=30)
    rows[-1].status = OutboxStatus.FAILED
    db.session.commit()
    text = scrape(client)
    assert sample(text, "hub_outbox_messages", status="queued") == 3
    assert sample(text, "hub_outbox_messages", status="failed") == 1
    assert 3600 <= sample(text, "hub_outbox_oldest_queued_age_seconds") < 3600 + 60
    assert 1800 <= sample(text, "hub_outbox_oldest_due_wait_seconds") < 1800 + 60
    assert sample(text, "hub_milestones_overdue") == len(milestones) == 2
    assert sample(text, "hub_metrics_collector_up") == 1
    assert "@example.org" not in text


def test_metrics_show_the_last_successful_run_of_each_flow(client) -> None:
    from reintegration_hub.core.roles import SystemActor

    actor = SystemActor("test")
    done = start_flow_run("track-milestones", actor=actor)
    finish_flow_run(done.id, counts={}, actor=actor)
    failed = start_flow_run("deliver-notifications", actor=actor)
    finish_flow_run(failed.id, error="OperationalError", actor=actor)
    db.session.commit()
    text = scrape(client)
    assert done.finished_at is not None
    assert sample(
        text, "hub_flow_last_success_timestamp_seconds", flow="track-milestones"
    ) == pytest.approx(done.finished_at.timestamp())
    assert 'flow="deliver-notifications"' not in text  # it never succeeded
