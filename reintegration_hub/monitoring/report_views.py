"""The donor report page (printable) and its XLSX, for the home office."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import format_date
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.core.exports import CONTENT_TYPES
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import reports
from reintegration_hub.monitoring.dashboard import grants
from reintegration_hub.programmes.views import TARGET_LABELS

bp = Blueprint("monitoring_reports", __name__, url_prefix="/monitoring")


@bp.get("/report")
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER)
def report() -> Any:
    if not request.args.get("grant"):
        return render_template("monitoring/report_choose.html", grants=grants(), error=None)
    try:
        grant_id, period_from, period_to = reports.report_period(request.args)
    except InvalidInput as error:
        return render_template(
            "monitoring/report_choose.html", grants=grants(), error=error.message
        ), 400
    found = reports.donor_report(grant_id, period_from, period_to, actor=current_user)
    db.session.commit()
    if request.args.get("format") == "xlsx":
        parts = [found.grant.number, *(str(day) for day in (period_from, period_to) if day)]
        name = f"donor-report-{'-'.join(parts)}.xlsx"
        response = Response(
            reports.donor_report_workbook(found, TARGET_LABELS), mimetype=CONTENT_TYPES["xlsx"]
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render_template(
        "monitoring/report.html",
        report=found,
        period=found.period_text(lambda day: format_date(day, "medium")),
        target_labels=TARGET_LABELS,
    )
