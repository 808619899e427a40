"""Exports of lists and dashboard tables to CSV and XLSX, streamed in constant memory.

An export is a SQLAlchemy select and its column definitions. Rows come from the database in
batches (``yield_per``: a server-side cursor on PostgreSQL), and are written out as they come:
CSV as a streamed response, chunk by chunk; XLSX through openpyxl's write-only workbook, which
keeps each sheet in a temporary file on disk (never the whole sheet in memory), saved to a
temporary file that is then streamed and deleted. A table already in memory (a dashboard
table: a few dozen rows) goes through the same writers.

Exports hold case data: each is audited (who, what, which filters, which format) before the
first byte is sent, and lists of cases carry the pseudonymous case number only, never names.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Response, stream_with_context
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import aliased

from reintegration_hub.auth.models import Office
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.labels import CLOSURE_LABELS, STATUS_LABELS
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import (
    KIND_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
)
from reintegration_hub.followups.models import Milestone, MilestoneStatus
from reintegration_hub.programmes.models import Grant

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Rows fetched from the database per batch.
BATCH_ROWS = 2_000
#: CSV rows per chunk of the response.
CSV_CHUNK_ROWS = 500
#: Bytes per chunk when streaming a saved workbook.
FILE_CHUNK = 64 * 1024
#: A text cell starting with one of these would be a formula in a spreadsheet.
FORMULA_START = re.compile(r"^[=+\-@\t\r]")


@dataclass(frozen=True)
class ExportColumn:
    """One column: the result column it reads (by label), its heading, and how its value is
    written (``kind``: text, int, float, date, datetime, money (minor units), share (0-1))."""

    key: str
    heading: Any  # str or lazy string
    kind: str = "text"
    label: Callable[[Any], Any] | None = None  # e.g. an enum value to its translated label
    width: int = 16


def _cell_value(column: ExportColumn, value: Any) -> Any:
    if value is None:
        return None
    if column.label is not None:
        value = column.label(value)
    if column.kind == "money":
        return round(int(value) / 100, 2)
    if column.kind == "datetime" and isinstance(value, dt.datetime):
        # spreadsheets have no time zones: UTC, without the offset
        return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int | float | dt.date | bool):
        return value
    text = str(value)
    return "'" + text if FORMULA_START.match(text) else text


def _csv_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def stream_rows(stmt: sa.Select[Any], batch: int = BATCH_ROWS) -> Iterator[Mapping[str, Any]]:
    """The rows of ``stmt`` as mappings, fetched ``batch`` at a time (server-side cursor on
    PostgreSQL), so memory stays the same whatever the number of rows."""
    result = db.session.execute(stmt.execution_options(yield_per=batch, stream_results=True))
    try:
        for partition in result.mappings().partitions():
            yield from partition
    finally:
        result.close()


def csv_chunks(columns: Sequence[ExportColumn], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The CSV text, header first, in chunks of ``CSV_CHUNK_ROWS`` rows (a BOM first, so that
    spreadsheet programs read it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([str(c.heading) for c in columns])
    pending = 0
    for row in rows:
        writer.writerow([_csv_value(_cell_value(c, row[c.key])) for c in columns])
        pending += 1
        if pending == CSV_CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


NUMBER_FORMATS = {
    "money": "#,##0.00",
    "share": "0.0%",
    "float": "0.00",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


def write_sheet(
    workbook: Workbook,
    title: str,
    columns: Sequence[ExportColumn],
    rows: Iterable[Mapping[str, Any]],
    *,
    heading: str | None = None,
) -> None:
    """Append a write-only sheet: an optional title line, bold headings, then ``rows``."""
    sheet = workbook.create_sheet(title=_sheet_title(title))
    for index, column in enumerate(columns):
        sheet.column_dimensions[_column_letter(index)].width = column.width
    bold = Font(bold=True)
    if heading:
        cell = WriteOnlyCell(sheet, value=heading)
        cell.font = Font(bold=True, size=13)
        sheet.append([cell])
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.heading))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    formats = [NUMBER_FORMATS.get(c.kind) for c in columns]
    styled = any(formats)
    for row in rows:
        values = [_cell_value(c, row[c.key]) for c in columns]
        if styled:
            line: list[Any] = []
            for value, number_format in zip(values, formats, strict=True):
                if number_format is None or value is None:
                    line.append(value)
                else:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = number_format
                    line.append(cell)
            sheet.append(line)
        else:
            sheet.append(values)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"


def workbook_chunks(fill: Callable[[Workbook], None]) -> Iterator[bytes]:
    """A write-only workbook filled by ``fill``, saved to a temporary file and streamed from
    it; the file is deleted once sent (or when the client goes away)."""
    workbook = Workbook(write_only=True)
    fill(workbook)
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook.save(path)
        with open(path, "rb") as saved:
            while chunk := saved.read(FILE_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def download(fmt: str, filename: str, chunks: Iterator[Any]) -> Response:
    response = Response(stream_with_context(chunks), mimetype=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def table_download(
    fmt: str,
    filename: str,
    columns: Sequence[ExportColumn],
    rows: Callable[[], Iterable[Mapping[str, Any]]],
    *,
    title: str,
) -> Response:
    """A streamed download of ``rows()`` (called when the response is sent) in ``fmt``."""
    if fmt == "csv":
        return download(fmt, filename, csv_chunks(columns, rows()))
    return download(
        fmt,
        filename,
        workbook_chunks(lambda workbook: write_sheet(workbook, title, columns, rows())),
    )


# --- audit -----------------------------------------------------------------------------------


def record_export(what: str, fmt: str, filters: Mapping[str, Any], *, actor: Actor) -> AuditEntry:
    """Audit an export: who exported which list or table, under which filters, in which
    format. Flushes; the caller commits before the download starts."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor_label=actor.audit_label,
        action="export",
        object_type=what,
        object_id=None,
        office_id=actor.office_id,
        changes={
            "format": fmt,
            "filters": {k: _plain(v) for k, v in filters.items() if v not in (None, "")},
            "at": now_utc().isoformat(),
        },
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def export_filename(what: str) -> str:
    return f"{what}-{now_utc():%Y%m%d-%H%M}"


