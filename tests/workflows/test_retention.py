"""``anonymise_closed_cases``: the task's work on its own (``.fn``), then the flow orchestrated
for real, a task per batch until none is left, with its artifact."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.cases.models import Returnee
from reintegration_hub.cases.retention import AnonymisationCounts
from reintegration_hub.extensions import db
from reintegration_hub.operations.models import FlowRunRecord, FlowRunState
from tests.cases.closed_cases import DAYS, NOW, closed_case
from tests.workflows.helpers import artifact_rows
from workflows import flows


def test_anonymise_batch_commits_one_batch(app: Flask, worker_app: Flask) -> None:
    first, second = closed_case(DAYS), closed_case(DAYS)
    closed_case(DAYS - 1)

    assert flows.anonymise_batch.fn(NOW, 1).cases == 1
    assert flows.anonymise_batch.fn(NOW, 1).cases == 1
    assert flows.anonymise_batch.fn(NOW, 1) == AnonymisationCounts()
    db.session.commit()  # a new snapshot (SQLite)
    names = db.session.execute(
        sa.select(Returnee.id, Returnee.first_name).order_by(Returnee.id)
    ).all()
    assert [name for _, name in names] == ["", "", "Nino"]
    assert {case_id for case_id, _ in names[:2]} == {first.case.id, second.case.id}


@pytest.mark.orchestrated
@pytest.mark.usefixtures("prefect_server")
def test_anonymise_closed_cases_runs_batches_until_none_is_left(
    app: Flask, worker_app: Flask
) -> None:
    for _ in range(2):
        closed_case(DAYS)

    state = flows.anonymise_closed_cases(as_of=NOW, batch_size=1, return_state=True)

    assert state.is_completed()
    assert state.result().cases == 2
    (row,) = artifact_rows("anonymise-closed-cases", state.state_details.flow_run_id)
    assert (row["cases"], row["batches"], row["deliveries"]) == (2, 3, 2)
    assert flows.anonymise_closed_cases(as_of=NOW) == AnonymisationCounts()
    db.session.commit()
    first, second = db.session.scalars(sa.select(FlowRunRecord).order_by(FlowRunRecord.id))
    assert first.prefect_flow_run_id == str(state.state_details.flow_run_id)
    assert (first.flow_name, first.state) == ("anonymise-closed-cases", FlowRunState.SUCCEEDED)
    assert (first.counts["cases"], second.counts["cases"]) == (2, 0)
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(Returnee.anonymised_at.is_(None))) == 0
    )
