"""Who looked: a case's access log, the audit rows of its reads and changes, newest first.

The case page, the plan (page and API), the visit and survey forms and the partner's referral
(its page and the e-mailed link) each write an audit row per read (``case.view``,
``plan.view``, ``visit.view``, ``survey.view``, ``case_note.read``, ``referral.view``); the
changes are audited by their services. A row is the case's when its object is the case or one
of the case's own records: its consents, notes, plans, the referrals and deliveries of its
plan lines, its milestones, visits and surveys. The rows are found per object through
``ix_audit_entries_object`` (object type, object id): one read gathers the ids of the case's
records, one query the page of rows, one their count.

Only the case's supervisors (``Office.supervisor_id`` of its host office, and of its origin
office while the case is shared with it) and administrators see the log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.models import Referral
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import CaseNote, Consent, Returnee
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.authz import get_scoped
from reintegration_hub.core.errors import PermissionDenied
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackRequest
from reintegration_hub.followups.models import Milestone, MonitoringVisit, SustainabilitySurvey
from reintegration_hub.plans.models import Plan, PlanLine

PAGE_SIZE = 20


@dataclass(frozen=True)
class Access:
    """One line of the log: when, who (their name, or the audit label of a process or of the
    partner's link), what (the audit action)."""

    at: dt.datetime
    who: str
    action: str


def may_see_access_log(case: Returnee, actor: Actor) -> bool:
    """Administrators, and the supervisor of the case's host office or of its origin office
    (who sees the case only while it is shared with that office)."""
    if actor.role == Role.ADMIN:
        return True
    if actor.id is None:
        return False
    offices = [case.host_office_id, case.origin_office_id]
    supervised = db.session.scalars(
        sa.select(Office.id).where(
            Office.id.in_([o for o in offices if o is not None]),
            Office.supervisor_id == actor.id,
        )
    ).first()
    return supervised is not None


def _case_objects(case_id: int) -> Mapping[str, Sequence[int]]:
    """The ids of the case's own records, by the audit trail's object type."""

    def ids(stmt: sa.Select[tuple[int]]) -> list[int]:
        return list(db.session.scalars(stmt))

    plan_ids = ids(sa.select(Plan.id).where(Plan.returnee_id == case_id))
    line_ids = ids(sa.select(PlanLine.id).where(PlanLine.plan_id.in_(plan_ids))) if plan_ids else []
    references = [f"plan-line:{line_id}" for line_id in line_ids]
    return {
        "Returnee": [case_id],
        "Consent": ids(sa.select(Consent.id).where(Consent.returnee_id == case_id)),
        "CaseNote": ids(sa.select(CaseNote.id).where(CaseNote.returnee_id == case_id)),
        "Plan": plan_ids,
        "Referral": ids(sa.select(Referral.id).where(Referral.reference.in_(references)))
        if references
        else [],
        "Delivery": ids(sa.select(Delivery.id).where(Delivery.plan_line_id.in_(line_ids)))
        if line_ids
        else [],
        "Milestone": ids(sa.select(Milestone.id).where(Milestone.returnee_id == case_id)),
        "MonitoringVisit": ids(
            sa.select(MonitoringVisit.id).where(MonitoringVisit.returnee_id == case_id)
        ),
        "SustainabilitySurvey": ids(
            sa.select(SustainabilitySurvey.id).where(SustainabilitySurvey.returnee_id == case_id)
        ),
        "FeedbackRequest": ids(
            sa.select(FeedbackRequest.id).where(FeedbackRequest.returnee_id == case_id)
        ),
    }


def access_log_statement(case_id: int) -> sa.Select[tuple[AuditEntry]]:
    """Every audit row of the case and its records, newest first (no scope: see
    ``access_log``)."""
    conditions = [
        sa.and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_([str(i) for i in ids]))
        for kind, ids in _case_objects(case_id).items()
        if ids
    ]
    return (
        sa.select(AuditEntry)
        .where(sa.or_(*conditions))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )


def _lines(entries: Sequence[AuditEntry]) -> list[Access]:
    """The log's lines of ``entries``, with their users' names: one query."""
    user_ids = {e.actor_id for e in entries if e.actor_id is not None}
    names = {
        row.id: row.full_name
        for row in db.session.execute(
            sa.select(User.id, User.full_name).where(User.id.in_(user_ids))
        )
    }
    return [
        Access(e.at, (names.get(e.actor_id) if e.actor_id else None) or e.actor_label, e.action)
        for e in entries
    ]


def access_log(
    case_id: int, *, actor: Actor, page: int = 1, page_size: int = PAGE_SIZE
) -> Page[Access]:
    """One page of the case's access log: the case in ``actor``'s scope (else NotFound), and
    ``actor`` its supervisor or an administrator (else PermissionDenied)."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    if not may_see_access_log(case, actor):
        raise PermissionDenied(_l("Only the case's supervisors and administrators see who looked."))
    return paginate(access_log_statement(case.id), page=page, per_page=page_size).map(_lines)
