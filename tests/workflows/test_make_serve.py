"""``make serve``: the production topology (Procfile.production) started as an operator would.

gunicorn, the Prefect server on a PostgreSQL database of its own, a worker of a process work
pool, Redis for the sign-in limits; the test plays the TLS-terminating proxy in front of the
web process (``HUB_TRUSTED_PROXIES=1``). Checked: liveness and readiness, a signed-in page, an
API call, a flow run through the worker that sends a queued e-mail, and a stop that ends every
process, nothing killed, no traceback: the Prefect server first (honcho then stops the rest),
then SIGTERM to every process of the service (systemd's default).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg import sql

from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus, message_key
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.operations.models import FlowRunRecord
from tests.conftest import REDIS_TEST_URL
from tests.factories import user_with_role
from tests.notifications.helpers import queue
from tests.notifications.smtp import smtp_server
from tests.ports import free_port
from tests.workflows.helpers import answers, api_json, signed_in, wait_until
from workflows.deployments import ENGINE_COMMAND

#: what a production start needs besides the databases (config.production_problems)
SECRETS = {
    "HUB_SECRET_KEY": "s" * 48,
    "HUB_DOCUMENT_KEYS": "d" * 43 + "=",
    "HUB_PUBLIC_BASE_URL": "https://hub.example.org",
    "HUB_RATELIMIT_STORAGE_URI": REDIS_TEST_URL,
    "HUB_METRICS_TOKEN": "m" * 40,
}
DELIVER = "deliver-notifications/deliver-notifications"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def clean_environment() -> dict[str, str]:
    """The test's environment without its own application and Prefect settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))}


def test_make_serve_refuses_to_start_naming_each_missing_setting(repo_root: Path) -> None:
    environment = clean_environment() | {"HUB_DATABASE_URL": "sqlite:///hub.sqlite3"}
    refused = subprocess.run(
        ["make", "serve"], cwd=repo_root, env=environment, capture_output=True, text=True
    )
    assert refused.returncode != 0
    for name in (
        "HUB_ENV",
        "HUB_SECRET_KEY",
        "HUB_DATABASE_URL",
        "HUB_RATELIMIT_STORAGE_URI",
        "HUB_DOCUMENT_KEYS",
        "HUB_PUBLIC_BASE_URL",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    ):
        assert f"- {name}:" in refused.stderr
    assert "not SQLite" in refused.stderr
    assert "honcho -f Procfile.production start" not in refused.stdout  # nothing started


@contextmanager
def prefect_database(database_url: str) -> Iterator[str]:
    """A throw-away database for the Prefect server, next to the test database."""
    base, _, _ = database_url.rpartition("/")
    name = f"hub_test_prefect_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.orchestrated
