"""Changing a plan after approval: numbered amendments, replacements of lines that fell through,
and what a plan does when the marketplace closes a referral or frees a place.

An approved plan changes only through an amendment (``PlanAmendment``), one open at a time. The
counsellor proposes new lines (``proposed`` until in effect), replacements of declined, expired
or cancelled lines (the same option again is a new referral to the same partner), new
quantities and notes, and cancellations (``LineChange``). Submitting holds a place for each new
line and asks the origin case manager. An amendment whose total stays within what the programme
manager last approved and within the cap is put into effect by the case manager's
confirmation; one that raises it or goes over the cap (with a justification) also needs the
programme manager's approval, as the first plan did. Either may return it with comments; the
counsellor may withdraw it.

In effect, new lines are referred and get their delivery milestones as first-plan lines did;
changed lines keep their referral (its quantity and note follow, the partner is told);
cancelled lines have their referral withdrawn (or their place released) and their open delivery
milestones cancelled. Lines not touched keep everything. A line with deliveries is never
cancelled, only reduced to what was delivered.

The marketplace's signals keep plans in step: a declined or expired referral closes its line
(no longer in the total, delivery milestone cancelled, counsellor told, replaceable); a
waitlisted line that gets a freed place is recorded and its counsellor told.

Every entry point takes ``expected_version``, the plan version the user saw: a plan changed since
is refused with a message rather than silently overwritten. The page's line actions call the
functions here for drafts too, which hand over to ``plans.services``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from partners import events
from partners.capacity import OPEN_HOLD_STATUSES, release_hold
from partners.labels import DECLINE_REASON_LABELS
from partners.models import ReferralStatus, SupportOption
from partners.referrals import (
    ACTIVE_STATUSES,
    change_referral,
    withdraw_referral,
)
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound
from reintegration_hub.core.i18n import format_money
from reintegration_hub.core.outbox import message_key
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.deliveries.services import last_instalment, line_delivered
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    MonitoringVisit,
)
from reintegration_hub.followups.scheduling import complete_milestones, schedule_plan
from reintegration_hub.plans import services
from reintegration_hub.plans.models import (
    EDITABLE_STATUSES,
    OPEN_AMENDMENT_STATUSES,
    AmendmentStatus,
    LineChange,
    LineChangeKind,
    LineStatus,
    Plan,
    PlanAmendment,
    PlanLine,
    PlanStatus,
)
from reintegration_hub.plans.services import (
    APPROVER_ROLES,
    BUILDER_ROLES,
    NOTES_MAX,
    REVIEWER_ROLES,
    _require_role,
    clean_text,
    lock_plan,
    notify,
    option_title,
    revise,
)

REASON_MAX = 1000
COMMENT_MAX = 5000
#: What a closed referral makes of its line.
CLOSED_BY_REFERRAL = {
    ReferralStatus.DECLINED: LineStatus.DECLINED,
    ReferralStatus.EXPIRED: LineStatus.EXPIRED,
}


# --- reads -----------------------------------------------------------------------------------


def proposed_lines(plan: Plan, amendment: PlanAmendment) -> list[PlanLine]:
    return [
        line
        for line in plan.lines
        if line.status == LineStatus.PROPOSED and line.amendment_id == amendment.id
    ]


def pending_changes(plan: Plan) -> dict[int, LineChange]:
    """The open amendment's changes by line id (empty without an open amendment)."""
    amendment = plan.open_amendment
    return {change.line_id: change for change in amendment.changes} if amendment else {}


def replacements(plan: Plan) -> dict[int, PlanLine]:
    """``{replaced line id: the line replacing it}``."""
    return {line.replaces_id: line for line in plan.lines if line.replaces_id is not None}


def proposed_total(plan: Plan, amendment: PlanAmendment) -> int:
    """The plan's total once ``amendment`` is in effect: the lines in effect as it changes
    them, and the lines it proposes."""
    changes = {change.line_id: change for change in amendment.changes}
    total = 0
    for line in plan.lines:
        if line.status == LineStatus.ACTIVE:
            change = changes.get(line.id)
            total += line.total_eur_minor if change is None else change.total_eur_minor
        elif line.status == LineStatus.PROPOSED and line.amendment_id == amendment.id:
            total += line.total_eur_minor
    return total


