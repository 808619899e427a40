"""``/api/v1/monitoring``: the dashboard's indicators and programme activities, for other
systems; the same figures and filters as the pages."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.monitoring import activities
from reintegration_hub.monitoring import dashboard as dashboard_figures
from reintegration_hub.monitoring import outcomes as outcome_figures
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.schemas import (
    ActivityQuerySchema,
    ActivitySchema,
    DashboardQuerySchema,
    DashboardSchema,
    OutcomesSchema,
)

bp = Blueprint(
    "monitoring_api", __name__, url_prefix="/monitoring", description="Programme monitoring"
)

HOME_OFFICE = (Role.ADMIN, Role.PROGRAMME_MANAGER)


def _filters(query: dict[str, Any]) -> DashboardFilters:
    args = {("from" if k == "from_" else k): v for k, v in query.items()}
    return DashboardFilters.from_args(args)


@bp.get("/dashboard")
@bp.arguments(DashboardQuerySchema, location="query")
@bp.response(200, DashboardSchema)
@roles(*HOME_OFFICE)
def dashboard(query: dict[str, Any]) -> Any:
    """Every indicator of the dashboard under the filters: live figures and the snapshot's."""
    return dashboard_figures.dashboard(_filters(query), actor=current_user)


@bp.get("/outcomes")
@bp.arguments(DashboardQuerySchema, location="query")
@bp.response(200, OutcomesSchema)
@roles(*HOME_OFFICE)
def outcomes(query: dict[str, Any]) -> Any:
    """The heavy indicators from the latest outcome snapshot (``taken_at``), filtered."""
    return outcome_figures.outcomes(_filters(query), actor=current_user)


@bp.get("/activities")
@bp.arguments(ActivityQuerySchema, location="query")
@bp.response(200, ActivitySchema(many=True))
@roles(*HOME_OFFICE)
def list_activities(query: dict[str, Any]) -> Any:
    """Short stays and capacity-building events, newest first (at most 100)."""
    return activities.list_activities(actor=current_user, grant_id=query.get("grant"))


@bp.post("/activities")
@bp.arguments(ActivitySchema)
@bp.response(201, ActivitySchema)
@bp.refuses({404: "No such grant", 422: "Not valid"})
@roles(*HOME_OFFICE)
@commits
def record_activity(data: dict[str, Any]) -> Any:
    """Record a short stay or a capacity-building event toward a grant's targets."""
    return activities.record_activity(
        data["grant_id"],
        data["kind"],
        data["occurred_on"],
        data["people_count"],
        data["note"],
        actor=current_user,
    )
