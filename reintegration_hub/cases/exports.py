"""The case list's CSV and XLSX export: its columns and select, streamed by ``core.exports``.

The same cases as the list page (its filters, a monitoring figure's drill-down and the
reader's scope), with the pseudonymous case number only, never names; audited before the
first byte is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Response
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from reintegration_hub.auth.models import Office
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.labels import CLOSURE_LABELS, STATUS_LABELS
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.exports import ExportColumn, audited_download, stream_rows
from reintegration_hub.core.roles import Actor
from reintegration_hub.programmes.models import Grant

CASE_COLUMNS = (
    ExportColumn("case_number", _l("Case number"), width=18),
    ExportColumn("status", _l("Status"), labels=STATUS_LABELS),
    ExportColumn("host_office", _l("Host office"), width=22),
    ExportColumn("origin_office", _l("Origin office"), width=22),
    ExportColumn("return_country_code", _l("Country of return"), width=10),
    ExportColumn("grant_number", _l("Grant")),
    ExportColumn("registered_at", _l("Registered"), kind="datetime"),
    ExportColumn("departed_on", _l("Departure date"), kind="date", width=12),
    ExportColumn("arrived_on", _l("Arrival date"), kind="date", width=12),
    ExportColumn(
        "closure_reason",
        _l("Closure reason"),
        labels=CLOSURE_LABELS,
        width=22,
    ),
)


def case_list_rows(
    filters: Mapping[str, Any], *, drill: Any = None, actor: Actor
) -> sa.Select[Any]:
    """The case list's cases (its filters, a monitoring figure's ``drill`` (``cases.drill``)
    and the reader's scope, newest first), as the columns of :data:`CASE_COLUMNS`: case
    numbers, never names."""
    if drill is not None:
        filters = {**filters, "drill": drill}
    listed = cases.case_list_statement(actor=actor, **filters)
    host = aliased(Office)
    origin = aliased(Office)
    stmt = (
        sa.select(
            Returnee.case_number,
            Returnee.status,
            host.name.label("host_office"),
            origin.name.label("origin_office"),
            Returnee.return_country_code,
            Grant.number.label("grant_number"),
            Returnee.created_at.label("registered_at"),
            Returnee.departed_on,
            Returnee.arrived_on,
            Returnee.closure_reason,
        )
        .select_from(Returnee)
        .join(host, host.id == Returnee.host_office_id)
        .outerjoin(origin, origin.id == Returnee.origin_office_id)
        .outerjoin(Grant, Grant.id == Returnee.grant_id)
        .order_by(Returnee.id.desc())
    )
    # the list's own conditions (scope, filters, drill-down), whatever they are
    if listed.whereclause is not None:
        stmt = stmt.where(listed.whereclause)
    return stmt


def case_list_export(
    fmt: str, filters: Mapping[str, Any], *, drill: Any = None, actor: Actor
) -> Response:
    """Audit, commit, and stream the case list under ``filters`` in ``fmt``."""
    stmt = case_list_rows(filters, drill=drill, actor=actor)
    return audited_download(
        "case_list",
        fmt,
        {**filters, **(drill.query_args() if drill else {})},
        CASE_COLUMNS,
        lambda: stream_rows(stmt, CASE_COLUMNS),
        filename="cases",
        title=str(_l("Cases")),
        actor=actor,
    )
