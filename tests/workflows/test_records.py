"""Every flow of the engine leaves one row in ``flow_runs``: started, then succeeded with its
counts or failed with the error's type (never its message)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.extensions import db
from reintegration_hub.operations.models import FlowRunRecord, FlowRunState
from workflows import deployments
from workflows.records import counts_of, recorded_flow


@dataclass(frozen=True)
class Counts:
    sent: int = 0
    failed: int = 0


@recorded_flow(name="test-succeeds")
def succeeds(sent: int) -> Counts:
    return Counts(sent=sent)


@recorded_flow(name="test-fails")
def fails(email: str) -> None:
    raise sa.exc.IntegrityError("INSERT ...", {"email": email}, ValueError(email))


def records() -> list[FlowRunRecord]:
    db.session.commit()  # a new snapshot (SQLite)
    return list(db.session.scalars(sa.select(FlowRunRecord).order_by(FlowRunRecord.id)))


def test_a_run_records_its_start_end_and_counts(app: Flask, worker_app: Flask) -> None:
    assert succeeds.fn(3) == Counts(sent=3)
    (record,) = records()
    assert (record.flow_name, record.state, record.counts) == (
        "test-succeeds",
        FlowRunState.SUCCEEDED,
        {"sent": 3, "failed": 0},
    )
    assert record.prefect_flow_run_id is None  # called without Prefect
    assert record.finished_at is not None
    assert record.finished_at >= record.started_at
    assert record.error == ""


def test_a_failed_run_records_the_error_type_only(app: Flask, worker_app: Flask) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        fails.fn("nino.beridze@example.org")
    (record,) = records()
    assert record.state == FlowRunState.FAILED
    assert record.error == "IntegrityError (builtins.ValueError)"
    assert "nino" not in record.error
    assert record.counts == {}


def test_counts_come_from_what_the_flow_returned() -> None:
    assert counts_of(Counts(sent=1)) == {"sent": 1, "failed": 0}
    assert counts_of(4) == {"count": 4}
    assert counts_of({"a": 1}) == {"a": 1}
    assert counts_of(None) == {}


def test_every_deployed_flow_is_recorded() -> None:
    for deployment in deployments.deployments():
        assert deployment.entrypoint is not None
        module, _, attribute = deployment.entrypoint.rpartition(".")
        flow = getattr(importlib.import_module(module), attribute)
        assert getattr(flow.fn, "__recorded_as__", None) == flow.name, deployment.name
