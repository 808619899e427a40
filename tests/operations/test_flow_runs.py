"""Flow-run records (service) and the administrators' page of recent runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import PermissionDenied
from reintegration_hub.core.roles import Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.operations import services
from reintegration_hub.operations.models import FlowRunRecord, FlowRunState
from tests.factories import user_with_role
from tests.queries import counted_statements

Login = Callable[[User], FlaskClient]
FLOW = SystemActor("test")


def run(name: str, *, counts: dict[str, int] | None = None, error: str | None = None) -> int:
    record = services.start_flow_run(name, prefect_flow_run_id=None, actor=FLOW)
    services.finish_flow_run(record.id, counts=counts or {}, error=error, actor=FLOW)
    db.session.commit()
    return record.id


def test_a_record_starts_running_and_ends_succeeded_or_failed(app: Flask) -> None:
    record = services.start_flow_run("deliver-notifications", prefect_flow_run_id="abc", actor=FLOW)
    assert (record.state, record.finished_at) == (FlowRunState.RUNNING, None)
    services.finish_flow_run(record.id, counts={"sent": 2}, actor=FLOW)
    assert (record.state, record.counts) == (FlowRunState.SUCCEEDED, {"sent": 2})
    failed = services.start_flow_run("expire-referrals", actor=FLOW)
    services.finish_flow_run(failed.id, error="OperationalError", actor=FLOW)
    assert (failed.state, failed.error) == (FlowRunState.FAILED, "OperationalError")


def test_records_older_than_the_keeping_period_go(app: Flask) -> None:
    old = run("deliver-notifications")
    db.session.get_one(FlowRunRecord, old).started_at = now_utc() - dt.timedelta(days=91)
    db.session.commit()
    kept = run("deliver-notifications")
    assert db.session.scalars(sa.select(FlowRunRecord.id)).all() == [kept]


def test_recent_runs_newest_first_filtered_in_keyset_pages(app: Flask) -> None:
    admin = user_with_role(Role.ADMIN)
    ids = [run("deliver-notifications", counts={"sent": n}) for n in range(3)]
    failed = run("track-milestones", error="OperationalError")
    assert [r.id for r in services.recent_flow_runs(actor=admin)] == [failed, *reversed(ids)]
    assert [
        r.id for r in services.recent_flow_runs(actor=admin, flow_name="deliver-notifications")
    ] == list(reversed(ids))
    assert [r.id for r in services.recent_flow_runs(actor=admin, state=FlowRunState.FAILED)] == [
        failed
    ]
    page = services.recent_flow_runs(actor=admin, before_id=ids[2], limit=1)
    assert [r.id for r in page] == [ids[1]]
    assert services.flow_names(actor=admin) == ["deliver-notifications", "track-milestones"]
    last = services.last_runs(actor=admin)
    assert {name: r.id for name, r in last.items()} == {
        "deliver-notifications": ids[2],
        "track-milestones": failed,
    }


def test_only_administrators_read_runs(app: Flask) -> None:
    with pytest.raises(PermissionDenied):
        services.recent_flow_runs(actor=user_with_role(Role.PROGRAMME_MANAGER))


def test_the_page_lists_runs_with_counts_filters_and_pages(app: Flask, login: Login) -> None:
    for n in range(3):
        run("deliver-notifications", counts={"sent": n})
    run("track-milestones", error="OperationalError (psycopg.OperationalError)")
    client = login(user_with_role(Role.ADMIN))

    page = client.get("/admin/flow-runs").get_data(as_text=True)
    table = page.split('data-testid="flow-runs"')[1].split("</table>")[0]
    assert table.count('data-flow="deliver-notifications"') == 3
    assert "sent <strong>2</strong>" in table
    assert "OperationalError (psycopg.OperationalError)" in table
    assert table.index("track-milestones") < table.index("deliver-notifications")  # newest first
    assert 'href="/admin/flow-runs"' in page  # in the menu

    failed_only = client.get("/admin/flow-runs?state=failed").get_data(as_text=True)
    table = failed_only.split('data-testid="flow-runs"')[1].split("</table>")[0]
    assert "deliver-notifications" not in table
    assert "track-milestones" in table
    one_flow = client.get("/admin/flow-runs?flow=deliver-notifications").get_data(as_text=True)
    table = one_flow.split('data-testid="flow-runs"')[1].split("</table>")[0]
    assert "track-milestones" not in table


def test_the_page_takes_the_same_statements_whatever_the_number_of_runs(
    app: Flask, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reintegration_hub.operations import views

    monkeypatch.setattr(views, "PAGE", 2)
    client = login(user_with_role(Role.ADMIN))
    run("a")
    with counted_statements() as few:
        client.get("/admin/flow-runs")
    for name in ("a", "b", "c", "d"):
        run(name)
    with counted_statements() as many:
        page = client.get("/admin/flow-runs").get_data(as_text=True)
    assert len(many) == len(few)
    assert "before_id=" in page  # a next page


def test_other_roles_are_refused(app: Flask, login: Login) -> None:
    client = login(user_with_role(Role.CASE_MANAGER))
    assert client.get("/admin/flow-runs").status_code == 403


@pytest.fixture
def prefect_on_port_4255(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the Procfile gives the web process under ``make run PREFECT_PORT=4255``: set
    before ``app`` is built from the environment."""
    monkeypatch.setenv("HUB_PREFECT_UI_URL", "http://127.0.0.1:4255/")


def test_the_links_to_prefect_follow_the_configured_ui_address(
    prefect_on_port_4255: None, app: Flask, login: Login
) -> None:
    record = services.start_flow_run(
        "deliver-notifications", prefect_flow_run_id="0b5c1e9a-7d3f", actor=FLOW
    )
    services.finish_flow_run(record.id, counts={}, actor=FLOW)
    client = login(user_with_role(Role.ADMIN))

    page = client.get("/admin/flow-runs").get_data(as_text=True)
    assert 'href="http://127.0.0.1:4255/runs/flow-run/0b5c1e9a-7d3f"' in page
    assert 'href="http://127.0.0.1:4255"' in page  # the UI itself
    assert ":4200" not in page
    notifications = client.get("/admin/notifications").get_data(as_text=True)
    assert 'href="http://127.0.0.1:4255"' in notifications
