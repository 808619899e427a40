"""Labels of plan states and revision actions."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from reintegration_hub.plans.models import PlanStatus

PLAN_STATUS_LABELS: dict[Any, Any] = {
    PlanStatus.DRAFT: _l("Draft"),
    PlanStatus.SUBMITTED: _l("Waiting for the origin office"),
    PlanStatus.RETURNED: _l("Returned with comments"),
    PlanStatus.FEASIBLE: _l("Waiting for approval"),
    PlanStatus.APPROVED: _l("Approved"),
}

ACTION_LABELS: dict[str, Any] = {
    "create": _l("Plan started"),
    "add_line": _l("Option added"),
    "change_line": _l("Line changed"),
    "remove_line": _l("Line removed"),
    "submit": _l("Submitted"),
    "return": _l("Returned with comments"),
    "confirm": _l("Feasibility confirmed"),
    "approve": _l("Approved"),
}