def list_amendments(plan_id: int, *, actor: Actor) -> Sequence[PlanAmendment]:
    """The plan's amendments, newest first (NotFound out of scope)."""
    plan = services.get_plan(plan_id, actor=actor)
    return db.session.scalars(
        sa.select(PlanAmendment)
        .where(PlanAmendment.plan_id == plan.id)
        .options(selectinload(PlanAmendment.changes))
        .order_by(PlanAmendment.number.desc())
    ).all()


def approved_total(plan: Plan) -> int:
    """What the programme manager last approved (the plan's total if never recorded)."""
    if plan.approved_total_eur_minor is None:
        return plan.total_eur_minor
    return plan.approved_total_eur_minor


def needs_approval(plan: Plan, amendment: PlanAmendment) -> bool:
    """An amendment that raises the approved total or goes over the cap needs the programme
    manager's approval; one that lowers it or swaps within it, the case manager's only."""
    after = proposed_total(plan, amendment)
    return after > approved_total(plan) or after > plan.cap_eur_minor


# --- checks ----------------------------------------------------------------------------------


def _locked_line(line_id: int, actor: Actor, expected_version: int | None) -> PlanLine:
    line = db.session.get(PlanLine, line_id) if 0 < line_id <= 2**31 - 1 else None
    if line is None:
        raise NotFound(_l("Not found."))
    lock_plan(line.plan_id, actor=actor, expected_version=expected_version)
    return line


def _amendable(plan: Plan) -> None:
    if plan.status in {PlanStatus.SUBMITTED, PlanStatus.FEASIBLE}:
        raise Conflict(_l("The plan is under review: ask for it to be returned if it must change."))
    if plan.status != PlanStatus.APPROVED:
        raise Conflict(_l("Only an approved plan is amended."))
    if plan.returnee.status == CaseStatus.CLOSED:
        raise Conflict(_l("The case is closed: its plan can no longer change."))


def _open(
    plan: Plan, actor: Actor, *, reason: str = "", visit: MonitoringVisit | None = None
) -> PlanAmendment:
    amendment = PlanAmendment(
        number=1 + max((a.number for a in plan.amendments), default=0),
        status=AmendmentStatus.DRAFT,
        reason=reason,
        visit_id=visit.id if visit is not None else None,
        opened_at=now_utc(),
        opened_by_id=actor.id,
    )
    plan.amendments.append(amendment)
    revise(plan, "amend_open", actor=actor, comment=reason, amendment=amendment)
    return amendment


def _draft(plan: Plan, actor: Actor) -> PlanAmendment:
    """The plan's amendment the counsellor can change now, opened if there is none."""
    _amendable(plan)
    amendment = plan.open_amendment
    if amendment is None:
        return _open(plan, actor)
    if not amendment.editable:
        raise Conflict(
            _l(
                "Amendment %(number)d is under review: wait for the answer, or withdraw it.",
                number=amendment.number,
            )
        )
    return amendment


def _open_amendment(plan: Plan, allowed: Iterable[AmendmentStatus]) -> PlanAmendment:
    amendment = plan.open_amendment
    if amendment is None or amendment.status not in set(allowed):
        raise Conflict(_l("No amendment of this plan is waiting for this step."))
    return amendment


def _least_quantity(line: PlanLine, delivered: int) -> int:
    """The smallest quantity whose price covers what was delivered (at most the present one)."""
    return next(
        (q for q in range(1, line.quantity + 1) if services.line_total(line, q) >= delivered),
        line.quantity,
    )


