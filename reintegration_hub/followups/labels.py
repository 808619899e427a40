"""Labels of milestone states and of who answers for a milestone."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from reintegration_hub.followups.models import MilestoneKind, MilestoneStatus, Responsible

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

KIND_LABELS: dict[Any, Any] = {
    MilestoneKind.ARRIVAL_CONFIRMED: _l("Arrival confirmed"),
    MilestoneKind.FIRST_CONTACT: _l("First contact"),
    MilestoneKind.PLAN_AGREED: _l("Plan agreed"),
    MilestoneKind.LINE_DELIVERED: _l("Support delivered"),
    MilestoneKind.MONITORING_VISIT: _l("Monitoring visit"),
    MilestoneKind.SUSTAINABILITY_SURVEY: _l("Sustainability survey"),
    MilestoneKind.WINDOW_CLOSES: _l("Window closes"),
}
