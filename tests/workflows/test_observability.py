"""Log lines written inside a flow run name it: its Prefect id, its deployment, and the request that
started it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from prefect import tags, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.flow_engine import run_flow
from prefect.runtime import task_run

from reintegration_hub.core.observability import (
    log_context,
    request_id_from_tags,
    request_id_tags,
)
from workflows.app import unit_of_work
from workflows.records import recorded_flow

log = logging.getLogger("workflows.test_observability")


@task(cache_policy=NO_CACHE)
def log_in_a_task() -> str | None:
    with unit_of_work():
        log.warning("in the task")
    return task_run.id


@recorded_flow(name="test-logs")
def log_a_line(with_task: bool = True) -> dict[str, Any]:
    log.warning("in the flow")
    return {"task_run_id": log_in_a_task() if with_task else None}


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's application (built after this) logs JSON."""
    monkeypatch.setenv("HUB_LOG_FORMAT", "json")


def json_lines(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """The JSON lines logged so far by this test's logger, by message."""
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    return {line["message"]: line for line in lines if line["logger"] == log.name}


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server", "json_logs")
def test_a_flow_runs_log_lines_carry_its_id_and_the_request_that_started_it(
    app: Flask, worker_app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    with log_context(request_id="req-42.a"):
        run_tags = request_id_tags()  # what a request handing work to a deployment passes
    assert run_tags == ["request-id:req-42.a"]
    with tags(*run_tags):
        state = log_a_line(return_state=True)
    assert state.is_completed()
    flow_run_id = str(state.state_details.flow_run_id)
    lines = json_lines(capsys)
    in_flow, in_task = lines["in the flow"], lines["in the task"]
    for line in (in_flow, in_task):
        assert line["flow_run_id"] == flow_run_id
        assert line["flow"] == "test-logs"
        assert line["request_id"] == "req-42.a"
    assert in_task["task_run_id"] == state.result()["task_run_id"]


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server", "json_logs")
def test_a_deployed_runs_log_lines_name_its_deployment(
    app: Flask, worker_app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    # as a worker runs it: a flow run of the deployment, run by the flow engine
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow(log_a_line)
        deployment_id = client.create_deployment(flow_id=flow_id, name="logs-here")
        flow_run = client.create_flow_run_from_deployment(
            deployment_id, parameters={"with_task": False}
        )
    state = run_flow(
        log_a_line, flow_run=flow_run, parameters={"with_task": False}, return_type="state"
    )
    assert isinstance(state, State)
    assert state.is_completed()
    line = json_lines(capsys)["in the flow"]
    assert (line["flow_run_id"], line["deployment"]) == (str(flow_run.id), "logs-here")
    # a run of no deployment names none
    assert log_a_line(with_task=False, return_state=True).is_completed()
    assert "deployment" not in json_lines(capsys)["in the flow"]


@pytest.mark.usefixtures("json_logs")
def test_a_flow_called_as_a_function_logs_its_name_only(
    app: Flask, worker_app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    log_a_line.fn(with_task=False)
    line = json_lines(capsys)["in the flow"]
    assert line["flow"] == "test-logs"
    assert "flow_run_id" not in line
    assert line["request_id"] is None


def test_only_a_well_formed_request_tag_is_believed() -> None:
    assert request_id_from_tags(["nightly", "request-id:abc-1"]) == "abc-1"
    assert request_id_from_tags(["request-id:a\nb"]) is None
    assert request_id_from_tags(["request-id:" + "x" * 129]) is None
    assert request_id_from_tags([]) is None
    assert request_id_tags() == []  # outside a request