# --- the case list ---------------------------------------------------------------------------

CASE_COLUMNS = (
    ExportColumn("case_number", _l("Case number"), width=18),
    ExportColumn("status", _l("Status"), label=lambda v: str(STATUS_LABELS.get(v, v))),
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
        label=lambda v: str(CLOSURE_LABELS.get(v, v)),
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
    record_export(
        "case_list",
        fmt,
        {**filters, **(drill.query_args() if drill else {})},
        actor=actor,
    )
    db.session.commit()
    stmt = case_list_rows(filters, drill=drill, actor=actor)
    return table_download(
        fmt,
        export_filename("cases"),
        CASE_COLUMNS,
        lambda: stream_rows(stmt),
        title=str(_l("Cases")),
    )


# --- the follow-up work list -----------------------------------------------------------------

WORK_LIST_COLUMNS = (
    ExportColumn("case_number", _l("Case number"), width=18),
    ExportColumn("name", _l("Milestone"), width=28),
    ExportColumn("kind", _l("Kind"), label=lambda v: str(KIND_LABELS.get(v, v)), width=22),
    ExportColumn(
        "responsible", _l("Responsible"), label=lambda v: str(RESPONSIBLE_LABELS.get(v, v))
    ),
    ExportColumn("office", _l("Office"), width=22),
    ExportColumn("due_on", _l("Due"), kind="date", width=12),
    ExportColumn("status", _l("Status"), label=lambda v: str(MILESTONE_STATUS_LABELS.get(v, v))),
    ExportColumn("escalation_level", _l("Escalation level"), kind="int"),
)


def work_list_rows(
    *,
    actor: Actor,
    office_id: int | None = None,
    responsible: Any = None,
    kind: Any = None,
    overdue_only: bool = False,
) -> sa.Select[Any]:
    """The work list's milestones (due and overdue, overdue first, then by due date) that
    ``actor`` sees, as the columns of :data:`WORK_LIST_COLUMNS`."""
    states = [MilestoneStatus.OVERDUE]
    if not overdue_only:
        states.append(MilestoneStatus.DUE)
    stmt = scoped(
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
        .where(Milestone.status.in_(states)),
        Milestone,
        actor,
    )
    if office_id is not None:
        stmt = stmt.where(Milestone.office_id == office_id)
    if responsible is not None:
        stmt = stmt.where(Milestone.responsible == responsible)
    if kind is not None:
        stmt = stmt.where(Milestone.kind == kind)
    overdue_first = sa.case((Milestone.status == MilestoneStatus.OVERDUE, 0), else_=1)
    return stmt.order_by(overdue_first, Milestone.due_on, Milestone.id)


def work_list_export(fmt: str, filters: Mapping[str, Any], *, actor: Actor) -> Response:
    record_export("work_list", fmt, filters, actor=actor)
    db.session.commit()
    stmt = work_list_rows(actor=actor, **filters)
    return table_download(
        fmt,
        export_filename("work-list"),
        WORK_LIST_COLUMNS,
        lambda: stream_rows(stmt),
        title=str(_l("Work list")),
    )
