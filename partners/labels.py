"""Human labels for the marketplace vocabularies, translated when rendered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from partners.models import (
    CapacityPeriod,
    CostBasis,
    DeclineReason,
    DeliveryMode,
    OptionStatus,
    PaymentSchedule,
    ReferralStatus,
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
PAYMENT_SCHEDULE_LABELS = {
    PaymentSchedule.ONE_OFF: _l("paid at once"),
    PaymentSchedule.MONTHLY: _l("paid monthly"),
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
REFERRAL_STATUS_LABELS = {
    ReferralStatus.SENT: _l("Waiting for an answer"),
    ReferralStatus.ACCEPTED: _l("Accepted"),
    ReferralStatus.DECLINED: _l("Declined"),
    ReferralStatus.EXPIRED: _l("Expired"),
    ReferralStatus.WITHDRAWN: _l("Withdrawn"),
    ReferralStatus.DELIVERED: _l("Delivered"),
}
DECLINE_REASON_LABELS = {
    DeclineReason.NO_CAPACITY: _l("No place free"),
    DeclineReason.NOT_ELIGIBLE: _l("The person is not eligible"),
    DeclineReason.SERVICE_UNAVAILABLE: _l("The service is not available now"),
    DeclineReason.CANNOT_CONTACT: _l("We cannot reach the person"),
    DeclineReason.LOCATION: _l("Too far from where we work"),
    DeclineReason.OTHER: _l("Another reason (say which in the note)"),
}
