"""The donor report of a grant over a period: returns by country of return, reintegration
beneficiaries, the vulnerable share, spending by co-financing source, targets against actual.

Every figure is the dashboard's (``figures`` defines them): the cases are those of the grant
whose return date lies in the period, selected by the dashboard's own filters
(``DashboardFilters``) and counted by the dashboard's own ``count_cases``, from the same
snapshot cells or live SQL the dashboard would use for that grant and period, in one
statement grouped by country of return and vulnerability (and one over the plan lines when
counted live); spending and targets are the dashboard's grant progress from those counts.
The XLSX is built here from the same figures as the printable page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reintegration_hub.core import i18n, validation
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.dashboard import GrantProgress, count_cases, grant_progress
from reintegration_hub.monitoring.figures import ReturnsRow
from reintegration_hub.monitoring.filters import DashboardFilters, require_monitoring
from reintegration_hub.monitoring.snapshot import latest_snapshot
from reintegration_hub.programmes.models import Grant

#: The case dimensions the report's counts are grouped by.
REPORT_KEYS = ("grant_id", "return_country_code", "vulnerable")


@dataclass
class DonorReport:
    grant: Grant
    period_from: dt.date | None  # None: no bound on that side
    period_to: dt.date | None
    generated_at: dt.datetime
    countries: list[ReturnsRow]
    progress: GrantProgress | None
    #: the day returns count up to; the snapshot's time when read from its cells, else None
    as_of: dt.date
    counted_at: dt.datetime | None = None
    totals: ReturnsRow = field(init=False)

    def __post_init__(self) -> None:
        self.totals = ReturnsRow(
            "",
            sum(c.returns for c in self.countries),
            sum(c.reintegration for c in self.countries),
            sum(c.vulnerable for c in self.countries),
        )

    @property
    def filters(self) -> DashboardFilters:
        return DashboardFilters(
            grant_id=self.grant.id, period_from=self.period_from, period_to=self.period_to
        )

    def period_text(self, day: Callable[[dt.date], str] = dt.date.isoformat) -> str:
        """The period in words, its days written by ``day``."""
        start, end = self.period_from, self.period_to
        if start is not None and end is not None:
            return str(_l("Returns from %(start)s to %(end)s", start=day(start), end=day(end)))
        if start is not None:
            return str(_l("Returns from %(start)s", start=day(start)))
        if end is not None:
            return str(_l("Returns until %(end)s", end=day(end)))
        return str(_l("Every case of the grant, whatever its return date"))


def _period_day(args: Mapping[str, Any], name: str) -> dt.date | None:
    raw = str(args.get(name) or "")
    try:
        return validation.to_date(raw, validation.PERIOD_DATE) if raw.strip() else None
    except validation.Refused as refused:
        raise InvalidInput(refused.message, field_errors={name: [refused.message]}) from None


def report_period(args: Mapping[str, Any]) -> tuple[int, dt.date | None, dt.date | None]:
    """The grant id and the period from query parameters ``grant``, ``from`` and ``to``;
    ``InvalidInput`` when the grant is missing or a date does not parse, is out of the
    plausible range (``validation.PERIOD_DATE``) or the two are reversed. A missing date leaves
    that side open: without dates the report counts every case of the grant, as the dashboard
    filtered by that grant alone does."""
    try:
        grant_id = validation.to_int(str(args.get("grant") or ""), validation.ID)
    except validation.Refused:
        message = _l("Choose a grant.")
        raise InvalidInput(message, field_errors={"grant": [message]}) from None
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Grant not found."))
    period_from = _period_day(args, "from")
    period_to = _period_day(args, "to")
    if period_from and period_to and period_to < period_from:
        raise InvalidInput(
            _l("The period must be two dates, the first not after the second."),
            field_errors={"from": [_l("Give the period as YYYY-MM-DD dates.")]},
        )
    return grant.id, period_from, period_to


def donor_report(
    grant_id: int,
    period_from: dt.date | None,
    period_to: dt.date | None,
    *,
    actor: Actor,
    as_of: dt.date | None = None,
) -> DonorReport:
    """The report's figures; home office only (``PermissionDenied``). Audited as a read of
    programme data (who produced which grant's report for which period). ``as_of``: the day
    returns count up to when counted live (default today)."""
    require_monitoring(actor)
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Grant not found."))
    filters = DashboardFilters(grant_id=grant.id, period_from=period_from, period_to=period_to)
    counts = count_cases(filters, REPORT_KEYS, snapshot=latest_snapshot(), as_of=as_of)
    progress = next(iter(grant_progress(filters, counts.per_grant)), None)
    db.session.add(
        AuditEntry(
            actor_id=actor.id,
            actor_label=actor.audit_label,
            action="report",
            object_type="Grant",
            object_id=str(grant.id),
            office_id=actor.office_id,
            changes={
                "period": [day.isoformat() if day else None for day in (period_from, period_to)]
            },
        )
    )
    db.session.flush()
    return DonorReport(
        grant,
        period_from,
        period_to,
        now_utc(),
        counts.countries(),
        progress,
        as_of=counts.as_of,
        counted_at=counts.counted_at,
    )


# --- XLSX ------------------------------------------------------------------------------------

MONEY = "#,##0.00"
SHARE = "0.0%"
TITLE = Font(bold=True, size=14)
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


def _header(sheet: Any, row: int, headings: list[Any]) -> None:
    for column, heading in enumerate(headings, start=1):
        cell = sheet.cell(row=row, column=column, value=str(heading))
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _widths(sheet: Any, widths: list[int]) -> None:
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _money(minor: int) -> float:
    return round(minor / 100, 2)


def donor_report_workbook(report: DonorReport, target_labels: Mapping[Any, Any]) -> bytes:
    """The report as an XLSX: a summary sheet (grant, period, targets against actual), returns
    by country, spending by co-financing source; headings bold, numbers formatted."""
    workbook = Workbook()
    _summary_sheet(workbook.active, report, target_labels)
    _countries_sheet(workbook.create_sheet(str(_l("Returns by country"))[:31]), report)
    _spending_sheet(workbook.create_sheet(str(_l("Spending"))[:31]), report)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _summary_sheet(summary: Any, report: DonorReport, target_labels: Mapping[Any, Any]) -> None:
    """Grant, period, currency and when counted; then targets against actual."""
    grant, progress = report.grant, report.progress
    summary.title = str(_l("Summary"))[:31]
    summary["A1"] = str(_l("Donor report: %(number)s", number=grant.number))
    summary["A1"].font = TITLE
    facts = [
        (_l("Grant"), f"{grant.number} - {grant.title}"),
        (_l("Period"), report.period_text()),
        (_l("Currency"), grant.currency),
        (_l("Generated"), report.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
        (_l("Returns counted up to"), report.as_of.isoformat()),
    ]
    if report.counted_at is not None:
        taken = report.counted_at.strftime("%Y-%m-%d %H:%M UTC")
        facts.append((_l("Counted from the snapshot of"), taken))
    for row, (label, value) in enumerate(facts, start=3):
        summary.cell(row=row, column=1, value=str(label)).font = BOLD
        summary.cell(row=row, column=2, value=value)
    start = len(facts) + 4
    summary.cell(row=start, column=1, value=str(_l("Targets against actual"))).font = BOLD
    _header(summary, start + 1, [_l("Indicator"), _l("Target"), _l("Actual"), _l("Progress")])
    for offset, target in enumerate(progress.targets if progress else [], start=start + 2):
        summary.cell(row=offset, column=1, value=str(target_labels.get(target.indicator, "")))
        summary.cell(row=offset, column=2, value=target.target)
        summary.cell(row=offset, column=3, value=target.actual)
        cell = summary.cell(
            row=offset, column=4, value=target.actual / target.target if target.target else None
        )
        cell.number_format = SHARE
    _widths(summary, [34, 44, 12, 12])


def _countries_sheet(countries: Any, report: DonorReport) -> None:
    """Returns, beneficiaries and the vulnerable share by country of return, then the total."""
    _header(
        countries,
        1,
        [
            _l("Country of return"),
            _l("Returns"),
            _l("Reintegration beneficiaries"),
            _l("Vulnerable"),
            _l("Vulnerable share"),
        ],
    )
    rows = [*report.countries, report.totals]
    for row, item in enumerate(rows, start=2):
        name = i18n.country_name(item.country_code) if item.country_code else str(_l("Total"))
        countries.cell(row=row, column=1, value=name)
        countries.cell(row=row, column=2, value=item.returns)
        countries.cell(row=row, column=3, value=item.reintegration)
        countries.cell(row=row, column=4, value=item.vulnerable)
        countries.cell(row=row, column=5, value=item.vulnerable_share).number_format = SHARE
    for column in range(1, 6):
        countries.cell(row=len(rows) + 1, column=column).font = BOLD
    _widths(countries, [26, 12, 16, 12, 14])


def _spending_sheet(spending: Any, report: DonorReport) -> None:
    """Budget, committed, delivered and remaining by co-financing source, then the total."""
    progress = report.progress
    _header(
        spending,
        1,
        [
            _l("Co-financing source"),
            _l("Share"),
            _l("Budget"),
            _l("Committed"),
            _l("Delivered"),
            _l("Remaining"),
        ],
    )
    sources = progress.sources if progress else []
    for row, source in enumerate(sources, start=2):
        spending.cell(row=row, column=1, value=source.name)
        spending.cell(row=row, column=2, value=source.share_bp / 10_000).number_format = SHARE
        for column, minor in enumerate(
            (
                source.budget_minor,
                source.committed_minor,
                source.delivered_minor,
                source.remaining_minor,
            ),
            start=3,
        ):
            spending.cell(row=row, column=column, value=_money(minor)).number_format = MONEY
    if progress is not None:
        total_row = len(sources) + 2
        spending.cell(row=total_row, column=1, value=str(_l("Total"))).font = BOLD
        for column, minor in enumerate(
            (
                progress.budget_minor,
                progress.committed_minor,
                progress.delivered_minor,
                progress.remaining_minor,
            ),
            start=3,
        ):
            cell = spending.cell(row=total_row, column=column, value=_money(minor))
            cell.number_format = MONEY
            cell.font = BOLD
    _widths(spending, [28, 10, 16, 16, 16, 16])
