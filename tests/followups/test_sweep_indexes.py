"""Each statement of the sweep that looks for what to change is served by its partial indexes
on PostgreSQL (``Milestone.__table_args__``), with the values the sweep binds: a run reads the
milestones of its range in the states it changes, never the whole table. A filter changed so
that its indexes no longer apply fails here, where the benches would only get slower."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from reintegration_hub.extensions import db
from reintegration_hub.followups.sweep import sweep_range
from tests.followups.helpers import DEPARTURE, approved, day
from tests.plans.helpers import world

#: the sweep's searching statements, known by what they set, and the indexes each one may use
#: (the escalation's test of a completion path reads the milestone's case by its key)
EXPECTED = {
    "SET status=%(status)s, completed_at=": {"ix_milestones_window_closes"},
    "SET status=CASE": {"ix_milestones_becomes_overdue", "ix_milestones_becomes_due"},
    "SET escalation_level=CASE": {"ix_milestones_escalating", "pk_returnees"},
}


def _scans(plan: Any) -> Iterator[tuple[str, str]]:
    """(node type, index name) of every scan in an EXPLAIN (FORMAT JSON) plan."""
    if "Scan" in plan["Node Type"]:
        yield plan["Node Type"], plan.get("Index Name", "")
    for child in plan.get("Plans", []):
        yield from _scans(child)


def test_the_sweeps_statements_are_served_by_their_partial_indexes(app: object) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("the partial indexes are chosen by PostgreSQL's planner")
    w = world()
    w.case.departed_on = DEPARTURE
    plan = approved(w, w.option(lead_time_days=60))
    executed: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if statement.startswith("UPDATE milestones"):
            executed.append((statement, params))

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        sweep_range(day(400), plan.id, plan.id)
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)

    # only the partial indexes and the primary key left: a statement none of them serves
    # can only be planned as a sequential scan
    keep = {"pk_milestones", *set().union(*EXPECTED.values())}
    others = connection.execute(
        sa.text(
            "SELECT i.indexname, c.conname FROM pg_indexes AS i LEFT JOIN pg_constraint AS c"
            " ON c.conname = i.indexname WHERE i.tablename = 'milestones'"
        )
    ).all()
    for index, constraint in others:
        if index not in keep:
            connection.execute(
                sa.text(f'ALTER TABLE milestones DROP CONSTRAINT "{constraint}"')
                if constraint
                else sa.text(f'DROP INDEX "{index}"')
            )
    connection.execute(sa.text("SET LOCAL enable_seqscan = off"))

    planned = {}
    for statement, params in executed:
        for marker in EXPECTED:
            if marker in statement:
                (row,) = connection.exec_driver_sql(
                    f"EXPLAIN (FORMAT JSON) {statement}", params
                ).one()
                plan_json = row if isinstance(row, list) else json.loads(row)
                planned[marker] = list(_scans(plan_json[0]["Plan"]))
    assert set(planned) == set(EXPECTED)
    for marker, scans in planned.items():
        # on a few rows the planner may take one of the indexes for all the conditions
        assert all(node != "Seq Scan" for node, _ in scans), (marker, scans)
        assert {index for _, index in scans if index} <= EXPECTED[marker], (marker, scans)
