"""The dashboard's tables: each figure as rows and columns, with its chart (``charts``), the
case-list link behind every count, and the cell formatting of the page.

Built from a ``dashboard.Dashboard`` in page order (``dashboard_tables``); the page shows
them, and each downloads as CSV/XLSX through ``core.exports`` with the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flask import g, url_for
from flask_babel import format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from partners.labels import CATEGORY_LABELS
from partners.models import SupportCategory
from reintegration_hub.cases.drill import DONE_TIMELINESS
from reintegration_hub.cases.labels import CLOSURE_LABELS
from reintegration_hub.cases.models import CaseStatus, ClosureReason
from reintegration_hub.core import i18n
from reintegration_hub.followups.labels import MILESTONE_STATUS_LABELS, band_label
from reintegration_hub.followups.models import MilestoneStatus
from reintegration_hub.monitoring.charts import Bar, column_chart, hbar_chart
from reintegration_hub.monitoring.dashboard import (
    Dashboard,
    GrantProgress,
    SatisfactionRow,
    SourceSplit,
)
from reintegration_hub.monitoring.filters import DashboardFilters, month_end
from reintegration_hub.monitoring.outcomes import Outcomes, ScoreRow
from reintegration_hub.plans.labels import PLAN_STATUS_LABELS
from reintegration_hub.plans.models import PlanStatus
from reintegration_hub.programmes.models import TargetIndicator
from reintegration_hub.programmes.views import TARGET_LABELS

#: Rows of a score table shown on the page (all of them are in its download).
SHOWN_ROWS = 20

TIMELINESS_LABELS = {
    "on_time": _l("Done on time"),
    "late": _l("Done late"),
    "open": _l("Still open"),
}
PLAN_DAY_LABELS = {
    "before": _l("Approved before return"),
    "0-30": _l("0-30 days"),
    "31-60": _l("31-60 days"),
    "61-90": _l("61-90 days"),
    "90+": _l("More than 90 days"),
}


@dataclass
class Column:
    """A table column: the row key it shows, its heading, how its values are written (the
    export kinds: text, int, float, money (minor units), share (0-1))."""

    key: str
    heading: Any
    kind: str = "text"


@dataclass
class Table:
    """One dashboard table: its chart's numbers, downloadable as CSV/XLSX (``?table=key``).
    ``rows`` are dicts keyed by column; ``links`` per row: column key -> case-list URL."""

    key: str
    title: Any
    columns: list[Column]
    rows: list[dict[str, Any]]
    links: list[dict[str, str]] = field(default_factory=list)
    chart: Markup | None = None
    currency: str = "EUR"
    note: Any = ""
    shown: int | None = None  # rows shown on the page (the rest only in the download)
    total: int | None = None  # rows in all, when ``rows`` holds only the shown ones

    @property
    def visible_rows(self) -> list[dict[str, Any]]:
        return self.rows if self.shown is None else self.rows[: self.shown]

    def body(self) -> Markup:
        """The rows the page shows as ``<tr>`` elements, each count linked to the cases behind
        it. Written here, as the charts are, rather than in the template: the page's thousand
        cells through Jinja were about a tenth of its cost (bench/README, "the dashboard's and
        the marketplace page's render")."""
        rows = self.visible_rows
        if not rows:
            return Markup('<tr><td colspan="{}" class="text-muted">{}</td></tr>').format(
                len(self.columns), _("Nothing to show.")
            )
        columns = [
            (c.key, c.kind, "<td>" if c.kind == "text" else '<td class="text-end">')
            for c in self.columns
        ]
        testids = {key: escape(f"drill-{self.key}-{key}") for key, _kind, _td in columns}
        html = []
        for at, row in enumerate(rows):
            links = self.links[at] if at < len(self.links) else {}
            html.append("<tr>")
            for key, kind, td in columns:
                text = escape(format_cell(row[key], kind, self.currency))
                href = links.get(key)
                if href:
                    html.append(f'{td}<a href="{escape(href)}" data-testid="{testids[key]}">')
                    html.append(f"{text}</a></td>")
                else:
                    html.append(f"{td}{text}</td>")
            html.append("</tr>")
        return Markup("".join(html))  # noqa: S704 - every text and link above is escaped


def _cases(args: dict[str, str]) -> str:
    return url_for("cases.index", **args)  # type: ignore[arg-type]  # str values: query args


def _symbols() -> tuple[str, str]:
    """The locale's group and decimal separators (once per request; one look-up of ``g``
    per call, as it is called for every cell)."""
    cached: tuple[str, str] | None = g.get("monitoring_symbols")
    if cached is None:
        symbols = get_locale().number_symbols.get("latn", {})
        cached = (symbols.get("group", ","), symbols.get("decimal", "."))
        g.monitoring_symbols = cached
    return cached


def _number(value: float, decimals: int) -> str:
    """``value`` with the locale's separators: Babel's ``apply`` for hundreds of cells was a
    measurable share of the page; plain formatting and two separators give the same text for
    the locales we serve (groups of three)."""
    group, decimal = _symbols()
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def _int(value: float) -> str:
    return _number(int(value), 0)


def _score(value: float) -> str:
    return _number(value, 2)


def _share(value: float | None) -> str:
    return "—" if value is None else str(format_percent(value, format="#,##0%"))


def _month_label(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def dashboard_tables(board: Dashboard, *, full: bool = True) -> list[Table]:
    """Every table (and chart) of the dashboard, in page order; with ``full`` False the long
    tables hold only the rows the page shows (downloads need them all)."""
    f = board.filters
    tables = [
        _returns_table(board),
        _plans_table(board),
        _milestones_table(board),
    ]
    for grant in board.grants:
        tables += [_spending_table(f, grant), _targets_table(f, grant)]
    tables += _outcome_tables(board, full=full)
    tables += _satisfaction_tables(board)
    return tables


def _satisfaction_tables(board: Dashboard) -> list[Table]:
    """The returnees' feedback scores by partner, category and country of return."""
    found = board.satisfaction
    kinds = [
        ("satisfaction-partner", _l("Satisfaction by partner"), _l("Partner"), found.by_partner),
        (
            "satisfaction-category",
            _l("Satisfaction by support category"),
            _l("Category"),
            found.by_category,
        ),
        (
            "satisfaction-country",
            _l("Satisfaction by country of return"),
            _l("Country"),
            found.by_country,
        ),
    ]
    tables = []
    for key, title, heading, rows in kinds:
        tables.append(
            Table(
                key,
                title,
                [
                    Column("name", heading),
                    Column("answers", _l("Answers"), "int"),
                    Column("mean", _l("Mean score (1-5)"), "float"),
                    Column("low", _l("Low scores (1-2)"), "int"),
                ],
                [
                    {"name": _named(key, r), "answers": r.answers, "mean": r.mean, "low": r.low}
                    for r in rows
                ],
                note=_l("The returnees' own scores of delivered supports, lowest first."),
            )
        )
    return tables


def _named(table: str, row: SatisfactionRow) -> str:
    if table == "satisfaction-category":
        return str(CATEGORY_LABELS.get(SupportCategory(row.key), row.name))
    if table == "satisfaction-country":
        return i18n.country_name(row.name)
    return row.name


def _returns_table(board: Dashboard) -> Table:
    f = board.filters
    rows, links, bars = [], [], []
    for m in board.months:
        month = replace(
            f,
            period_from=max(m.month, f.period_from or m.month),
            period_to=min(month_end(m.month), f.period_to or month_end(m.month)),
        )
        href = _cases(month.case_args(returned=True))
        rows.append({"month": _month_label(m.month), "returns": m.returns, "arrivals": m.arrivals})
        links.append({"returns": href})
        bars.append(
            Bar(
                _month_label(m.month),
                [m.returns, m.arrivals],
                [_int(m.returns), _int(m.arrivals)],
                href=href,
            )
        )
    return Table(
        "returns",
        _l("Returns and arrivals by month"),
        [
            Column("month", _l("Month of return")),
            Column("returns", _l("Returns"), "int"),
            Column("arrivals", _l("Arrived"), "int"),
        ],
        rows,
        links,
        chart=column_chart(
            _("Returns and arrivals by month"),
            _("Columns per month of departure: returns, and of them those who arrived."),
            bars,
            series=[_("Returns"), _("Arrived")],
            label_every=max(1, len(bars) // 8),
        ),
    )


def _plans_table(board: Dashboard) -> Table:
    f = board.filters
    rows, links, bars = [], [], []
    for b in board.plans_by_status:
        status = PlanStatus(b.key) if b.key != "none" else None
        label = PLAN_STATUS_LABELS[status] if status else _("No plan yet")
        href = _cases(f.case_args(plan_status=status)) if status else ""
        rows.append({"status": str(label), "cases": b.n})
        links.append({"cases": href} if href else {})
        bars.append(Bar(str(label), [b.n], [_int(b.n)], href=href or None))
    return Table(
        "plans",
        _l("Plans by status"),
        [Column("status", _l("Plan status")), Column("cases", _l("Cases"), "int")],
        rows,
        links,
        chart=hbar_chart(
            _("Plans by status"), _("Cases per plan status."), bars, empty=_("No cases.")
        ),
    )


def _milestones_table(board: Dashboard) -> Table:
    f = board.filters
    rows, links, bars = [], [], []
    for o in board.milestones:
        due = _cases(f.case_args(milestone=MilestoneStatus.DUE, milestone_office_id=o.office_id))
        overdue = _cases(
            f.case_args(milestone=MilestoneStatus.OVERDUE, milestone_office_id=o.office_id)
        )
        rows.append({"office": o.office, "due": o.due, "overdue": o.overdue})
        links.append({"due": due, "overdue": overdue})
        bars.append(
            Bar(o.office, [o.overdue, o.due], [_int(o.overdue), _int(o.due)], hrefs=[overdue, due])
        )
    return Table(
        "milestones",
        _l("Open milestones by responsible office"),
        [
            Column("office", _l("Office")),
            Column("due", MILESTONE_STATUS_LABELS[MilestoneStatus.DUE], "int"),
            Column("overdue", MILESTONE_STATUS_LABELS[MilestoneStatus.OVERDUE], "int"),
        ],
        rows,
        links,
        chart=hbar_chart(
            _("Open milestones by responsible office"),
            _("Overdue and due milestones per office."),
            bars,
            series=[
                str(MILESTONE_STATUS_LABELS[MilestoneStatus.OVERDUE]),
                str(MILESTONE_STATUS_LABELS[MilestoneStatus.DUE]),
            ],
            empty=_("No milestone is due or overdue."),
        ),
    )


def _spending_table(f: DashboardFilters, grant: GrantProgress) -> Table:
    scoped = replace(f, grant_id=grant.grant_id)
    committed = _cases(scoped.case_args(plan_status=PlanStatus.APPROVED))
    rows, links, bars = [], [], []
    lines: list[tuple[Any, float, SourceSplit | GrantProgress]] = [
        (s.name, s.share_bp / 10_000, s) for s in grant.sources
    ]
    lines.append((_("Total"), 1.0, grant))
    for name, share, money_of in lines:
        spent, delivered, remaining = (
            money_of.committed_minor,
            money_of.delivered_minor,
            money_of.remaining_minor,
        )
        rows.append(
            {
                "source": str(name),
                "share": share,
                "budget": money_of.budget_minor,
                "committed": spent,
                "delivered": delivered,
                "remaining": remaining,
            }
        )
        links.append({"committed": committed, "delivered": committed})
        money = [delivered, spent - delivered, remaining]
        bars.append(
            Bar(
                str(name),
                [max(v, 0) for v in money],
                [i18n.format_money(v, grant.currency) for v in money],
                href=committed,
            )
        )
    return Table(
        f"spending-{grant.grant_id}",
        _l("Spending against grant %(number)s", number=grant.number),
        [
            Column("source", _l("Co-financing source")),
            Column("share", _l("Share"), "share"),
            Column("budget", _l("Budget"), "money"),
            Column("committed", _l("Committed (approved plans)"), "money"),
            Column("delivered", _l("Delivered"), "money"),
            Column("remaining", _l("Remaining"), "money"),
        ],
        rows,
        links,
        currency=grant.currency,
        chart=hbar_chart(
            _("Spending against grant %(number)s", number=grant.number),
            _("Per co-financing source: delivered, committed not yet delivered, remaining."),
            bars,
            series=[_("Delivered"), _("Committed, not delivered"), _("Remaining")],
            stacked=True,
        ),
    )


def _targets_table(f: DashboardFilters, grant: GrantProgress) -> Table:
    scoped = replace(f, grant_id=grant.grant_id)
    rows, links, bars = [], [], []
    for t in grant.targets:
        href = {
            TargetIndicator.RETURNS: _cases(scoped.case_args(returned=True)),
            TargetIndicator.REINTEGRATION: _cases(
                scoped.case_args(returned=True, plan_status=PlanStatus.APPROVED)
            ),
        }.get(t.indicator, url_for("monitoring.activities", grant=grant.grant_id))
        label = str(TARGET_LABELS[t.indicator])
        rows.append(
            {
                "target": label,
                "target_value": t.target,
                "actual": t.actual,
                "progress": t.actual / t.target if t.target else None,
            }
        )
        links.append({"actual": href})
        bars.append(
            Bar(
                label,
                [min(t.percent, 150.0)],
                [f"{_int(t.actual)} / {_int(t.target)} ({_share(t.percent / 100)})"],
                href=href,
            )
        )
    return Table(
        f"targets-{grant.grant_id}",
        _l("Progress to the targets of grant %(number)s", number=grant.number),
        [
            Column("target", _l("Target")),
            Column("target_value", _l("Target value"), "int"),
            Column("actual", _l("Achieved"), "int"),
            Column("progress", _l("Progress"), "share"),
        ],
        rows,
        links,
        chart=hbar_chart(
            _("Progress to the targets of grant %(number)s", number=grant.number),
            _("Achieved as a share of each target (the target is 100 per cent)."),
            bars,
            maximum=150.0,
        ),
    )


SCORE_COLUMNS = [
    Column("n", _l("Surveyed cases"), "int"),
    Column("economic", _l("Economic"), "float"),
    Column("social", _l("Social"), "float"),
    Column("psychosocial", _l("Psychosocial"), "float"),
    Column("composite", _l("Composite"), "float"),
]


def _score_table(
    key: str,
    title: Any,
    first: Column,
    rows: Sequence[ScoreRow],
    href: Callable[[ScoreRow], str],
    *,
    note: Any = "",
    full: bool = True,
) -> Table:
    bands = sorted({band for row in rows for band in row.bands})
    made: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
    bars: list[Bar] = []
    for row in rows if full else rows[:SHOWN_ROWS]:
        values = {
            first.key: row.label,
            "n": row.n,
            "economic": row.economic,
            "social": row.social,
            "psychosocial": row.psychosocial,
            "composite": row.composite,
        }
        values.update({f"band_{band}": row.bands.get(band, 0) for band in bands})
        made.append(values)
        if len(bars) < SHOWN_ROWS:  # links and bars for the rows shown; downloads have all
            link = href(row)
            links.append({"n": link})
            bars.append(
                Bar(
                    row.label,
                    [row.composite],
                    [f"{_score(row.composite)} (n={_int(row.n)})"],
                    href=link,
                )
            )
    band_columns = [Column(f"band_{b}", _l("Band: %(band)s", band=b), "int") for b in bands]
    return Table(
        key,
        title,
        [first, *SCORE_COLUMNS, *band_columns],
        made,
        links,
        note=note,
        shown=SHOWN_ROWS,
        total=len(rows),
        chart=hbar_chart(
            str(title),
            _("Mean composite sustainability score (0 to 1) and the number of surveyed cases."),
            bars,
            maximum=1.0,
            empty=_("No survey in the snapshot."),
        ),
    )


def _outcome_tables(board: Dashboard, *, full: bool = True) -> list[Table]:
    """The outcome tables, from the snapshot (none before the first): scores by partner,
    category, country and grant, their distribution (not under a partner or category filter:
    its cells have no such dimension), bands, time to plan, milestones on time, closures."""
    f, o = board.filters, board.outcomes
    if o.taken_at is None:
        return []
    tables = _score_tables(f, o, full=full)
    if not o.service_filtered:
        tables.append(_histogram_table(f, o))
    tables += [
        _bands_table(f, o),
        _plan_days_table(f, o),
        _on_time_table(f, o),
        _closures_table(f, o),
    ]
    return tables


def _score_tables(f: DashboardFilters, o: Outcomes, *, full: bool) -> list[Table]:
    return [
        _score_table(
            "scores-partner",
            _l("Sustainability scores by partner"),
            Column("partner", _l("Partner")),
            o.by_partner,
            lambda r: _cases(replace(f, partner_id=int(r.key)).case_args(surveyed=True)),
            note=_l("A case counts for each partner whose support its approved plan has."),
            full=full,
        ),
        _score_table(
            "scores-category",
            _l("Sustainability scores by support category"),
            Column("category", _l("Support category")),
            [
                replace(r, label=str(CATEGORY_LABELS.get(SupportCategory(r.key), r.key)))
                for r in o.by_category
            ],
            lambda r: _cases(replace(f, category=SupportCategory(r.key)).case_args(surveyed=True)),
        ),
        _score_table(
            "scores-country",
            _l("Sustainability scores by country of return"),
            Column("country", _l("Country of return")),
            [replace(r, label=i18n.country_name(r.key)) for r in o.by_country],
            lambda r: _cases(replace(f, return_country_code=r.key).case_args(surveyed=True)),
        ),
        _score_table(
            "scores-grant",
            _l("Sustainability scores by grant"),
            Column("grant", _l("Grant")),
            [replace(r, label=r.label or _("No grant")) for r in o.by_grant],
            lambda r: _cases(
                replace(f, grant_id=int(r.key) if r.key != "None" else None).case_args(
                    surveyed=True
                )
            ),
        ),
    ]


def _histogram_table(f: DashboardFilters, o: Outcomes) -> Table:
    buckets = [
        (
            f"{int(b.key) / 10:.1f}-{(int(b.key) + 1) / 10:.1f}",
            b.n,
            _cases(f.case_args(score_bucket=int(b.key))),
        )
        for b in o.histogram
    ]
    return Table(
        "score-distribution",
        _l("Distribution of composite scores"),
        [
            Column("range", _l("Composite score")),
            Column("cases", _l("Surveyed cases"), "int"),
        ],
        [{"range": label, "cases": n} for label, n, _href in buckets],
        [{"cases": href} for _label, _n, href in buckets],
        chart=column_chart(
            _("Distribution of composite scores"),
            _("Surveyed cases per tenth of the composite score, from 0 to 1."),
            [Bar(label, [n], [_int(n)], href=href) for label, n, href in buckets],
        ),
    )


def _bands_table(f: DashboardFilters, o: Outcomes) -> Table:
    return Table(
        "score-bands",
        _l("Surveyed cases by band"),
        [Column("band", _l("Band")), Column("cases", _l("Surveyed cases"), "int")],
        [{"band": band_label(b.key), "cases": b.n} for b in o.bands],
        [{"cases": _cases(f.case_args(band=b.key))} for b in o.bands],
        chart=hbar_chart(
            _("Surveyed cases by band"),
            _("Cases per band of their latest survey."),
            [
                Bar(band_label(b.key), [b.n], [_int(b.n)], href=_cases(f.case_args(band=b.key)))
                for b in o.bands
            ],
        ),
    )


def _plan_days_table(f: DashboardFilters, o: Outcomes) -> Table:
    in_range = {b.key: _cases(f.case_args(plan_days=b.key)) for b in o.plan_days}
    return Table(
        "plan-days",
        _l("Time from return to plan approval"),
        [Column("range", _l("Days")), Column("plans", _l("Approved plans"), "int")],
        [{"range": str(PLAN_DAY_LABELS[b.key]), "plans": b.n} for b in o.plan_days],
        [{"plans": in_range[b.key]} for b in o.plan_days],
        note=_l("Mean: %(days)s days.", days=_score(o.plan_days_mean))
        if o.plan_days_mean is not None
        else "",
        chart=column_chart(
            _("Time from return to plan approval"),
            _("Approved plans per number of days from return to approval."),
            [
                Bar(str(PLAN_DAY_LABELS[b.key]), [b.n], [_int(b.n)], href=in_range[b.key])
                for b in o.plan_days
            ],
        ),
    )


def _on_time_table(f: DashboardFilters, o: Outcomes) -> Table:
    rows, links, bars = [], [], []
    for office in [*o.on_time, replace(o.on_time_total, office=_("All offices"))]:
        of_office = office.office_id or None  # None: all offices
        overdue = _cases(
            f.case_args(milestone=MilestoneStatus.OVERDUE, milestone_office_id=of_office)
        )
        rows.append(
            {
                "office": office.office,
                "due": office.due,
                "on_time": office.on_time,
                "late": office.late,
                "open": office.open,
                "rate": office.rate,
            }
        )
        done = {
            key: _cases(f.case_args(timeliness=key, milestone_office_id=of_office))
            for key in DONE_TIMELINESS
        }
        links.append({**done, "open": overdue})
        bars.append(
            Bar(office.office, [100 * (office.rate or 0)], [_share(office.rate)], href=overdue)
        )
    return Table(
        "on-time",
        _l("Milestones done on time, by responsible office"),
        [
            Column("office", _l("Office")),
            Column("due", _l("Came due"), "int"),
            Column("on_time", TIMELINESS_LABELS["on_time"], "int"),
            Column("late", TIMELINESS_LABELS["late"], "int"),
            Column("open", TIMELINESS_LABELS["open"], "int"),
            Column("rate", _l("On-time rate"), "share"),
        ],
        rows,
        links,
        chart=hbar_chart(
            _("Milestones done on time, by responsible office"),
            _("Share of the milestones that came due which were done by their due date."),
            bars,
            maximum=100.0,
        ),
    )


def _closures_table(f: DashboardFilters, o: Outcomes) -> Table:
    closed_rows: list[dict[str, Any]] = []
    closed_links: list[dict[str, str]] = []
    closed_bars: list[Bar] = []
    for b in o.closures:
        reason = ClosureReason(b.key) if b.key in set(ClosureReason) else None
        label = str(CLOSURE_LABELS[reason]) if reason else _("No reason given")
        href = _cases(f.case_args(status=CaseStatus.CLOSED, closure_reason=reason))
        closed_rows.append({"reason": label, "cases": b.n})
        closed_links.append({"cases": href})
        closed_bars.append(Bar(label, [b.n], [_int(b.n)], href=href))
    return Table(
        "closures",
        _l("Closure reasons"),
        [Column("reason", _l("Closure reason")), Column("cases", _l("Closed cases"), "int")],
        closed_rows,
        closed_links,
        chart=hbar_chart(
            _("Closure reasons"),
            _("Closed cases per closure reason."),
            closed_bars,
            empty=_("No closed case."),
        ),
    )


def format_cell(value: Any, kind: str, currency: str = "EUR") -> str:
    if value is None:
        return "—"
    if kind == "int":
        return _int(value)
    if kind == "float":
        return _score(value)
    if kind == "money":
        return i18n.format_money(int(value), currency)
    if kind == "share":
        return _share(value)
    return str(value)
