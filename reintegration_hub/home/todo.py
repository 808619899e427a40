"""My work: what waits for the signed-in user, grouped and counted, for the home page.

Each group is the user's own share of a list the product keeps elsewhere (the work list, the
review queue, the referral inbox, the listings to re-verify, the failed e-mails), narrowed to
what they answer for, and always within their scope (``scoped``): another office's work never
shows. A group is one count and one short page (the first ``SHOWN``, the most urgent first),
two statements whatever the volume; a role a group is not for has no group (``None``).

- **Milestones**: the due and overdue ones the user answers for: a counsellor's on their own
  cases, a case manager's (theirs and their partners') on their own cases, a partner's on the
  lines referred to them. Open cases only: closing a case cancels its milestones, and nothing
  of a closed case is shown as overdue.
- **Referrals**: partner users, those waiting for their answer (still answerable); case
  managers, those of their office the partner let lapse unanswered (to refer elsewhere).
- **Plans**: the review queue (case managers confirm, programme managers approve); counsellors,
  their cases' plans sent back for revision.
- **Listings**: case managers and partner users, the options of their partners flagged as not
  re-verified in time.
- **Failed e-mails**: administrators, the messages that failed for good.
- **Notes**: counsellors and case managers, their own case notes whose follow-up day has come
  (on or before today) and is not marked done, on open cases in their scope; the earliest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from partners.models import (
    OptionStatus,
    Partner,
    PartnerMember,
    Referral,
    ReferralStatus,
    SupportOption,
)
from reintegration_hub.cases import notes
from reintegration_hub.cases.models import CaseNote, Returnee
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.paging import count_rows
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus
from reintegration_hub.followups.worklist import WORK_LIST_ORDER, answered_by
from reintegration_hub.plans.models import Plan, PlanStatus
from reintegration_hub.plans.services import review_queue_statement

T = TypeVar("T")

#: How many items of a group the home page lists; the rest is behind the group's link.
SHOWN = 5


@dataclass(frozen=True)
class Group(Generic[T]):
    count: int
    first: Sequence[T]


@dataclass(frozen=True)
class MyWork:
    milestones: Group[Milestone] | None = None
    referrals: Group[Referral] | None = None
    plans: Group[Plan] | None = None
    listings: Group[SupportOption] | None = None
    failed_emails: Group[OutboxMessage] | None = None
    notes: Group[CaseNote] | None = None

    @property
    def total(self) -> int:
        groups = (
            self.milestones,
            self.referrals,
            self.plans,
            self.listings,
            self.failed_emails,
            self.notes,
        )
        return sum(group.count for group in groups if group is not None)


def _group(stmt: sa.Select[Any], *order: Any) -> Group[Any]:
    first = db.session.scalars(stmt.order_by(*order).limit(SHOWN)).unique().all()
    return Group(count=count_rows(stmt), first=first)


def my_milestones(actor: Actor) -> Group[Milestone] | None:
    """The due and overdue milestones of open cases that ``actor`` answers for."""
    mine = answered_by(actor)
    if mine is None:
        return None
    stmt = scoped(
        sa.select(Milestone).where(
            Milestone.status.in_([MilestoneStatus.DUE, MilestoneStatus.OVERDUE]), mine
        ),
        Milestone,
        actor,
    ).options(joinedload(Milestone.returnee))
    return _group(stmt, *WORK_LIST_ORDER)


def my_referrals(actor: Actor) -> Group[Referral] | None:
    """Partner users: the referrals still waiting for their answer, the soonest to lapse first.
    Case managers: their office's referrals the partner let lapse unanswered."""
    if actor.role not in {Role.PARTNER, Role.CASE_MANAGER}:
        return None
    now = now_utc()
    sent = scoped(sa.select(Referral), Referral, actor).where(
        Referral.status == ReferralStatus.SENT
    )
    if actor.role == Role.PARTNER:
        stmt = sent.where(Referral.expires_at > now)
    else:
        stmt = sent.where(Referral.expires_at <= now)
    return _group(stmt, Referral.expires_at, Referral.id)


def my_plans(actor: Actor) -> Group[Plan] | None:
    """The plans waiting for ``actor``'s step: the review queue, or, for counsellors, their
    cases' plans sent back for revision."""
    if actor.role == Role.COUNSELLOR:
        own_cases = sa.select(Returnee.id).where(Returnee.counsellor_id == actor.id)
        stmt = (
            scoped(sa.select(Plan), Plan, actor)
            .where(Plan.status == PlanStatus.RETURNED, Plan.returnee_id.in_(own_cases))
            .options(joinedload(Plan.returnee))
        )
        return _group(stmt, Plan.id)
    if actor.role not in {Role.CASE_MANAGER, Role.PROGRAMME_MANAGER, Role.ADMIN}:
        return None
    stmt, order = review_queue_statement(actor)
    return _group(stmt, *order)


def my_listings(actor: Actor) -> Group[SupportOption] | None:
    """The live options of ``actor``'s partners (their office's, or their own as a partner
    user) flagged as not re-verified in time, the longest flagged first."""
    if actor.role == Role.CASE_MANAGER:
        mine = sa.select(Partner.id).where(Partner.office_id == actor.office_id)
    elif actor.role == Role.PARTNER:
        mine = sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == actor.id)
    else:
        return None
    stmt = (
        scoped(sa.select(SupportOption), SupportOption, actor)
        .where(
            SupportOption.partner_id.in_(mine),
            SupportOption.stale_since.is_not(None),
            SupportOption.status != OptionStatus.ARCHIVED,
        )
        .options(selectinload(SupportOption.texts))
    )
    return _group(stmt, SupportOption.stale_since, SupportOption.id)


def my_failed_emails(actor: Actor) -> Group[OutboxMessage] | None:
    """Administrators: the e-mails that failed for good, the latest first."""
    if actor.role != Role.ADMIN:
        return None
    stmt = sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    return _group(stmt, OutboxMessage.id.desc())


def my_notes(actor: Actor) -> Group[CaseNote] | None:
    """Counsellors and case managers: their notes to follow up today or earlier, not done."""
    if actor.role not in notes.WRITER_ROLES:
        return None
    stmt = notes.follow_ups_due_statement(actor, now_utc().date())
    return _group(stmt, CaseNote.follow_up_on, CaseNote.id)


def my_work(*, actor: Actor) -> MyWork:
    """Everything that waits for ``actor``, by group (see the module docstring)."""
    return MyWork(
        milestones=my_milestones(actor),
        referrals=my_referrals(actor),
        plans=my_plans(actor),
        listings=my_listings(actor),
        failed_emails=my_failed_emails(actor),
        notes=my_notes(actor),
    )
