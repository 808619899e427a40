"""Retention: closed cases lose their personal data once ``CASE_RETENTION_DAYS`` have passed.

What goes and what stays (a case's aggregates feed the indicators, exports and donor reports):

- replaced: the returnee's names, contact after return, mobile number (and the
  number and text of its text messages) and city; the day and month of every
  date of birth (the returnee's and the dependants': each becomes 1 July of its year, so an age
  computed from it is within half a year of the true one and age bands stay usable); the
  vulnerability notes (the categories stay); every free text a person wrote about the case:
  plan justification and review comments, plan-line notes, revision comments, the partner's
  copy in each referral (first name, notes for the partner, vulnerability note, answer note),
  delivery notes, monitoring-visit findings and next steps, the notes on milestones and on
  what was done to them by hand, the notes of reassignments, the returnee's comments in their
  feedback (``feedback_requests.comment``: the scores stay), and the text of every case note
  (``cases.notes``: the rows stay, with their kind and dates); the values of those same
  fields in the audit trail (the entries stay, saying that a field changed, like the redacted
  ones).
- kept: case number (pseudonymous), sex, nationality, return country and region, languages,
  legal status, status and closure reason, every date the indicators count from (decision,
  deadline, departure, arrival, closure), family composition (relations, accompanying),
  vulnerability categories, consents (flags and dates), plan amounts and lines, referral
  outcomes, survey answers and scores, feedback scores (partner performance counts them),
  milestones, and deliveries' amounts, rates and invoice numbers.
- case documents (``cases.documents``: IDs, signed consents, decisions, photos): deleted, rows
  and encrypted files; their audit rows keep the actions, the file names and notes redacted.
- handover certificates: the files stay. They are the grant's financial evidence (signed
  receipts of goods paid from public funds) that auditors may ask for under the grant's own
  document-retention rule, which this period does not replace; they are served only to
  authorised users. Their download name, which an uploader may have made from the person's
  name, becomes ``certificate-<delivery id>.<ext>``.

Each anonymised case gets ``anonymised_at`` (done once: it is never picked again) and one audit
row ``case.anonymise`` that names no personal value. Duplicate detection skips anonymised
cases, and the case search no longer finds them by their old names (the names' search keys
are blanked with them). The work is set-based, a batch of cases per call: a few statements
whatever the batch size, never a query per case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from flask import current_app

from partners.models import Referral
from partners.referrals import PERSONAL_FIELDS
from reintegration_hub.cases.documents import delete_case_documents
from reintegration_hub.cases.models import CaseNote, Dependant, Returnee, VulnerabilityEntry
from reintegration_hub.cases.search import SEARCH_COLUMNS
from reintegration_hub.cases.sms import withdraw_sms
from reintegration_hub.core.audit import REDACTED, AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import Channel, OutboxMessage, OutboxStatus
from reintegration_hub.core.roles import Actor
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackRequest
from reintegration_hub.followups.models import Milestone, MilestoneAction, MonitoringVisit
from reintegration_hub.plans.models import LineChange, Plan, PlanAmendment, PlanLine, PlanRevision

DEFAULT_BATCH_SIZE = 500

#: Free-text and personal columns blanked per model; also the keys redacted in its audit rows.
BLANKED: Mapping[type[Any], tuple[str, ...]] = {
    # with the names go their search keys: the case is no longer found by them
    Returnee: (
        *("first_name", "last_name", "contact_after_return", "mobile_number", "return_city"),
        *SEARCH_COLUMNS,
    ),
    VulnerabilityEntry: ("notes",),
    CaseNote: ("text",),
    Plan: ("over_cap_justification", "review_comment"),
    PlanLine: ("notes",),
    PlanRevision: ("comment",),
    PlanAmendment: ("reason", "justification", "review_comment"),
    LineChange: ("notes", "reason"),
    Referral: PERSONAL_FIELDS,
    Delivery: ("note",),
    MonitoringVisit: ("findings", "next_steps"),
    Milestone: ("note",),
    MilestoneAction: ("note",),
    FeedbackRequest: ("comment",),
}
#: Audit keys redacted besides the blanked columns (dates of birth are coarsened, names of
#: certificates replaced).
AUDIT_REDACTED: Mapping[str, tuple[str, ...]] = {
    "Returnee": (*BLANKED[Returnee], "date_of_birth", "note"),  # a reassignment's note
    "Dependant": ("date_of_birth",),
    "CaseNote": BLANKED[CaseNote],
    "Plan": BLANKED[Plan],
    "Referral": BLANKED[Referral],
    "Delivery": (*BLANKED[Delivery], "certificate_name"),
    "MonitoringVisit": BLANKED[MonitoringVisit],
    "Milestone": BLANKED[Milestone],
    "FeedbackRequest": BLANKED[FeedbackRequest],
    "CaseDocument": ("name", "note"),
}


@dataclass(frozen=True)
class AnonymisationCounts:
    cases: int = 0
    dependants: int = 0
    referrals: int = 0
    deliveries: int = 0
    visits: int = 0
    notes: int = 0
    feedback: int = 0  # feedback requests whose comment was blanked (the scores stay)
    documents: int = 0  # deleted, rows and files
    audit_entries: int = 0  # older audit rows whose personal values were redacted

    def __add__(self, other: AnonymisationCounts) -> AnonymisationCounts:
        return AnonymisationCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def coarse_birth_date(born_on: dt.date) -> dt.date:
    """The date of birth kept after anonymisation: 1 July of its year."""
    return dt.date(born_on.year, 7, 1)


def retention_cutoff(as_of: dt.datetime, retention_days: int | None = None) -> dt.datetime:
    """Cases closed at or before this moment are due for anonymisation at ``as_of``."""
    days = (
        int(current_app.config["CASE_RETENTION_DAYS"]) if retention_days is None else retention_days
    )
    return as_of - dt.timedelta(days=days)


def cases_due(as_of: dt.datetime, *, retention_days: int | None = None) -> int:
    """How many closed cases are due for anonymisation at ``as_of`` and not yet done."""
    cutoff = retention_cutoff(as_of, retention_days)
    return int(db.session.scalar(sa.select(sa.func.count()).where(*_due(cutoff))) or 0)


def _due(cutoff: dt.datetime) -> tuple[sa.ColumnElement[bool], ...]:
    # the conditions of the partial index ix_returnees_retention_due, then its column
    return (
        Returnee.anonymised_at.is_(None),
        Returnee.closed_at.is_not(None),
        Returnee.closed_at <= cutoff,
    )


def anonymise_closed_cases(
    as_of: dt.datetime,
    *,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retention_days: int | None = None,
) -> AnonymisationCounts:
    """Anonymise up to ``batch_size`` closed cases whose closure is ``retention_days`` (default
    ``CASE_RETENTION_DAYS``) or more before ``as_of``, oldest closure first.

    Returns what it changed; ``cases < batch_size`` means none is left. Idempotent: an
    anonymised case is never picked again. On PostgreSQL the picked cases are locked and a
    concurrent run skips them. Flushes; the caller commits (one transaction per batch).
    """
    cutoff = retention_cutoff(as_of, retention_days)
    picked = db.session.execute(
        sa.select(Returnee.id, Returnee.date_of_birth, Returnee.host_office_id)
        .where(*_due(cutoff))
        .order_by(Returnee.closed_at, Returnee.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=Returnee)
    ).all()
    if not picked:
        return AnonymisationCounts()
    case_ids = [row.id for row in picked]
    now = now_utc()

    # the returnees: one bulk UPDATE by primary key (their dates of birth differ)
    db.session.execute(
        sa.update(Returnee),
        [
            {
                "id": row.id,
                **dict.fromkeys(BLANKED[Returnee], ""),
                "date_of_birth": coarse_birth_date(row.date_of_birth),
                "anonymised_at": now,
            }
            for row in picked
        ],
    )
    dependants = db.session.execute(
        sa.select(Dependant.id, Dependant.date_of_birth).where(Dependant.returnee_id.in_(case_ids))
    ).all()
    if dependants:
        db.session.execute(
            sa.update(Dependant),
            [{"id": d.id, "date_of_birth": coarse_birth_date(d.date_of_birth)} for d in dependants],
        )
    _blank(VulnerabilityEntry, VulnerabilityEntry.returnee_id.in_(case_ids))
    _blank_text_messages(case_ids)
    note_ids = list(
        db.session.scalars(sa.select(CaseNote.id).where(CaseNote.returnee_id.in_(case_ids)))
    )
    if note_ids:
        _blank(CaseNote, CaseNote.id.in_(note_ids))

    plan_ids = list(db.session.scalars(sa.select(Plan.id).where(Plan.returnee_id.in_(case_ids))))
    line_ids: list[int] = []
    deliveries: Sequence[sa.Row[Any]] = []
    referral_ids: list[int] = []
    if plan_ids:
        _blank(Plan, Plan.id.in_(plan_ids))
        _blank(PlanRevision, PlanRevision.plan_id.in_(plan_ids))
        amendment_ids = sa.select(PlanAmendment.id).where(PlanAmendment.plan_id.in_(plan_ids))
        _blank(PlanAmendment, PlanAmendment.id.in_(amendment_ids))
        _blank(LineChange, LineChange.amendment_id.in_(amendment_ids))
        line_ids = list(
            db.session.scalars(sa.select(PlanLine.id).where(PlanLine.plan_id.in_(plan_ids)))
        )
    if line_ids:
        _blank(PlanLine, PlanLine.id.in_(line_ids))
        # every referral made for a line, the declined and expired ones before the last too
        references = [f"plan-line:{line_id}" for line_id in line_ids]
        referral_ids = list(
            db.session.scalars(sa.select(Referral.id).where(Referral.reference.in_(references)))
        )
        if referral_ids:
            _blank(Referral, Referral.id.in_(referral_ids))
        deliveries = db.session.execute(
            sa.select(Delivery.id, Delivery.certificate_name).where(
                Delivery.plan_line_id.in_(line_ids)
            )
        ).all()
    if deliveries:
        db.session.execute(
            sa.update(Delivery),
            [
                {
                    "id": d.id,
                    "note": "",
                    "certificate_name": f"certificate-{d.id}.{_extension(d.certificate_name)}",
                }
                for d in deliveries
            ],
        )
    visit_ids = list(
        db.session.scalars(
            sa.select(MonitoringVisit.id).where(MonitoringVisit.returnee_id.in_(case_ids))
        )
    )
    if visit_ids:
        _blank(MonitoringVisit, MonitoringVisit.id.in_(visit_ids))
    milestone_ids = list(
        db.session.scalars(sa.select(Milestone.id).where(Milestone.returnee_id.in_(case_ids)))
    )
    if milestone_ids:
        _blank(Milestone, Milestone.id.in_(milestone_ids))
        _blank(MilestoneAction, MilestoneAction.milestone_id.in_(milestone_ids))
    feedback_ids = list(
        db.session.scalars(
            sa.select(FeedbackRequest.id).where(FeedbackRequest.returnee_id.in_(case_ids))
        )
    )
    if feedback_ids:
        _blank(FeedbackRequest, FeedbackRequest.id.in_(feedback_ids))

    document_ids = delete_case_documents(case_ids)

    redacted = _redact_audit(
        {
            "CaseDocument": document_ids,
            "Returnee": case_ids,
            "Dependant": [d.id for d in dependants],
            "CaseNote": note_ids,
            "Plan": plan_ids,
            "Referral": referral_ids,
            "Delivery": [d.id for d in deliveries],
            "MonitoringVisit": visit_ids,
            "Milestone": milestone_ids,
            "FeedbackRequest": feedback_ids,
        }
    )
    db.session.execute(
        sa.insert(AuditEntry),
        [
            {
                "at": now,
                "actor_id": actor.id,
                "actor_label": actor.audit_label,
                "action": "case.anonymise",
                "object_type": "Returnee",
                "object_id": str(row.id),
                "office_id": row.host_office_id,
                "changes": {
                    "anonymised_at": [None, now.isoformat()],
                    "cutoff": [None, cutoff.isoformat()],
                },
            }
            for row in picked
        ],
    )
    db.session.flush()
    return AnonymisationCounts(
        cases=len(case_ids),
        dependants=len(dependants),
        referrals=len(referral_ids),
        deliveries=len(deliveries),
        visits=len(visit_ids),
        notes=len(note_ids),
        feedback=len(feedback_ids),
        documents=len(document_ids),
        audit_entries=redacted,
    )


def _blank(model: type[Any], where: sa.ColumnElement[bool]) -> None:
    db.session.execute(
        sa.update(model)
        .where(where)
        .values(dict.fromkeys(BLANKED[model], ""))
        .execution_options(synchronize_session=False)
    )


def _blank_text_messages(case_ids: Sequence[int]) -> None:
    """The cases' text messages lose their number and text, and the gateway's error text
    (which may quote the number); those not sent are withdrawn."""
    withdraw_sms(case_ids)
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.returnee_id.in_(case_ids), OutboxMessage.channel == Channel.SMS)
        .values(
            to_address="",
            body_text="",
            last_error=sa.case(
                (OutboxMessage.status == OutboxStatus.FAILED, ""),
                else_=OutboxMessage.last_error,
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _extension(name: str) -> str:
    _stem, dot, suffix = name.rpartition(".")
    return suffix.lower() if dot and suffix.isalnum() else "bin"


def _redact_audit(objects: Mapping[str, Sequence[int]]) -> int:
    """Replace the personal values in the audit rows of ``objects`` by ``[redacted]``: one read,
    one bulk update of the rows that held any."""
    conditions = [
        sa.and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_([str(i) for i in ids]))
        for kind, ids in objects.items()
        if ids
    ]
    if not conditions:
        return 0
    rows = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.object_type, AuditEntry.changes).where(
            sa.or_(*conditions)
        )
    ).all()
    updates = []
    for row in rows:
        changes = dict(row.changes or {})
        touched = False
        for key in AUDIT_REDACTED.get(row.object_type, ()):
            values = changes.get(key)
            if isinstance(values, list) and any(v not in (None, "", REDACTED) for v in values):
                changes[key] = [v if v in (None, "") else REDACTED for v in values]
                touched = True
        if touched:
            updates.append({"id": row.id, "changes": changes})
    if updates:
        db.session.execute(sa.update(AuditEntry), updates)
    return len(updates)
