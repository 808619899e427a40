"""Human labels for the programme vocabularies, translated when rendered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from reintegration_hub.programmes.models import PlanApprover, TargetIndicator

TARGET_LABELS = {
    TargetIndicator.RETURNS: _l("Returns"),
    TargetIndicator.REINTEGRATION: _l("Reintegration beneficiaries"),
    TargetIndicator.SHORT_STAYS: _l("Short stays before departure"),
    TargetIndicator.CAPACITY_EVENTS: _l("Capacity-building events"),
}
APPROVER_LABELS = {
    PlanApprover.HOME_OFFICE: _l("The home office"),
    PlanApprover.GRANT_OFFICE: _l("The host office holding the grant"),
}
