"""Human labels for the marketplace vocabularies, translated when rendered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from partners.models import (
    CapacityPeriod,
    CostBasis,
    DeliveryMode,
    OptionStatus,
    SupportCategory,
    VettingStatus,
)

VETTING_LABELS = {
    VettingStatus.PENDING: _l("Pending vetting"),
    VettingStatus.APPROVED: _l("Approved"),
    VettingStatus.SUSPENDED: _l("Suspended"),
}
STATUS_LABELS = {
    OptionStatus.DRAFT: _l("Draft"),
    OptionStatus.PUBLISHED: _l("Published"),
    OptionStatus.TEMPORARILY_CLOSED: _l("Temporarily closed"),
    OptionStatus.ARCHIVED: _l("Archived"),
}
COST_BASIS_LABELS = {
    CostBasis.PER_PERSON: _l("per person"),
    CostBasis.PER_HOUSEHOLD: _l("per household"),
    CostBasis.PER_MONTH: _l("per month"),
}
DELIVERY_MODE_LABELS = {
    DeliveryMode.IN_KIND: _l("in kind"),
    DeliveryMode.CASH: _l("cash"),
    DeliveryMode.SERVICE: _l("service"),
}
PERIOD_LABELS = {
    CapacityPeriod.MONTH: _l("per month"),
    CapacityPeriod.QUARTER: _l("per quarter"),
    CapacityPeriod.YEAR: _l("per year"),
}
CATEGORY_LABELS = {
    SupportCategory.BUSINESS_START_UP: _l("Business start-up"),
    SupportCategory.VOCATIONAL_TRAINING: _l("Vocational training"),
    SupportCategory.JOB_PLACEMENT: _l("Job placement"),
    SupportCategory.HOUSING: _l("Housing"),
    SupportCategory.EDUCATION: _l("Education"),
    SupportCategory.MEDICAL: _l("Medical care"),
    SupportCategory.PSYCHOSOCIAL: _l("Psychosocial support"),
    SupportCategory.LEGAL_DOCUMENTATION: _l("Legal and documentation help"),
    SupportCategory.POST_ARRIVAL_RECEPTION: _l("Post-arrival reception"),
}
