"""Labels of milestone states and of who answers for a milestone."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from reintegration_hub.followups.models import MilestoneStatus, Responsible

MILESTONE_STATUS_LABELS: dict[Any, Any] = {
    MilestoneStatus.UPCOMING: _l("Upcoming"),
    MilestoneStatus.DUE: _l("Due soon"),
    MilestoneStatus.OVERDUE: _l("Overdue"),
    MilestoneStatus.DONE: _l("Done"),
    MilestoneStatus.CANCELLED: _l("Cancelled"),
}

RESPONSIBLE_LABELS: dict[Any, Any] = {
    Responsible.CASE_MANAGER: _l("Origin case manager"),
    Responsible.COUNSELLOR: _l("Counsellor"),
    Responsible.PARTNER: _l("Partner"),
}
