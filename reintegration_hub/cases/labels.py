"""Human labels for the case vocabularies, translated when rendered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from reintegration_hub.cases.models import (
    CaseStatus,
    ClosureReason,
    DependantRelation,
    DocumentKind,
    LegalStatus,
    NoteKind,
)

STATUS_LABELS = {
    CaseStatus.REGISTERED: _l("Registered"),
    CaseStatus.ASSESSED: _l("Assessed"),
    CaseStatus.PLAN_DRAFT: _l("Plan draft"),
    CaseStatus.PLAN_SUBMITTED: _l("Plan submitted"),
    CaseStatus.PLAN_APPROVED: _l("Plan approved"),
    CaseStatus.IN_DELIVERY: _l("In delivery"),
    CaseStatus.MONITORING: _l("Monitoring"),
    CaseStatus.CLOSED: _l("Closed"),
}
CLOSURE_LABELS = {
    ClosureReason.COMPLETED: _l("Support completed"),
    ClosureReason.NO_LONGER_ELIGIBLE: _l("No longer meets the criteria"),
    ClosureReason.WITHDREW: _l("Returnee withdrew"),
    ClosureReason.MOVED_AWAY: _l("Moved away"),
    ClosureReason.REMIGRATED: _l("Re-migrated"),
    ClosureReason.DIED: _l("Died"),
    ClosureReason.THREATS_TO_STAFF: _l("Threats to staff"),
    ClosureReason.STIGMA: _l("Stigma"),
    ClosureReason.FUNDING_TERMINATION: _l("Funding terminated"),
    ClosureReason.SECURITY_TERMINATION: _l("Security termination"),
}
LEGAL_STATUS_LABELS = {
    LegalStatus.REJECTED_ASYLUM_SEEKER: _l("Rejected asylum seeker"),
    LegalStatus.IRREGULAR_STAY: _l("Irregular stay"),
    LegalStatus.OTHER: _l("Other"),
}
RELATION_LABELS = {
    DependantRelation.SPOUSE: _l("Spouse or partner"),
    DependantRelation.CHILD: _l("Child"),
    DependantRelation.PARENT: _l("Parent"),
    DependantRelation.SIBLING: _l("Sibling"),
    DependantRelation.OTHER: _l("Other relative"),
}
NOTE_KIND_LABELS = {
    NoteKind.CONTACT_ATTEMPT: _l("Contact attempt"),
    NoteKind.COUNSELLING: _l("Counselling session"),
    NoteKind.PHONE_CALL: _l("Phone call"),
    NoteKind.OTHER: _l("Other"),
}
#: The audit trail's actions as the case's access log names them; others show as recorded.
ACCESS_ACTION_LABELS = {
    "case.view": _l("Opened the case"),
    "case.register": _l("Registered the case"),
    "case.update": _l("Changed the case"),
    "case.status": _l("Changed the status"),
    "case.assign": _l("Reassigned the case"),
    "case.consent": _l("Recorded consent"),
    "case.arrival": _l("Recorded the arrival"),
    "case.anonymise": _l("Removed the personal data"),
    "case_note.add": _l("Wrote a note"),
    "case_note.correct": _l("Corrected a note"),
    "case_note.follow_up_done": _l("Followed up a note"),
    "case_note.read": _l("Read the notes"),
    "plan.view": _l("Opened the plan"),
    "visit.view": _l("Opened the visit form"),
    "survey.view": _l("Opened the survey form"),
    "referral.view": _l("Opened a referral"),
    "feedback.read": _l("Read the returnee's feedback"),
    "feedback.request": _l("Asked the returnee for feedback"),
    "feedback.sent": _l("Sent the feedback link"),
    "feedback.renew": _l("Made a new feedback link"),
    "feedback.answer": _l("The returnee gave feedback"),
}
DOCUMENT_KIND_LABELS = {
    DocumentKind.TRAVEL_DOCUMENT: _l("Travel document or ID"),
    DocumentKind.SIGNED_CONSENT: _l("Signed consent"),
    DocumentKind.RETURN_DECISION: _l("Return decision"),
    DocumentKind.INVOICE: _l("Invoice"),
    DocumentKind.PHOTO: _l("Photo"),
    DocumentKind.OTHER: _l("Other document"),
}
