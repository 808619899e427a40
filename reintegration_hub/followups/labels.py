"""Labels of milestone states and of who answers for a milestone."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from reintegration_hub.followups.models import (
    ActionKind,
    MilestoneKind,
    MilestoneStatus,
    NotApplicableReason,
    Responsible,
    VisitMode,
)

MILESTONE_STATUS_LABELS: dict[Any, Any] = {
    MilestoneStatus.UPCOMING: _l("Upcoming"),
    MilestoneStatus.DUE: _l("Due soon"),
    MilestoneStatus.OVERDUE: _l("Overdue"),
    MilestoneStatus.DONE: _l("Done"),
    MilestoneStatus.CANCELLED: _l("Cancelled"),
}

#: The reasons a milestone is marked not applicable, in the order the form offers them.
NOT_APPLICABLE_LABELS: dict[Any, Any] = {
    NotApplicableReason.RETURNEE_UNREACHABLE: _l("The returnee cannot be reached"),
    NotApplicableReason.RETURNEE_DECLINED: _l("The returnee declined it"),
    NotApplicableReason.RETURNEE_MOVED: _l("The returnee moved away or migrated again"),
    NotApplicableReason.SUPPORT_CANCELLED: _l("The support was cancelled or replaced"),
    NotApplicableReason.COVERED_ELSEWHERE: _l("Covered by another contact or visit"),
    NotApplicableReason.NOT_IN_PLAN: _l("Not part of this returnee's plan"),
    NotApplicableReason.SECURITY: _l("Not possible for security reasons"),
    NotApplicableReason.OTHER: _l("Another reason (say which in the note)"),
}

ACTION_LABELS: dict[Any, Any] = {
    ActionKind.DONE: _l("Marked done"),
    ActionKind.NOT_APPLICABLE: _l("Marked not applicable"),
    ActionKind.MOVED: _l("Moved"),
    ActionKind.REOPENED: _l("Reopened"),
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
    MilestoneKind.FEEDBACK_FOLLOWUP: _l("Low feedback score"),
}

VISIT_MODE_LABELS: dict[Any, Any] = {
    VisitMode.IN_PERSON: _l("In person"),
    VisitMode.PHONE: _l("By phone"),
    VisitMode.OFFICE: _l("At the office"),
}

INDICATOR_LABELS: dict[str, Any] = {
    "income_sources": _l("Sources of income"),
    "debt": _l("Debt (4 = none)"),
    "food_security": _l("Food security"),
    "employment": _l("Work or business"),
    "economic_satisfaction": _l("Satisfaction with the economic situation"),
    "housing": _l("Housing"),
    "health_services": _l("Access to health care"),
    "children_schooling": _l("Children's schooling"),
    "documentation": _l("Identity documents"),
    "access_to_justice": _l("Access to justice"),
    "belonging": _l("Sense of belonging"),
    "discrimination": _l("Free of discrimination"),
    "wellbeing": _l("Psychological well-being"),
    "support_network": _l("Support network"),
    "wish_to_stay": _l("Wish to stay"),
}

FLAG_LABELS: dict[str, Any] = {
    "low_economic": _l("Low economic score"),
    "low_social": _l("Low social score"),
    "low_psychosocial": _l("Low psychosocial score"),
    "low_composite": _l("Low overall score"),
    "imbalance": _l("Imbalance between dimensions"),
    "decline": _l("Decline since the last survey"),
}

#: The default milestone template's step names (migration 0005): a milestone that keeps one is
#: named in the reader's language; a name an administrator typed is shown as typed.
DEFAULT_STEP_NAMES: dict[str, Any] = {
    "Arrival confirmed": _l("Arrival confirmed"),
    "First contact with the origin office": _l("First contact with the origin office"),
    "Plan agreed": _l("Plan agreed"),
    "Support delivered": _l("Support delivered"),
    "Monitoring visit (3 months)": _l("Monitoring visit (3 months)"),
    "Monitoring visit (6 months)": _l("Monitoring visit (6 months)"),
    "Monitoring visit (9 months)": _l("Monitoring visit (9 months)"),
    "Sustainability survey": _l("Sustainability survey"),
    "Reintegration window closes": _l("Reintegration window closes"),
}

#: The sustainability score bands of the scoring versions (their names are keys).
BAND_LABELS: dict[str, Any] = {
    "low": _l("Low sustainability"),
    "medium": _l("Medium sustainability"),
    "high": _l("High sustainability"),
}


#: How a low feedback score's task is named (``feedback.services``): this, then the support.
FEEDBACK_TASK_PREFIX = "Low feedback score: "


def milestone_name(name: str) -> str:
    """``name`` in the reader's language when it is a default step's (see DEFAULT_STEP_NAMES)
    or a low feedback score's task (the support's title stays as its partner wrote it)."""
    if name.startswith(FEEDBACK_TASK_PREFIX):
        support = name.removeprefix(FEEDBACK_TASK_PREFIX)
        return str(_l("Low feedback score: %(support)s", support=support))
    return str(DEFAULT_STEP_NAMES.get(name, name))


def band_label(band: str) -> str:
    """A score band in the reader's language; a band a scoring version added is its name."""
    return str(BAND_LABELS.get(band, band))
