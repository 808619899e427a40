"""The generic CSV and XLSX export engine, streamed in constant memory: column definitions
(``ExportColumn``), the CSV and XLSX writers, the streamed download with its file name and
headers, and the audit row every export writes first.

An export is a SQLAlchemy select and its column definitions. Rows come from the database in
batches (a server-side cursor on PostgreSQL), and are written out as they come: CSV chunk by
chunk; XLSX as a zip written to the response while the rows arrive (see ``xlsx_chunks``).
Labels are translated once per export, not per row. A table already in memory (a dashboard
table: a few dozen rows) goes through the same writers (``rows_of``).

Exports hold case data: each is audited (who, what, which filters, which format) before the
first byte is sent. What each area exports (its select and columns) lives in the area: the
case list in ``cases.exports``, the follow-up work list in ``followups.exports``, the
dashboard's tables in ``monitoring.tables``.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Response, stream_with_context

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Rows fetched from the database per batch.
BATCH_ROWS = 2_000
#: CSV rows per chunk of the response.
CSV_CHUNK_ROWS = 500
#: A text cell starting with one of these would be a formula in a spreadsheet.
FORMULA_START = re.compile(r"^[=+\-@\t\r]")


@dataclass(frozen=True)
class ExportColumn:
    """One column: the result column it reads (by label), its heading, and how its value is
    written (``kind``: text, int, float, date, datetime, money (minor units), share (0-1));
    ``labels`` turns stored values (enum members) into their translated labels."""

    key: str
    heading: Any  # str or lazy string
    kind: str = "text"
    labels: Mapping[Any, Any] | None = None
    width: int = 16


def _text(value: Any) -> Any:
    if value is None:
        return None
    text = value.value if isinstance(value, enum.Enum) else str(value)
    return "'" + text if FORMULA_START.match(text) else text


def _utc_naive(value: Any) -> Any:
    # spreadsheets have no time zones: UTC, without the offset
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    return value


def _money(value: Any) -> Any:
    return None if value is None else round(int(value) / 100, 2)


def _same(value: Any) -> Any:
    return value


def _labelled(table: Mapping[Any, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return None if value is None else table.get(value) or _text(value)

    return convert


def converters(columns: Sequence[ExportColumn]) -> list[Callable[[Any], Any]]:
    """Per column, the function from a stored value to the written one. Labels are translated
    once per export here (a lazy string per row cost more than the rest of the row)."""
    result: list[Callable[[Any], Any]] = []
    for column in columns:
        if column.labels is not None:
            result.append(_labelled({k: _text(str(v)) for k, v in column.labels.items()}))
        elif column.kind == "money":
            result.append(_money)
        elif column.kind == "datetime":
            result.append(_utc_naive)
        elif column.kind == "text":
            result.append(_text)
        else:
            result.append(_same)
    return result


def _csv_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else value


def stream_rows(
    stmt: sa.Select[Any], columns: Sequence[ExportColumn], batch: int = BATCH_ROWS
) -> Iterator[Sequence[Any]]:
    """The rows of ``stmt`` as tuples in ``columns``' order, fetched ``batch`` at a time
    through a server-side cursor on PostgreSQL (Core rows: no ORM loading per row), so memory
    stays the same whatever the number of rows."""
    result = db.session.connection().execute(
        stmt.execution_options(stream_results=True, max_row_buffer=batch)
    )
    try:
        keys = list(result.keys())
        pick = [keys.index(c.key) for c in columns]
        while chunk := result.fetchmany(batch):
            for row in chunk:
                yield [row[i] for i in pick]
    finally:
        result.close()


def rows_of(columns: Sequence[ExportColumn], items: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
    """Rows in memory (a dashboard table) as the writers take them."""
    for item in items:
        yield [item.get(c.key) for c in columns]


def csv_chunks(columns: Sequence[ExportColumn], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, header first, in chunks of ``CSV_CHUNK_ROWS`` rows (a BOM first, so that
    spreadsheet programs read it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([str(c.heading) for c in columns])
    convert = list(enumerate(converters(columns)))
    pending = 0
    for row in rows:
        writer.writerow([_csv_value(f(row[i])) for i, f in convert])
        pending += 1
        if pending == CSV_CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


# --- XLSX, written as it streams ---------------------------------------------------------
# A workbook is a zip of XML parts. The sheet's rows are written into the zip as they come
# from the database, and the zip's bytes go to the client as they are produced (a zip written
# to a stream that cannot seek carries its sizes after each part), so memory holds one batch
# of rows whatever the number of rows, and the download starts at once. openpyxl's write-only
# mode and XlsxWriter's constant-memory mode keep memory flat as well but spend 50 to 200
# microseconds per cell in Python: 20 s to a minute for 100,000 cases here (bench/README.md).

#: Cell styles of styles.xml below, by column kind (0: the default).
STYLE = {"date": 1, "datetime": 2, "money": 3, "share": 4, "float": 6}
HEADER_STYLE = 5
EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - serial dates have no zone (cells: UTC)
_XML_ESCAPES: dict[int | str, str | None] = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# control characters XML 1.0 cannot carry (tab, line feed and carriage return it can)
_XML_ESCAPES.update({c: None for c in range(32) if c not in (9, 10, 13)})
_XML_TEXT = str.maketrans(_XML_ESCAPES)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="166" formatCode="0.0%"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE6F0"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
    "</cellStyles></styleSheet>"
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _xml_text(value: str) -> str:
    return value.translate(_XML_TEXT)


def _cell_xml(value: Any, style: int) -> str:
    """One ``<c>`` element; cells carry no reference, so each follows the one before."""
    if value is None:
        return "<c/>"
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool):
        return f'<c t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c{s}><v>{value!r}</v></c>"
    if isinstance(value, dt.datetime):
        serial = (value.replace(tzinfo=None) - EXCEL_EPOCH).total_seconds() / 86400
        return f"<c{s}><v>{serial!r}</v></c>"
    if isinstance(value, dt.date):
        return f"<c{s}><v>{(value - EXCEL_EPOCH.date()).days}</v></c>"
    text = _xml_text(str(value))
    return f'<c t="inlineStr"{s}><is><t xml:space="preserve">{text}</t></is></c>'


class _Sink(io.RawIOBase):
    """A write-only stream that keeps what was written until :meth:`take` (the zip's bytes
    between two yields of the response)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


