"""Flow-run records: written by the flows (``workflows.records``), read by administrators.

No audit row per record: the records are themselves the log of what the engine did, and the
services the flows call audit their own changes. Records hold counts and error types only,
never personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.operations.models import FlowRunRecord, FlowRunState

MAX_PAGE_SIZE = 100


def start_flow_run(
    flow_name: str, *, prefect_flow_run_id: str | None = None, actor: Actor
) -> FlowRunRecord:
    """A record of a run of ``flow_name`` that starts now (state ``running``); records older
    than ``FLOW_RUN_KEEP_DAYS`` go (one indexed DELETE), so the table stays small."""
    keep = dt.timedelta(days=int(current_app.config["FLOW_RUN_KEEP_DAYS"]))
    db.session.execute(
        sa.delete(FlowRunRecord)
        .where(FlowRunRecord.started_at < now_utc() - keep)
        .execution_options(synchronize_session=False)
    )
    record = FlowRunRecord(
        flow_name=flow_name[:80],
        prefect_flow_run_id=prefect_flow_run_id,
        started_at=now_utc(),
        state=FlowRunState.RUNNING,
        counts={},
        error="",
    )
    db.session.add(record)
    db.session.flush()
    return record


def finish_flow_run(
    record_id: int,
    *,
    counts: Mapping[str, Any] | None = None,
    error: str | None = None,
    actor: Actor,
) -> FlowRunRecord:
    """Mark the run finished now: ``succeeded`` with its ``counts``, or ``failed`` when an
    ``error`` (its type, no message) is given."""
    record = db.session.get(FlowRunRecord, record_id)
    if record is None:
        raise NotFound(_l("Not found."))
    record.finished_at = now_utc()
    record.state = FlowRunState.FAILED if error else FlowRunState.SUCCEEDED
    record.counts = dict(counts or {})
    record.error = (error or "")[:300]
    db.session.flush()
    return record


def error_summary(exc: BaseException) -> str:
    """The type of ``exc`` (and of the driver error behind a database error), never its
    message: messages of database errors carry the statement's parameters."""
    name = type(exc).__name__
    orig = getattr(exc, "orig", None)
    if orig is not None:
        name = f"{name} ({type(orig).__module__.split('.')[0]}.{type(orig).__name__})"
    return name


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Only administrators see the flow runs."))


def recent_flow_runs(
    *,
    actor: Actor,
    flow_name: str | None = None,
    state: FlowRunState | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[FlowRunRecord]:
    """Runs newest first, of one flow and/or in one state if given; keyset pages (pass the
    last id seen as ``before_id``). One statement."""
    _require_admin(actor)
    stmt = sa.select(FlowRunRecord)
    if flow_name:
        stmt = stmt.where(FlowRunRecord.flow_name == flow_name)
    if state is not None:
        stmt = stmt.where(FlowRunRecord.state == state)
    if before_id is not None:
        stmt = stmt.where(FlowRunRecord.id < before_id)
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    return list(db.session.scalars(stmt.order_by(FlowRunRecord.id.desc()).limit(limit)))


def flow_names(*, actor: Actor) -> list[str]:
    """The flows that ran at least once, by name (for the page's filter)."""
    _require_admin(actor)
    return list(
        db.session.scalars(
            sa.select(FlowRunRecord.flow_name).distinct().order_by(FlowRunRecord.flow_name)
        )
    )


def last_runs(*, actor: Actor) -> dict[str, FlowRunRecord]:
    """The latest run of each flow, by name."""
    _require_admin(actor)
    latest = (
        sa.select(sa.func.max(FlowRunRecord.id)).group_by(FlowRunRecord.flow_name).scalar_subquery()
    )
    rows = db.session.scalars(sa.select(FlowRunRecord).where(FlowRunRecord.id.in_(latest)))
    return {row.flow_name: row for row in sorted(rows, key=lambda r: r.flow_name)}


def last_successes() -> dict[str, dt.datetime]:
    """When the last successful run of each flow ended, by flow name (the metrics' gauge,
    no actor: names and times only). One grouped statement on the (flow, state) index."""
    rows = db.session.execute(
        sa.select(FlowRunRecord.flow_name, sa.func.max(FlowRunRecord.finished_at))
        .where(FlowRunRecord.state == FlowRunState.SUCCEEDED)
        .group_by(FlowRunRecord.flow_name)
    )
    return {name: finished_at for name, finished_at in rows if finished_at is not None}
