"""The home office's monitoring dashboard and its programme activities: requests only; the
figures come from ``dashboard``, their tables and charts from ``tables``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from partners.labels import CATEGORY_LABELS
from reintegration_hub.core import exports
from reintegration_hub.core.authz import roles
from reintegration_hub.core.forms import choices
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.submit import submit_form
from reintegration_hub.core.web import query_int
from reintegration_hub.monitoring import activities as programme_activities
from reintegration_hub.monitoring import dashboard as dashboard_figures
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.forms import ACTIVITY_LABELS, ActivityForm
from reintegration_hub.monitoring.models import ActivityKind
from reintegration_hub.monitoring.tables import Table, dashboard_tables, format_cell
from reintegration_hub.plans.models import PlanStatus

bp = Blueprint("monitoring", __name__, url_prefix="/monitoring")

HOME_OFFICE = (Role.PROGRAMME_MANAGER, Role.ADMIN)


def _download(table: Table, fmt: str, filters: DashboardFilters) -> Any:
    columns = [exports.ExportColumn(c.key, c.heading, c.kind) for c in table.columns]
    return exports.audited_download(
        f"dashboard:{table.key}",
        fmt,
        filters.query_args(),
        columns,
        lambda: exports.rows_of(columns, table.rows),
        filename=f"dashboard-{table.key}",
        title=str(table.title),
        actor=current_user,
    )


def _partner_options(partners: list[Any], selected: int | None) -> Markup:
    """The partner filter's ``<option>`` elements, written here as the tables' rows are
    (``Table.body``): a mission lists hundreds of partners, 1,000 in the bench."""
    return Markup(  # noqa: S704 - the names are escaped, the ids are numbers
        "".join(
            f'<option value="{p.id}"{" selected" if p.id == selected else ""}>'
            f"{escape(p.name)} ({escape(p.country_code)})</option>"
            for p in partners
        )
    )


@bp.get("/")
@roles(*HOME_OFFICE)
def dashboard() -> Any:
    filters = DashboardFilters.from_args(request.args)
    board = dashboard_figures.dashboard(filters, actor=current_user)
    fmt, wanted = request.args.get("format"), request.args.get("table")
    tables = dashboard_tables(board, full=fmt in exports.FORMATS)
    if fmt in exports.FORMATS and wanted:
        table = next((t for t in tables if t.key == wanted), None)
        if table is not None:
            return _download(table, fmt, filters)
    options = dashboard_figures.filter_choices()
    return render_template(
        "monitoring/dashboard.html",
        board=board,
        filters=filters,
        tables={t.key: t for t in tables},
        grants=dashboard_figures.grants(),
        host_offices=[o for o in options["offices"] if o.kind == OfficeKind.HOST],
        countries=sorted(
            {o.country_code for o in options["offices"] if o.kind == OfficeKind.ORIGIN}
        ),
        partner_options=_partner_options(options["partners"], filters.partner_id),
        categories=CATEGORY_LABELS,
        format_cell=format_cell,
        approved=PlanStatus.APPROVED,
    )


@bp.route("/activities", methods=["GET", "POST"])
@roles(*HOME_OFFICE)
def activities() -> Any:
    grants = dashboard_figures.grants()
    form = ActivityForm()
    form.grant_id.choices = choices((g.id, g.number) for g in grants)
    if request.method == "GET" and (chosen := query_int("grant")) is not None:
        form.grant_id.data = chosen
    return submit_form(
        form,
        lambda: programme_activities.record_activity(
            int(form.grant_id.data),
            ActivityKind(form.kind.data),
            form.occurred_on.data or dt.date.min,
            int(form.people_count.data or 0),
            form.note.data or "",
            actor=current_user,
        ),
        done=_("The activity is recorded."),
        then=url_for("monitoring.activities"),
        page=lambda: (
            render_template(
                "monitoring/activities.html",
                form=form,
                activities=programme_activities.list_activities(actor=current_user),
                grant_numbers={g.id: g.number for g in grants},
                activity_labels=ACTIVITY_LABELS,
            ),
            422 if form.errors else 200,
        ),
    )
