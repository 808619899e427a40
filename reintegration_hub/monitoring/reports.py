"""The donor report of a grant over a period: returns by country of return, reintegration
beneficiaries, the vulnerable share, spending by co-financing source, targets against actual.

The cases are those of the grant that returned (departed) in the period, selected by the
dashboard's own filters (``DashboardFilters``), so the report and the dashboard count alike;
spending and targets are the dashboard's grant progress under the same filters. One more
statement counts the cases per country of return. The XLSX is built here from the same
figures as the printable page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from reintegration_hub.cases.models import Returnee, VulnerabilityEntry
from reintegration_hub.core import i18n, validation
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.services import (
    DashboardFilters,
    GrantProgress,
    dashboard,
    require_monitoring,
)
from reintegration_hub.plans.models import Plan, PlanStatus
from reintegration_hub.programmes.models import Grant


@dataclass
class CountryRow:
    country_code: str
    returns: int
    reintegration: int  # cases with an approved reintegration plan
    vulnerable: int

    @property
    def vulnerable_share(self) -> float | None:
        return self.vulnerable / self.returns if self.returns else None


@dataclass
class DonorReport:
    grant: Grant
    period_from: dt.date
    period_to: dt.date
    generated_at: dt.datetime
    countries: list[CountryRow]
    progress: GrantProgress | None
    totals: CountryRow = field(init=False)

    def __post_init__(self) -> None:
        self.totals = CountryRow(
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


def _period_day(args: Mapping[str, Any], name: str) -> dt.date | None:
    raw = str(args.get(name) or "")
    try:
        return validation.to_date(raw, validation.PERIOD_DATE) if raw.strip() else None
    except validation.Refused as refused:
        raise InvalidInput(refused.message, field_errors={name: [refused.message]}) from None


def report_period(args: Mapping[str, Any]) -> tuple[int, dt.date, dt.date]:
    """The grant id and the period from query parameters ``grant``, ``from`` and ``to``;
    ``InvalidInput`` when the grant is missing or the dates do not parse, are out of the
    plausible range (``validation.PERIOD_DATE``) or are reversed. A missing date is the grant's
    own start or end."""
    try:
        grant_id = validation.to_int(str(args.get("grant") or ""), validation.ID)
    except validation.Refused:
        message = _l("Choose a grant.")
        raise InvalidInput(message, field_errors={"grant": [message]}) from None
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Grant not found."))
    period_from = _period_day(args, "from") or grant.start_on
    period_to = _period_day(args, "to") or grant.end_on
    if period_to < period_from:
        raise InvalidInput(
            _l("The period must be two dates, the first not after the second."),
            field_errors={"from": [_l("Give the period as YYYY-MM-DD dates.")]},
        )
    return grant.id, period_from, period_to


def donor_report(
    grant_id: int, period_from: dt.date, period_to: dt.date, *, actor: Actor
) -> DonorReport:
    """The report's figures; home office only (``PermissionDenied``). Audited as a read of
    programme data (who produced which grant's report for which period)."""
    require_monitoring(actor)
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Grant not found."))
    filters = DashboardFilters(grant_id=grant.id, period_from=period_from, period_to=period_to)
    vulnerable = sa.exists().where(VulnerabilityEntry.returnee_id == Returnee.id)
    approved = sa.exists().where(
        Plan.returnee_id == Returnee.id, Plan.status == PlanStatus.APPROVED
    )
    stmt = (
        sa.select(
            Returnee.return_country_code,
            sa.func.count(Returnee.id),
            sa.func.coalesce(sa.func.sum(sa.case((approved, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((vulnerable, 1), else_=0)), 0),
        )
        .where(Returnee.departed_on.is_not(None), *filters.case_conditions())
        .group_by(Returnee.return_country_code)
        .order_by(sa.func.count(Returnee.id).desc(), Returnee.return_country_code)
    )
    countries = [
        CountryRow(code, int(n), int(r), int(v)) for code, n, r, v in db.session.execute(stmt)
    ]
    progress = next(
        (g for g in dashboard(filters, actor=actor).grants if g.grant_id == grant.id), None
    )
    db.session.add(
        AuditEntry(
            actor_id=actor.id,
            actor_label=actor.audit_label,
            action="report",
            object_type="Grant",
            object_id=str(grant.id),
            office_id=actor.office_id,
            changes={"period": [period_from.isoformat(), period_to.isoformat()]},
        )
    )
    db.session.flush()
    return DonorReport(grant, period_from, period_to, now_utc(), countries, progress)


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
    grant, progress = report.grant, report.progress
    summary = workbook.active
    summary.title = str(_l("Summary"))[:31]
    summary["A1"] = str(_l("Donor report: %(number)s", number=grant.number))
    summary["A1"].font = TITLE
    facts = [
        (_l("Grant"), f"{grant.number} - {grant.title}"),
        (_l("Period"), f"{report.period_from.isoformat()} - {report.period_to.isoformat()}"),
        (_l("Currency"), grant.currency),
        (_l("Generated"), report.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
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

    countries = workbook.create_sheet(str(_l("Returns by country"))[:31])
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

    spending = workbook.create_sheet(str(_l("Spending"))[:31])
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

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
