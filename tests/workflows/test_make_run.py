"""``make run`` on ports of its own, and how its processes stop.

``make run PORT=... PREFECT_PORT=... MAIL_PORT=...`` must reach every address of the run: the
banner, the Prefect UI's API, the admin pages' links to Prefect, the SMTP port the app and the
flows send through, the mail sink; and Ctrl-C (honcho's SIGTERM to each process) must stop
every process at once, the flows process with status 0, nothing killed, no traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from prefect.settings import PREFECT_API_URL

from reintegration_hub.core.outbox import message_key
from reintegration_hub.core.roles import Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.operations import services
from tests.factories import user_with_role
from tests.notifications.helpers import queue
from tests.ports import free_port
from tests.workflows.helpers import answers, api_json, signed_in, wait_until
from workflows import deployments

DEPLOYMENTS = sorted(d.name for d in deployments.deployments())
#: honcho kills what still runs 5 s after the first process stopped; a stop must end before
STOP_WITHIN_SECONDS = 5.0
PREFECT_RUN_ID = "0b5c1e9a-7d3f-4e2a-9c61-5d1f0e2b7a33"


def test_make_run_hands_its_ports_to_the_banner_and_every_process(repo_root: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=5055", "PREFECT_PORT=4255", "MAIL_PORT=1055"],
        cwd=repo_root,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Reintegration Hub on http://127.0.0.1:5055/" in dry_run
    assert "Prefect UI on http://127.0.0.1:4255/" in dry_run
    assert "127.0.0.1:1055" in dry_run
    honcho = next(line for line in dry_run.splitlines() if "honcho start" in line)
    start = dry_run[dry_run.index("WEB_HOST=") : dry_run.index(honcho) + len(honcho)]
    for setting in (
        "WEB_PORT=5055",
        "PREFECT_PORT=4255",
        "MAIL_PORT=1055",
        "HUB_PUBLIC_BASE_URL=http://127.0.0.1:5055",
    ):
        assert setting in start
    # the demo's messages queued before the run link to it too, not to the default port
    demo = next(line for line in dry_run.splitlines() if "demo load" in line)
    assert "HUB_PUBLIC_BASE_URL=http://127.0.0.1:5055 " in demo
    assert "4200" not in dry_run
    assert "1025" not in dry_run


# --- the flows process on its own -------------------------------------------------------------


def served_since(api: str, started: dt.datetime) -> bool:
    """Whether a runner has polled every deployment since ``started``: it serves them."""
    found = api_json(f"{api}/deployments/filter", {"deployments": {"name": {"any_": DEPLOYMENTS}}})
    polled = [d["last_polled"] for d in found if not d["paused"]]
    return len(polled) == len(DEPLOYMENTS) and all(
        p and dt.datetime.fromisoformat(p) >= started for p in polled
    )


def flows_process(environment: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """make run's flows process: ``python -m workflows.deployments --wait 60``."""
    return subprocess.Popen(
        [sys.executable, "-m", "workflows.deployments", "--wait", "60"],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def serving(database_url: str, cwd: Path, home: Path) -> Iterator[subprocess.Popen[str]]:
    """``python -m workflows.deployments`` against the session's Prefect server, once it serves
    every deployment."""
    api = str(PREFECT_API_URL.value()).rstrip("/")
    environment = os.environ | {
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(home),
        # a run the schedules start meanwhile works on the (emptied afterwards) test database
        "HUB_ENV": "testing",
        "HUB_SECRET_KEY": "test-secret",
        "HUB_DATABASE_URL": database_url,
        "HUB_SMTP_HOST": "127.0.0.1",
        "HUB_SMTP_PORT": str(free_port()),
    }
    started = dt.datetime.now(dt.UTC)
    process = flows_process(environment, cwd)
    try:
        wait_until(lambda: served_since(api, started), 120, "serving every deployment")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def held_slots(api: str, deployment_id: str) -> int:
    limits = api_json(f"{api}/v2/concurrency_limits/filter", {"limit": 200})
    (limit,) = [one for one in limits if one["name"] == f"deployment:{deployment_id}"]
    return int(limit["active_slots"])


def stop(process: subprocess.Popen[str], signum: signal.Signals) -> tuple[float, str]:
    """Send ``signum``; how long the process took to end, and what it wrote to stderr."""
    signalled = time.monotonic()
    process.send_signal(signum)
    _, errors = process.communicate(timeout=60)
    return time.monotonic() - signalled, errors


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_serving_stops_promptly_with_status_0_on_sigterm_or_ctrl_c(
    signum: signal.Signals, app: Flask, database_url: str, repo_root: Path, tmp_path: Path
) -> None:
    with serving(database_url, repo_root, tmp_path / "prefect") as process:
        took, errors = stop(process, signum)
    assert process.returncode == 0, errors
    assert took < STOP_WITHIN_SECONDS, errors
    assert "never awaited" not in errors
    assert "Traceback" not in errors
    assert "Stopped" in errors


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server")
def test_a_run_left_running_by_an_earlier_stop_is_crashed_and_frees_its_deployment(
    app: Flask, database_url: str, repo_root: Path, tmp_path: Path
) -> None:
    api = str(PREFECT_API_URL.value()).rstrip("/")
    name = "deliver-notifications/deliver-notifications"
    with serving(database_url, repo_root, tmp_path / "prefect") as process:
        stop(process, signal.SIGTERM)
    # what a Ctrl-C on make run leaves when the server stops before the run could report
    deployment = api_json(f"{api}/deployments/name/{name}")
    orphan = api_json(f"{api}/deployments/{deployment['id']}/create_flow_run", {})["id"]
    for state in ("PENDING", "RUNNING"):  # Pending takes the deployment's one slot
        answer = api_json(f"{api}/flow_runs/{orphan}/set_state", {"state": {"type": state}})
        assert answer["status"] == "ACCEPT", answer
    assert held_slots(api, deployment["id"]) == 1

    with serving(database_url, repo_root, tmp_path / "prefect") as process:
        ended = api_json(f"{api}/flow_runs/{orphan}")
        stop(process, signal.SIGTERM)
    assert ended["state_type"] == "CRASHED"
    assert held_slots(api, deployment["id"]) == 0


class _HeldServer(BaseHTTPRequestHandler):
    """A Prefect server that answers its health check and holds every other request, as one
    busy or stopping may: the flows process passes its wait and is held while registering."""

    asked: threading.Event
    released: threading.Event

    def do_GET(self) -> None:
        if self.path != "/api/health":
            self.asked.set()
            self.released.wait(120)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"true")

    do_POST = do_PATCH = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.orchestrated
