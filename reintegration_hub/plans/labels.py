"""Labels of plan states, line states, amendment states and revision actions."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from reintegration_hub.plans.models import AmendmentStatus, LineStatus, PlanStatus

PLAN_STATUS_LABELS: dict[Any, Any] = {
    PlanStatus.DRAFT: _l("Draft"),
    PlanStatus.SUBMITTED: _l("Waiting for the origin office"),
    PlanStatus.RETURNED: _l("Returned with comments"),
    PlanStatus.FEASIBLE: _l("Waiting for approval"),
    PlanStatus.APPROVED: _l("Approved"),
}

LINE_STATUS_LABELS: dict[Any, Any] = {
    LineStatus.PROPOSED: _l("Proposed"),
    LineStatus.ACTIVE: _l("In the plan"),
    LineStatus.DECLINED: _l("Declined by the partner"),
    LineStatus.EXPIRED: _l("Referral expired"),
    LineStatus.CANCELLED: _l("Cancelled"),
}

AMENDMENT_STATUS_LABELS: dict[Any, Any] = {
    AmendmentStatus.DRAFT: _l("Draft"),
    AmendmentStatus.SUBMITTED: _l("Waiting for the origin office"),
    AmendmentStatus.RETURNED: _l("Returned with comments"),
    AmendmentStatus.FEASIBLE: _l("Waiting for approval"),
    AmendmentStatus.APPROVED: _l("In effect"),
    AmendmentStatus.WITHDRAWN: _l("Withdrawn"),
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
    "amend_open": _l("Amendment opened"),
    "amend_add_line": _l("Option proposed"),
    "amend_replace_line": _l("Replacement proposed"),
    "amend_change_line": _l("Change proposed"),
    "amend_cancel_line": _l("Cancellation proposed"),
    "amend_keep_line": _l("Proposal undone"),
    "amend_remove_line": _l("Proposed option removed"),
    "amend_submit": _l("Amendment submitted"),
    "amend_return": _l("Amendment returned with comments"),
    "amend_confirm": _l("Amendment confirmed; waits for approval"),
    "amend_confirm_apply": _l("Amendment confirmed and in effect"),
    "amend_approve": _l("Amendment approved and in effect"),
    "amend_withdraw": _l("Amendment withdrawn"),
    "line_declined": _l("Referral declined by the partner"),
    "line_expired": _l("Referral expired unanswered"),
    "place_promoted": _l("Place freed from the waitlist"),
}