def _check_delivered(line: PlanLine, quantity: int | None, delivered: int) -> None:
    """A line with deliveries cannot be cancelled (``quantity`` None) nor go below what was
    delivered (the message says how far it may be reduced); a line its partner has delivered
    in full is not increased (its referral is closed: more is a new line, a new referral)."""
    referral = line.referral
    if (
        quantity is not None
        and quantity > line.quantity
        and referral is not None
        and referral.status == ReferralStatus.DELIVERED
    ):
        message = _l(
            "%(title)s is delivered in full: add what more is needed as a new line instead.",
            title=option_title(line.option),
        )
        raise InvalidInput(message, field_errors={"quantity": [message]})
    if not delivered:
        return
    least = _least_quantity(line, delivered)
    if quantity is None:
        raise Conflict(
            _l(
                "Deliveries worth %(amount)s are recorded for %(title)s: it cannot be cancelled. "
                "Reduce its quantity to what was delivered (%(quantity)d) instead.",
                amount=format_money(delivered, "EUR"),
                title=option_title(line.option),
                quantity=least,
            )
        )
    if services.line_total(line, quantity) < delivered:
        message = _l(
            "Deliveries worth %(amount)s are recorded for %(title)s: its quantity cannot go "
            "below %(quantity)d.",
            amount=format_money(delivered, "EUR"),
            title=option_title(line.option),
            quantity=least,
        )
        raise InvalidInput(message, field_errors={"quantity": [message]})


# --- the counsellor's proposals --------------------------------------------------------------


