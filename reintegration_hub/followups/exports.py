"""The follow-up work list's CSV and XLSX export: its columns and select, streamed by
``core.exports``: the milestones the reader sees, in the list's order, audited before the
first byte is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Response
from flask_babel import lazy_gettext as _l

from reintegration_hub.auth.models import Office
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.exports import ExportColumn, audited_download, stream_rows
from reintegration_hub.core.roles import Actor
from reintegration_hub.followups.labels import (
    KIND_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
)
from reintegration_hub.followups.models import Milestone
from reintegration_hub.followups.worklist import WORK_LIST_ORDER, WorkListFilters, work_list_where

WORK_LIST_COLUMNS = (
    ExportColumn("case_number", _l("Case number"), width=18),
    ExportColumn("name", _l("Milestone"), width=28),
    ExportColumn("kind", _l("Kind"), labels=KIND_LABELS, width=22),
    ExportColumn("responsible", _l("Responsible"), labels=RESPONSIBLE_LABELS),
    ExportColumn("office", _l("Office"), width=22),
    ExportColumn("due_on", _l("Due"), kind="date", width=12),
    ExportColumn("status", _l("Status"), labels=MILESTONE_STATUS_LABELS),
    ExportColumn("escalation_level", _l("Escalation level"), kind="int"),
)


def work_list_rows(filters: WorkListFilters, *, actor: Actor) -> sa.Select[Any]:
    """The work list's milestones that ``actor`` sees, in its order, as the columns of
    :data:`WORK_LIST_COLUMNS`."""
    stmt = (
        sa.select(
            Returnee.case_number,
            Milestone.name,
            Milestone.kind,
            Milestone.responsible,
            Office.name.label("office"),
            Milestone.due_on,
            Milestone.status,
            Milestone.escalation_level,
        )
        .select_from(Milestone)
        .join(Returnee, Returnee.id == Milestone.returnee_id)
        .join(Office, Office.id == Milestone.office_id)
    )
    return work_list_where(stmt, filters, actor=actor).order_by(*WORK_LIST_ORDER)


def work_list_export(fmt: str, filters: Mapping[str, Any], *, actor: Actor) -> Response:
    """Audit, commit, and stream the work list under ``filters`` in ``fmt``."""
    stmt = work_list_rows(WorkListFilters(**filters), actor=actor)
    return audited_download(
        "work_list",
        fmt,
        filters,
        WORK_LIST_COLUMNS,
        lambda: stream_rows(stmt, WORK_LIST_COLUMNS),
        filename="work-list",
        title=str(_l("Work list")),
        actor=actor,
    )