def test_make_serve_runs_the_production_topology_and_stops_cleanly(
    app: Flask, database_url: str, repo_root: Path, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("production refuses SQLite: the topology runs on PostgreSQL")
    admin = user_with_role(Role.ADMIN)
    queue(message_key("test:{}:serve", 1), "someone@example.org", subject="Through a worker")
    db.session.commit()
    web_port, prefect_port = free_port(), free_port()
    web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{prefect_port}/api"
    pool = f"hub-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "serve.log"
    with prefect_database(database_url) as prefect_url, smtp_server() as sink:
        environment = (
            clean_environment()
            | SECRETS
            | {
                "HUB_ENV": "production",
                "HUB_DATABASE_URL": database_url,
                "HUB_TRUSTED_PROXIES": "1",
                "HUB_SMTP_HOST": "127.0.0.1",
                "HUB_SMTP_PORT": str(sink.port),
                "HUB_WORK_POOL": pool,
                # the orphan below is crashed sooner; a real run, started under the suite's
                # load, must still reach Running within it
                "HUB_FLOW_PENDING_SECONDS": "60",
                "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_url,
                "PREFECT_HOME": str(tmp_path / "prefect"),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
                "WEB_BIND": f"127.0.0.1:{web_port}",
                "WEB_CONCURRENCY": "2",
                "PYTHONUNBUFFERED": "1",
            }
        )
        with log.open("w") as written:
            serve = subprocess.Popen(
                ["make", "serve", f"PREFECT_PORT={prefect_port}", "WORKERS=1"],
                cwd=repo_root,
                env=environment,
                stdout=written,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as a service of its own
            )
        try:
            wait_until(
                lambda: answers(f"{web}/healthz") or serve.poll() is not None,
                120,
                "the web processes",
            )
            assert serve.poll() is None, "make serve ended before its web processes answered"
            wait_until(lambda: answers(f"{api}/health"), 120, "the Prefect server")
            with urllib.request.urlopen(f"{web}/readyz") as response:  # noqa: S310
                assert json.load(response)["checks"] == {"database": "ok", "prefect": "ok"}

            opener = signed_in(web, admin.email, through_proxy=True)
            with opener.open(f"{web}/") as response:
                assert admin.full_name in response.read().decode()
            with opener.open(f"{web}/api/v1/me/notifications") as response:
                assert response.headers["Content-Type"] == "application/json"
                assert json.load(response) == []  # the session's cookie signs the API in too

            # the metrics of both web workers, whichever answers the scrape
            scrape = urllib.request.Request(  # noqa: S310 - the test's own server
                f"{web}/metrics",
                headers={"Authorization": f"Bearer {SECRETS['HUB_METRICS_TOKEN']}"},
            )
            with urllib.request.urlopen(scrape) as response:  # noqa: S310
                metrics = response.read().decode()
            assert 'endpoint="home.index"' in metrics
            assert "hub_outbox_messages" in metrics
            assert (tmp_path / "metrics").is_dir()

            wait_until(
                lambda: _deployment_exists(api, DELIVER),
                120,
                "the worker's registration of the deployments",
            )
            deployment = api_json(f"{api}/deployments/name/{DELIVER}")
            assert deployment["work_pool_name"] == pool
            assert deployment["job_variables"]["command"] == ENGINE_COMMAND
            run = run_to_the_end(api, deployment["id"])
            logs = flow_run_logs(api, run["id"])
            assert run["state_type"] == "COMPLETED", (run["state"]["message"], logs)
            assert run["work_pool_name"] == pool
            # one process: the engine itself, not a workspace supervisor copying code storage
            assert not any("Downloading flow code" in line for line in logs), logs

            # what a worker killed while submitting a run leaves: Pending for good, holding
            # its deployment's one slot; the automation crashes it
            orphan = api_json(f"{api}/deployments/{deployment['id']}/create_flow_run", {})["id"]
            answer = api_json(
                f"{api}/flow_runs/{orphan}/set_state",
                {"state": {"type": "PENDING"}, "force": True},
            )
            assert answer["status"] == "ACCEPT", answer
            wait_until(
                lambda: api_json(f"{api}/flow_runs/{orphan}")["state_type"] == "CRASHED",
                180,
                "the automation crashing the run left Pending",
            )
        except BaseException as failure:
            failure.add_note(f"make serve's output, its end:\n{log.read_text()[-6000:]}")
            raise
        finally:
            group = serve.pid  # the leader of its own session
            # The Prefect server stops first, the worst order for the worker (its last event
            # finds no server), and honcho stops the others; then every process of the service
            # is sent SIGTERM, as systemd stops one.
            server = re.search(r"prefect\.1 started \(pid=(\d+)\)", log.read_text())
            # (a process that ended already is left: the failure above says why)
            if server:  # honcho started it in a session of its own
                with suppress(ProcessLookupError):
                    os.killpg(int(server[1]), signal.SIGTERM)
                    wait_until(lambda: "prefect.1 stopped" in log.read_text(), 60, "its end")
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            serve.wait(timeout=60)
            # within the bound, or the wait fails: no process of the service left behind
            wait_until(lambda: not group_alive(group), 60, "every process of the service ending")
        subjects = [message["Subject"] for message in sink.received]
    output = log.read_text()
    assert "Through a worker" in subjects, output[-4000:]
    db.session.expire_all()
    sent = db.select(OutboxMessage.status).where(
        OutboxMessage.key == message_key("test:{}:serve", 1).text
    )
    assert db.session.scalar(sent) == OutboxStatus.SENT
    record = db.session.scalar(
        db.select(FlowRunRecord).where(FlowRunRecord.prefect_flow_run_id == run["id"])
    )
    assert record is not None
    assert record.finished_at is not None
    stopped = dict(re.findall(r"(\w+)\.1 stopped \(rc=(-?\d+)\)", output))
    assert set(stopped) == {"web", "prefect", "worker"}, output[-4000:]
    assert stopped["web"] == "0", output[-4000:]
    assert stopped["worker"] == "0", output[-4000:]
    assert "SIGKILL" not in output
    assert "Traceback" not in output, output[-6000:]


def run_to_the_end(api: str, deployment_id: str) -> dict[str, Any]:
    """A run of the deployment started now, once it ended; started again when it was
    cancelled because its scheduled run (every minute) was running at the same time."""
    for _ in range(3):
        started = api_json(f"{api}/deployments/{deployment_id}/create_flow_run", {})
        run = ended(f"{api}/flow_runs/{started['id']}")
        if run["state_type"] != "CANCELLED":
            break
        time.sleep(5)
    return run


def ended(url: str) -> dict[str, Any]:
    def final() -> bool:
        return bool(api_json(url)["state_type"] in FINAL)

    wait_until(final, 180, "the flow run through the worker")
    return dict(api_json(url))


def flow_run_logs(api: str, run_id: str) -> list[str]:
    found = api_json(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}})
    return [str(line["message"])[:500] for line in found]


def _deployment_exists(api: str, name: str) -> bool:
    try:
        api_json(f"{api}/deployments/name/{name}")
    except urllib.error.HTTPError:
        return False
    return True