def add_support(
    plan_id: int,
    option_id: int,
    *,
    quantity: int = 1,
    notes: str = "",
    expected_version: int | None = None,
    actor: Actor,
) -> PlanLine:
    """Add an option to the plan: directly while it is a draft (or returned), as a proposed
    line of the open amendment (opened if needed) once approved. Same checks as
    ``services.add_line``; Conflict while the plan is under review or the case is closed."""
    _require_role(actor, BUILDER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    if plan.status in EDITABLE_STATUSES:
        return services.add_line(plan.id, option_id, quantity=quantity, notes=notes, actor=actor)
    _amendable(plan)
    line = services.new_line(plan, option_id, quantity=quantity, notes=notes, actor=actor)
    amendment = _draft(plan, actor)
    line.status, line.amendment_id = LineStatus.PROPOSED, amendment.id
    plan.lines.append(line)
    revise(plan, "amend_add_line", actor=actor, comment=option_title(line.option))
    return line


def replace_line(
    line_id: int,
    *,
    option_id: int | None = None,
    quantity: int | None = None,
    notes: str | None = None,
    expected_version: int | None = None,
    actor: Actor,
) -> PlanLine:
    """Propose a replacement for a declined, expired or cancelled line: another option, or
    the same one again (a new referral to the same partner), with the line's quantity and
    notes unless given. The replaced line keeps its history; the replacement is in effect
    (and referred) when the amendment is."""
    _require_role(actor, BUILDER_ROLES)
    line = _locked_line(line_id, actor, expected_version)
    plan = line.plan
    _amendable(plan)
    if not line.closed:
        raise Conflict(_l("Only a declined, expired or cancelled line can be replaced."))
    successor = replacements(plan).get(line.id)
    if successor is not None:
        raise Conflict(
            _l(
                "This line is replaced already by %(title)s.",
                title=option_title(successor.option),
            )
        )
    try:
        new = services.new_line(
            plan,
            option_id or line.option_id,
            quantity=line.quantity if quantity is None else quantity,
            notes=line.notes if notes is None else notes,
            actor=actor,
        )
    except NotFound:
        if option_id not in {None, line.option_id}:
            raise
        raise Conflict(
            _l("This option is no longer listed: choose another one to replace the line.")
        ) from None
    amendment = _draft(plan, actor)
    new.status, new.amendment_id, new.replaces_id = LineStatus.PROPOSED, amendment.id, line.id
    plan.lines.append(new)
    revise(
        plan,
        "amend_replace_line",
        actor=actor,
        comment=f"{option_title(line.option)} → {option_title(new.option)}",
    )
    return new


def _change_of(amendment: PlanAmendment, line: PlanLine) -> LineChange | None:
    return next((c for c in amendment.changes if c.line_id == line.id), None)


def change_line(
    line_id: int,
    *,
    quantity: int,
    notes: str,
    reason: str = "",
    expected_version: int | None = None,
    actor: Actor,
) -> PlanLine:
    """Change a line's quantity and notes: directly in a draft (and for a line the open
    amendment proposes), as a proposed change of a line in effect once approved. A line with
    deliveries cannot go below what was delivered (InvalidInput says how far it may)."""
    _require_role(actor, BUILDER_ROLES)
    line = _locked_line(line_id, actor, expected_version)
    plan = line.plan
    if plan.status in EDITABLE_STATUSES:
        return services.update_line(line.id, quantity=quantity, notes=notes, actor=actor)
    _amendable(plan)
    services.check_quantity(quantity)
    notes = clean_text(notes, "notes", NOTES_MAX)
    reason = clean_text(reason, "reason", REASON_MAX)
    if line.closed:
        raise Conflict(_l("This line no longer counts in the plan: replace it instead."))
    title = option_title(line.option)
    if line.status == LineStatus.PROPOSED:
        _draft(plan, actor)
        line.quantity, line.notes = quantity, notes
        services.price(line)
        revise(plan, "amend_change_line", actor=actor, comment=title)
        return line
    _check_delivered(line, quantity, services.delivered_eur_by_line([line.id]).get(line.id, 0))
    if (quantity, notes) == (line.quantity, line.notes) and line.id not in pending_changes(plan):
        return line  # nothing to change, nothing proposed
    amendment = _draft(plan, actor)
    change = _change_of(amendment, line)
    if (quantity, notes) == (line.quantity, line.notes):
        if change is not None:  # back to the line as it is: nothing is proposed for it
            amendment.changes.remove(change)
            revise(plan, "amend_keep_line", actor=actor, comment=title)
        return line
    if change is None:
        change = LineChange(line=line)
        amendment.changes.append(change)
    change.kind, change.reason = LineChangeKind.CHANGE, reason
    change.quantity_before, change.quantity = line.quantity, quantity
    change.notes = notes if notes != line.notes else None
    change.total_before_eur_minor = line.total_eur_minor
    change.total_eur_minor = services.line_total(line, quantity)
    revise(
        plan,
        "amend_change_line",
        actor=actor,
        comment=f"{title}: {line.quantity} → {quantity}{'; ' + reason if reason else ''}",
    )
    return line


def take_out_line(
    line_id: int, *, reason: str = "", expected_version: int | None = None, actor: Actor
) -> Plan:
    """Take a line out: removed from a draft; once approved, a proposed line is dropped and a
    line in effect is proposed for cancellation (refused when deliveries are recorded for
    it: it can be reduced to what was delivered instead)."""
    _require_role(actor, BUILDER_ROLES)
    line = _locked_line(line_id, actor, expected_version)
    plan = line.plan
    if plan.status in EDITABLE_STATUSES:
        return services.remove_line(line.id, actor=actor)
    _amendable(plan)
    reason = clean_text(reason, "reason", REASON_MAX)
    if line.closed:
        raise Conflict(_l("This line no longer counts in the plan already."))
    title = option_title(line.option)
    if line.status == LineStatus.PROPOSED:
        _draft(plan, actor)
        _drop_proposed(plan, line, actor)
        revise(plan, "amend_remove_line", actor=actor, comment=title)
        return plan
    _check_delivered(line, None, services.delivered_eur_by_line([line.id]).get(line.id, 0))
    amendment = _draft(plan, actor)
    change = _change_of(amendment, line)
    if change is None:
        change = LineChange(line=line)
        amendment.changes.append(change)
    change.kind, change.reason = LineChangeKind.CANCEL, reason
    change.quantity_before, change.quantity, change.notes = line.quantity, None, None
    change.total_before_eur_minor, change.total_eur_minor = line.total_eur_minor, 0
    revise(
        plan,
        "amend_cancel_line",
        actor=actor,
        comment=f"{title}{': ' + reason if reason else ''}",
    )
    return plan


def keep_line(line_id: int, *, expected_version: int | None = None, actor: Actor) -> Plan:
    """Undo what the open amendment proposes for a line in effect: it stays as approved."""
    _require_role(actor, BUILDER_ROLES)
    line = _locked_line(line_id, actor, expected_version)
    plan = line.plan
    _amendable(plan)
    amendment = plan.open_amendment
    change = _change_of(amendment, line) if amendment is not None else None
    if amendment is None or change is None:
        raise Conflict(_l("Nothing is proposed for this line."))
    _draft(plan, actor)
    amendment.changes.remove(change)
    revise(plan, "amend_keep_line", actor=actor, comment=option_title(line.option))
    return plan


def _drop_proposed(plan: Plan, line: PlanLine, actor: Actor) -> None:
    """A proposed line leaves the plan; a place it held goes back (to the waitlist)."""
    if line.hold is not None and line.hold.status in OPEN_HOLD_STATUSES:
        release_hold(line.hold, actor=actor, office_id=line.option.partner.office_id)
    plan.lines.remove(line)


# --- the amendment's way through review ------------------------------------------------------


def open_amendment(
    plan_id: int, *, reason: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """Open the next numbered amendment of an approved plan, saying why. Conflict when one is
    open already (its number is in the message) or the plan cannot be amended."""
    _require_role(actor, BUILDER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    _amendable(plan)
    reason = clean_text(reason, "reason", REASON_MAX)
    if plan.open_amendment is not None:
        raise Conflict(
            _l("Amendment %(number)d is open already.", number=plan.open_amendment.number)
        )
    return _open(plan, actor, reason=reason)


def submit_amendment(
    plan_id: int, *, justification: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """Send the amendment to the origin case manager: each proposed line holds a place (or
    joins the waitlist). Over the cap, a justification of ``MIN_JUSTIFICATION`` characters is
    needed. Whether the programme manager must approve it too is decided here (and again on
    confirmation)."""
    _require_role(actor, BUILDER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    _amendable(plan)
    amendment = _open_amendment(plan, {AmendmentStatus.DRAFT, AmendmentStatus.RETURNED})
    proposed = proposed_lines(plan, amendment)
    if not proposed and not amendment.changes:
        raise Conflict(
            _l("The amendment changes nothing yet: add, change, replace or cancel a line first.")
        )
    case = plan.returnee
    services.check_origin_can_review(case)
    after = proposed_total(plan, amendment)
    over_cap = after > plan.cap_eur_minor
    justification = services.check_justification(over_cap, justification)
    services.hold_places(proposed, actor=actor)
    amendment.justification = justification if over_cap else ""
    amendment.needs_approval = needs_approval(plan, amendment)
    amendment.total_before_eur_minor, amendment.total_after_eur_minor = approved_total(plan), after
    amendment.status, amendment.submitted_at = AmendmentStatus.SUBMITTED, now_utc()
    amendment.feasible_at = amendment.feasible_by_id = None
    revision = revise(plan, "amend_submit", actor=actor, comment=amendment.justification)
    notify(
        message_key("plan:{}:v{}:amendment-submitted", plan.id, revision.version),
        case.case_manager,
        _l(
            "Amendment %(amendment)d of plan %(number)s to review",
            amendment=amendment.number,
            number=case.case_number,
        ),
        "plan_amendment_submitted.txt",
        case=case,
        plan=plan,
        amendment=amendment,
    )
    return amendment


def return_amendment(
    plan_id: int, *, comment: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """The origin case manager (or the programme manager) sends the amendment back with
    comments; held places stay while the counsellor revises it or withdraws it."""
    _require_role(actor, REVIEWER_ROLES | APPROVER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    amendment = _open_amendment(plan, {AmendmentStatus.SUBMITTED, AmendmentStatus.FEASIBLE})
    comment = clean_text(comment, "comment", COMMENT_MAX)
    if not comment:
        message = _l("Say what needs to change.")
        raise InvalidInput(message, field_errors={"comment": [message]})
    amendment.status, amendment.review_comment = AmendmentStatus.RETURNED, comment
    amendment.feasible_at = amendment.feasible_by_id = None
    case = plan.returnee
    revision = revise(plan, "amend_return", actor=actor, comment=comment)
    notify(
        message_key("plan:{}:v{}:amendment-returned", plan.id, revision.version),
        case.counsellor,
        _l(
            "Amendment %(amendment)d of plan %(number)s returned with comments",
            amendment=amendment.number,
            number=case.case_number,
        ),
        "plan_amendment_returned.txt",
        case=case,
        plan=plan,
        amendment=amendment,
    )
    return amendment


def confirm_amendment(
    plan_id: int, *, comment: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """The origin case manager agrees: an amendment within the approved total and the cap is
    in effect at once; one that raises it or goes over the cap waits for the programme
    manager. The first case manager to confirm is assigned to the case if none is."""
    _require_role(actor, REVIEWER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    _amendable(plan)
    amendment = _open_amendment(plan, {AmendmentStatus.SUBMITTED})
    comment = clean_text(comment, "comment", COMMENT_MAX)
    case = plan.returnee
    if actor.role == Role.CASE_MANAGER and case.case_manager_id is None:
        case.case_manager_id = actor.id
        record_audit("case.assign", case, actor=actor)
    amendment.feasible_at, amendment.feasible_by_id = now_utc(), actor.id
    amendment.needs_approval = needs_approval(plan, amendment)
    if amendment.needs_approval:
        amendment.status = AmendmentStatus.FEASIBLE
        revise(plan, "amend_confirm", actor=actor, comment=comment)
        return amendment
    _put_into_effect(plan, amendment, actor, "amend_confirm_apply", comment)
    return amendment


def approve_amendment(
    plan_id: int, *, comment: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """The programme manager approves an amendment that raises the approved total or goes
    over the cap; it is in effect at once and its total becomes the approved total."""
    _require_role(actor, APPROVER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    _amendable(plan)
    amendment = _open_amendment(plan, {AmendmentStatus.FEASIBLE})
    comment = clean_text(comment, "comment", COMMENT_MAX)
    _put_into_effect(plan, amendment, actor, "amend_approve", comment)
    plan.approved_total_eur_minor = plan.total_eur_minor
    return amendment


def withdraw_amendment(
    plan_id: int, *, comment: str = "", expected_version: int | None = None, actor: Actor
) -> PlanAmendment:
    """The counsellor drops the open amendment: its proposed lines leave the plan (their held
    places go back) and nothing of it takes effect."""
    _require_role(actor, BUILDER_ROLES)
    plan = lock_plan(plan_id, actor=actor, expected_version=expected_version)
    amendment = _open_amendment(plan, OPEN_AMENDMENT_STATUSES)
    comment = clean_text(comment, "comment", COMMENT_MAX)
    for line in proposed_lines(plan, amendment):
        _drop_proposed(plan, line, actor)
    amendment.status, amendment.decided_at = AmendmentStatus.WITHDRAWN, now_utc()
    amendment.decided_by_id = actor.id
    revise(plan, "amend_withdraw", actor=actor, comment=comment, amendment=amendment)
    return amendment


#: The review steps by name, for the pages and the API.
AMENDMENT_STEPS = {
    "return": return_amendment,
    "confirm": confirm_amendment,
    "approve": approve_amendment,
    "withdraw": withdraw_amendment,
}


def _put_into_effect(
    plan: Plan, amendment: PlanAmendment, actor: Actor, action: str, comment: str
) -> None:
    """Apply the amendment in one transaction: cancellations, changes, new lines referred,
    delivery milestones scheduled; the counsellor is told."""
    proposed = proposed_lines(plan, amendment)
    waiting = services.waiting_for_a_place(proposed)
    if waiting is not None:
        raise Conflict(
            _l(
                "%(title)s has no place held yet: return the amendment or wait for a place.",
                title=option_title(waiting.option),
            )
        )
    case = plan.returnee
    manager = services.origin_case_manager(case)
    delivered = services.delivered_eur_by_line([change.line_id for change in amendment.changes])
    for change in amendment.changes:
        line = change.line
        if line.status != LineStatus.ACTIVE:
            continue  # declined or expired since it was proposed
        _check_delivered(line, change.quantity, delivered.get(line.id, 0))
        if change.kind == LineChangeKind.CANCEL:
            _cancel(line, actor)
        else:
            _apply_change(line, change, delivered.get(line.id, 0), actor)
    for line in proposed:
        line.status = LineStatus.ACTIVE
        services.refer_line(line, case, manager, actor=actor)
    amendment.status = AmendmentStatus.APPROVED
    amendment.decided_at, amendment.decided_by_id = now_utc(), actor.id
    amendment.total_after_eur_minor = proposed_total(plan, amendment)
    revision = revise(plan, action, actor=actor, comment=comment, amendment=amendment)
    schedule_plan(plan, actor=actor)
    notify(
        message_key("plan:{}:v{}:amendment-in-effect", plan.id, revision.version),
        case.counsellor,
        _l(
            "Amendment %(amendment)d of plan %(number)s is in effect",
            amendment=amendment.number,
            number=case.case_number,
        ),
        "plan_amendment_in_effect.txt",
        case=case,
        plan=plan,
        amendment=amendment,
    )


def _apply_change(line: PlanLine, change: LineChange, delivered: int, actor: Actor) -> None:
    assert change.quantity is not None
    line.quantity = change.quantity
    if change.notes is not None:
        line.notes = change.notes
    services.price(line)
    referral = line.referral
    if referral is not None and referral.status in ACTIVE_STATUSES:
        change_referral(
            referral.id, quantity=line.quantity, note_for_partner=line.notes, actor=actor
        )
    if delivered and delivered >= line.total_eur_minor:  # reduced to what was delivered
        last = last_instalment(line.id)
        assert last is not None  # something was delivered
        line_delivered(last, actor=actor)
        complete_milestones(
            line.plan.returnee_id,
            MilestoneKind.LINE_DELIVERED,
            plan_line_id=line.id,
            actor=actor,
        )


def _cancel(line: PlanLine, actor: Actor) -> None:
    """Take a line in effect out: its referral is withdrawn (the partner is told) or its
    place released, which gives the place to the waitlist."""
    referral = line.referral
    if referral is not None and referral.status in ACTIVE_STATUSES:
        withdraw_referral(referral.id, actor=actor)
    elif line.hold is not None and line.hold.status in OPEN_HOLD_STATUSES:
        release_hold(line.hold, actor=actor, office_id=line.option.partner.office_id)
    _close_lines([line], LineStatus.CANCELLED)


def _close_lines(lines: Sequence[PlanLine], status: LineStatus) -> None:
    """The lines no longer count; their open delivery milestones are cancelled."""
    now = now_utc()
    for line in lines:
        line.status, line.closed_at = status, now
    db.session.execute(
        sa.update(Milestone)
        .where(
            Milestone.plan_line_id.in_([line.id for line in lines]),
            Milestone.status.in_(OPEN_STATUSES),
        )
        .values(status=MilestoneStatus.CANCELLED)
        .execution_options(synchronize_session="fetch")
    )


# --- what the marketplace and the follow-up tell a plan --------------------------------------


def _locked_plans(plan_ids: Iterable[int]) -> list[Plan]:
    """The plans, locked in id order (so that two such changes never wait on each other in a
    circle), read afresh with what a revision and an e-mail need."""
    db.session.flush()  # nothing pending is overwritten by the fresh read
    return list(
        db.session.scalars(
            sa.select(Plan)
            .where(Plan.id.in_(sorted(set(plan_ids))))
            .order_by(Plan.id)
            .with_for_update(of=Plan)
            .options(
                selectinload(Plan.lines).options(
                    selectinload(PlanLine.option).selectinload(SupportOption.texts),
                    selectinload(PlanLine.referral),
                ),
                selectinload(Plan.amendments).selectinload(PlanAmendment.changes),
                selectinload(Plan.returnee).selectinload(Returnee.counsellor),
            )
            .execution_options(populate_existing=True)
        )
    )


def close_lines_of_referrals(
    referral_ids: Sequence[int], status: ReferralStatus, *, actor: Actor
) -> int:
    """The referrals were declined or expired: their lines no longer count in their plans'
    totals (nor against the cap), their open delivery milestones are cancelled, what an open
    amendment proposed for them is dropped, and each counsellor is told to replace them. The
    number of lines closed. (Their places went back to capacity with the referrals.)"""
    line_status = CLOSED_BY_REFERRAL[status]
    plan_ids = db.session.scalars(
        sa.select(PlanLine.plan_id).where(
            PlanLine.referral_id.in_(list(referral_ids)), PlanLine.status == LineStatus.ACTIVE
        )
    ).all()
    if not plan_ids:
        return 0
    closed: dict[int, list[PlanLine]] = defaultdict(list)
    wanted = set(referral_ids)
    plans = _locked_plans(plan_ids)
    for plan in plans:
        closed[plan.id] = [
            line
            for line in plan.lines
            if line.referral_id in wanted and line.status == LineStatus.ACTIVE
        ]
    _close_lines([line for lines in closed.values() for line in lines], line_status)
    for plan in plans:
        lines = closed[plan.id]
        if not lines:
            continue
        amendment = plan.open_amendment
        if amendment is not None:
            for change in [c for c in amendment.changes if c.line in lines]:
                amendment.changes.remove(change)
        revise(
            plan,
            f"line_{status.value}",
            actor=actor,
            comment="; ".join(option_title(line.option) for line in lines),
        )
        case = plan.returnee
        for line in lines:
            notify(
                message_key("plan-line:{}:" + status.value, line.id),
                case.counsellor,
                _l("Plan %(number)s: a line to replace", number=case.case_number),
                "plan_line_closed.txt",
                case=case,
                line=line,
                referral=line.referral,
                service=option_title(line.option),
                partner_name=line.option.partner.name,
                reason=DECLINE_REASON_LABELS.get(line.referral.decline_reason)
                if line.referral is not None and line.referral.decline_reason
                else "",
            )
    return sum(len(lines) for lines in closed.values())


def record_promotions(hold_ids: Sequence[int], *, actor: Actor) -> int:
    """Waitlisted holds took freed places: each plan whose line they are gets a revision and
    its counsellor an e-mail (the plan page shows the place and when it came). The number of
    lines."""
    plan_ids = db.session.scalars(
        sa.select(PlanLine.plan_id).where(PlanLine.hold_id.in_(list(hold_ids)))
    ).all()
    if not plan_ids:
        return 0
    wanted, count = set(hold_ids), 0
    for plan in _locked_plans(plan_ids):
        lines = [line for line in plan.lines if line.hold_id in wanted]
        count += len(lines)
        revise(
            plan,
            "place_promoted",
            actor=actor,
            comment="; ".join(option_title(line.option) for line in lines),
        )
        case = plan.returnee
        for line in lines:
            notify(
                message_key("plan-line:{}:hold:{}:promoted", line.id, line.hold_id),
                case.counsellor,
                _l("Plan %(number)s: a place is free now", number=case.case_number),
                "plan_place_promoted.txt",
                case=case,
                service=option_title(line.option),
                partner_name=line.option.partner.name,
            )
    return count


def on_revision_needed(visit: MonitoringVisit, *, actor: Actor) -> PlanAmendment | None:
    """A monitoring visit found the plan needs a revision: an approved plan gets a draft
    amendment naming the visit (or its open one is linked to it), and the counsellor is told
    either way. The caller (``followups.visits.record_visit``) checked role and scope.
    None when the case has no plan to revise."""
    plan_id = db.session.scalar(sa.select(Plan.id).where(Plan.returnee_id == visit.returnee_id))
    if plan_id is None:
        return None
    plan = db.session.get(Plan, plan_id, with_for_update=True, populate_existing=True)
    assert plan is not None
    case = plan.returnee
    if case.status == CaseStatus.CLOSED:
        return None
    amendment = plan.open_amendment
    if plan.status == PlanStatus.APPROVED:
        if amendment is None:
            amendment = _open(plan, actor, visit=visit)
        elif amendment.visit_id is None:
            amendment.visit_id = visit.id
    notify(
        message_key("plan:{}:visit:{}:revision-needed", plan.id, visit.id),
        case.counsellor,
        _l("Plan %(number)s needs a revision", number=case.case_number),
        "plan_revision_needed.txt",
        case=case,
        plan=plan,
        amendment=amendment,
        visit=visit,
    )
    return amendment


@events.referrals_closed.connect
def _referrals_closed(_sender: Any, **kwargs: Any) -> None:
    close_lines_of_referrals(kwargs["referral_ids"], kwargs["status"], actor=kwargs["actor"])


@events.places_promoted.connect
def _places_promoted(_sender: Any, **kwargs: Any) -> None:
    record_promotions(kwargs["hold_ids"], actor=kwargs["actor"])
