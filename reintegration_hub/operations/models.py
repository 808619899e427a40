"""One row per run of a flow of the follow-up engine, written by the flow itself
(``workflows.records``), so that pages read runs from the application database, never from
Prefect in a request."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, IdMixin, now_utc, str_enum


class FlowRunState(enum.StrEnum):
    RUNNING = "running"  # started, not finished: still running, or its process died
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FlowRunRecord(IdMixin, Base):
    __tablename__ = "flow_runs"
    __table_args__ = (
        # the page's filters, each ending in id (its order, newest first)
        sa.Index("ix_flow_runs_flow_state", "flow_name", "state", "id"),
        sa.Index("ix_flow_runs_state", "state", "id"),
        sa.Index("ix_flow_runs_started_at", "started_at"),  # pruning
    )

    flow_name: Mapped[str] = mapped_column(sa.String(80))
    prefect_flow_run_id: Mapped[str | None] = mapped_column(sa.String(36))  # None: run by hand
    started_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    finished_at: Mapped[dt.datetime | None]
    state: Mapped[FlowRunState] = mapped_column(
        str_enum(FlowRunState), default=FlowRunState.RUNNING
    )
    # what the run changed, e.g. {"sent": 12, "failed": 0}
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the error's type only: messages can carry SQL parameters, hence personal data
    error: Mapped[str] = mapped_column(sa.String(300), default="")

    @property
    def duration(self) -> dt.timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None
