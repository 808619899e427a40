"""``snapshot_outcomes``: its task through ``.fn()`` (the service in a worker's unit of work),
and one orchestrated run with its table artifact."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import outcomes as monitoring_outcomes
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.models import OutcomeCell, OutcomeSnapshot
from tests.monitoring.dashboard_world import AS_OF, world
from tests.workflows.helpers import artifact_rows
from workflows import outcomes


def test_the_snapshot_task_replaces_the_cells_in_its_own_transaction(
    app: Flask, worker_app: Flask
) -> None:
    w = world()
    db.session.commit()
    counts = outcomes.snapshot_cells.fn(AS_OF)
    assert counts["cells score"] == 2
    assert counts["cells closure"] == 2
    db.session.rollback()  # read what the worker committed
    assert db.session.scalar(sa.select(sa.func.count(OutcomeSnapshot.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(OutcomeCell.id))) == sum(counts.values())
    overall = monitoring_outcomes.outcomes(DashboardFilters(), actor=w.manager).overall
    assert overall is not None
    assert overall.n == 2
    audit = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "monitoring.snapshot")
    ).one()
    assert audit.actor_label == "system:snapshot_outcomes"
    assert outcomes.snapshot_cells.fn(AS_OF) == counts  # a re-run replaces, never adds


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server")
def test_the_flow_runs_every_step_and_leaves_an_artifact(app: Flask, worker_app: Flask) -> None:
    world()
    db.session.commit()
    state = outcomes.snapshot_outcomes(as_of=AS_OF, return_state=True)
    assert state.is_completed()
    counts = state.result()
    assert counts["cells score"] == 2
    rows = artifact_rows("snapshot-outcomes", state.state_details.flow_run_id)
    assert {row["what"]: row["rows"] for row in rows} == counts