def test_a_stop_while_registering_the_deployments_ends_it_with_status_0(
    repo_root: Path, tmp_path: Path
) -> None:
    class Held(_HeldServer):
        asked = threading.Event()
        released = threading.Event()

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Held)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    environment = os.environ | {
        "PREFECT_API_URL": f"http://127.0.0.1:{server.server_port}/api",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "HUB_ENV": "testing",
        "HUB_SECRET_KEY": "test-secret",
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
    }
    process = flows_process(environment, repo_root)
    try:
        assert Held.asked.wait(120), "the flows process never asked to register"
        # held until the test ends: without the stop, the request would wait out its timeout
        _, errors = stop(process, signal.SIGTERM)
    finally:
        Held.released.set()
        if process.poll() is None:
            process.kill()
            process.communicate()
        server.shutdown()
        server.server_close()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    assert "Stopped before serving" in errors


# --- make run's processes together (honcho and the Procfile) ----------------------------------


@contextmanager
def honcho(environment: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[str]]:
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start"],
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:  # the test failed before stopping it: stop it now
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.mark.orchestrated
def test_make_run_on_other_ports_links_them_all_and_stops_cleanly(
    app: Flask, database_url: str, repo_root: Path, tmp_path: Path
) -> None:
    admin = user_with_role(Role.ADMIN)
    actor = SystemActor("test")
    record = services.start_flow_run(
        "deliver-notifications", prefect_flow_run_id=PREFECT_RUN_ID, actor=actor
    )
    services.finish_flow_run(record.id, counts={}, actor=actor)
    queue(message_key("test:{}:ports", 1), "someone@example.org", subject="Through MAIL_PORT")
    db.session.commit()
    web_port, prefect_port, mail_port = free_port(), free_port(), free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))
    } | {
        # what make run PORT=... PREFECT_PORT=... MAIL_PORT=... gives honcho
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
        "PREFECT_PORT": str(prefect_port),
        "MAIL_PORT": str(mail_port),
        "HUB_DATABASE_URL": database_url,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PYTHONUNBUFFERED": "1",
    }
    web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{prefect_port}/api"
    log = tmp_path / "honcho.log"
    with honcho(environment, repo_root, log) as run:
        try:
            wait_until(lambda: answers(f"{web}/login"), 120, "the web app")
            wait_until(lambda: answers(f"{api}/health"), 120, "the Prefect server")
            started = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # a new server: any poll counts
            wait_until(lambda: served_since(api, started), 120, "the flows process")

            ui = api_json(f"http://127.0.0.1:{prefect_port}/ui-settings")
            assert ui["api_url"] == api  # the UI calls its API on PREFECT_PORT

            opener = signed_in(web, admin.email)
            with opener.open(f"{web}/admin/flow-runs") as response:
                page = response.read().decode()
            link = f'href="http://127.0.0.1:{prefect_port}/runs/flow-run/{PREFECT_RUN_ID}"'
            assert link in page
            assert ":4200" not in page

            # the flows send through MAIL_PORT, where the mail process prints what it gets
            deployment = api_json(
                f"{api}/deployments/name/deliver-notifications/deliver-notifications"
            )
            api_json(f"{api}/deployments/{deployment['id']}/create_flow_run", {})
            wait_until(
                lambda: "Subject: Through MAIL_PORT" in log.read_text(),
                120,
                "the e-mail printed by the mail process",
            )
        except BaseException as failure:
            failure.add_note(f"make run's output, its end:\n{log.read_text()[-6000:]}")
            raise
        finally:
            signalled = time.monotonic()
            run.send_signal(signal.SIGTERM)  # what Ctrl-C on make run does
            run.wait(timeout=60)
            took = time.monotonic() - signalled
    output = log.read_text()
    stopped = dict(re.findall(r"(\w+)\.1 stopped \(rc=(-?\d+)\)", output))
    assert set(stopped) == {"web", "prefect", "flows", "mail"}, output
    assert stopped["flows"] == "0", output
    # the others end by the signal itself or exit: nothing is left to clean up in them
    assert {stopped[name] for name in ("web", "prefect", "mail")} <= {"0", "-15"}, output
    assert "SIGKILL" not in output  # nothing had to be killed
    assert took < STOP_WITHIN_SECONDS + 1, output
    assert "Traceback" not in output
    assert "never awaited" not in output