@dataclass
class _Sheet:
    title: str
    columns: Sequence[ExportColumn]
    rows: Iterable[Sequence[Any]]
    heading: str | None = None


def xlsx_chunks(sheets: Iterable[_Sheet], *, flush_rows: int = CSV_CHUNK_ROWS) -> Iterator[bytes]:
    """The workbook's bytes as they are produced: each sheet's rows in turn (headings bold
    and frozen, each column in its number format), then the parts that list the sheets."""
    sink = _Sink()
    titles: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        for number, sheet in enumerate(sheets, start=1):
            titles.append(_sheet_title(sheet.title, titles))
            with zf.open(f"xl/worksheets/sheet{number}.xml", "w") as part:
                part.write(_sheet_start(sheet))
                to_cells = _row_writer(sheet.columns)
                lines: list[str] = []
                for row in sheet.rows:
                    lines.append(to_cells(row))
                    if len(lines) == flush_rows:
                        part.write("".join(lines).encode())
                        lines.clear()
                        yield sink.take()
                part.write(("".join(lines) + "</sheetData></worksheet>").encode())
            yield sink.take()
        _write_workbook_parts(zf, titles)
    yield sink.take()


def _sheet_start(sheet: _Sheet) -> bytes:
    """A sheet's XML up to its first row of data: column widths, the frozen pane, the
    optional heading above the table and the column headings."""
    frozen = 2 if sheet.heading else 1
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
        for i, c in enumerate(sheet.columns, start=1)
    )
    heading = f"<row>{_cell_xml(sheet.heading, HEADER_STYLE)}</row>" if sheet.heading else ""
    header = "".join(_cell_xml(str(c.heading), HEADER_STYLE) for c in sheet.columns)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><sheetViews>'
        '<sheetView workbookViewId="0">'
        f'<pane ySplit="{frozen}" topLeftCell="A{frozen + 1}" activePane="bottomLeft"'
        ' state="frozen"/></sheetView></sheetViews>'
        f"<cols>{cols}</cols><sheetData>{heading}<row>{header}</row>"
    ).encode()


def _row_writer(columns: Sequence[ExportColumn]) -> Callable[[Sequence[Any]], str]:
    """The function from a row of stored values to its ``<row>`` element, each cell
    converted and styled by its column (converters made once per sheet)."""
    convert = [
        (i, f, STYLE.get(c.kind, 0))
        for i, (f, c) in enumerate(zip(converters(columns), columns, strict=True))
    ]

    def row_xml(row: Sequence[Any]) -> str:
        cells = "".join([_cell_xml(f(row[i]), style) for i, f, style in convert])
        return f"<row>{cells}</row>"

    return row_xml


def _write_workbook_parts(zf: zipfile.ZipFile, titles: Sequence[str]) -> None:
    """The parts that make the sheets a workbook: the list of sheets and their relations,
    the styles, the package's relations and content types."""
    numbers = range(1, len(titles) + 1)
    sheet_list = "".join(
        f'<sheet name="{_xml_text(title)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, title in zip(numbers, titles, strict=True)
    )
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in numbers
    )
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in numbers
    )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    zf.writestr(
        "xl/workbook.xml",
        f'{head}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheet_list}</sheets>'
        "</workbook>",
    )
    zf.writestr(
        "xl/_rels/workbook.xml.rels",
        f'{head}<Relationships xmlns="{_PKG}">{rels}<Relationship Id="rId{len(titles) + 1}"'
        f' Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
    )
    zf.writestr("xl/styles.xml", _STYLES)
    zf.writestr(
        "_rels/.rels",
        f'{head}<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    )
    zf.writestr(
        "[Content_Types].xml",
        f'{head}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>",
    )


def _sheet_title(title: str, taken: Sequence[str] = ()) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Sheet"
    while name in taken:
        name = name[:28] + f" {len(taken) + 1}"
    return name


def download(fmt: str, filename: str, chunks: Iterator[Any]) -> Response:
    response = Response(stream_with_context(chunks), mimetype=CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def table_download(
    fmt: str,
    filename: str,
    columns: Sequence[ExportColumn],
    rows: Callable[[], Iterable[Sequence[Any]]],
    *,
    title: str,
) -> Response:
    """A streamed download of ``rows()`` (called when the response is sent) in ``fmt``."""
    if fmt == "csv":
        return download(fmt, filename, csv_chunks(columns, rows()))
    return download(fmt, filename, xlsx_chunks([_Sheet(title, columns, rows())]))


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


def audited_download(
    what: str,
    fmt: str,
    filters: Mapping[str, Any],
    columns: Sequence[ExportColumn],
    rows: Callable[[], Iterable[Sequence[Any]]],
    *,
    filename: str,
    title: str,
    actor: Actor,
) -> Response:
    """Audit the export of ``what`` under ``filters`` (``record_export``) and commit, then
    stream ``rows()`` in ``fmt``: the audit row stays even if the download is cut short."""
    record_export(what, fmt, filters, actor=actor)
    db.session.commit()
    return table_download(fmt, export_filename(filename), columns, rows, title=title)


def export_filename(what: str) -> str:
    return f"{what}-{now_utc():%Y%m%d-%H%M}"
