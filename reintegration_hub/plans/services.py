"""Rules for reintegration plans: building within the cap, review, approval and referrals.

The path: the host-office counsellor drafts the plan from marketplace options (each checked
against the returnee's eligibility and priced in euros at the rate recorded for the day), and
submits it, which holds a place on every option. The origin case manager confirms it is
feasible or returns it with comments; the programme manager approves it. Approval refers every
line to its partner (``partners.referrals.send_referral``). Going over the family's cap needs a
written justification, which the programme manager sees when approving.

Every change writes a ``PlanRevision`` (a new version) and an audit row. Changes after approval
go through numbered amendments (``plans.amendments``), which build on the helpers here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from partners.access import get_option
from partners.capacity import hold_place, release_hold
from partners.eligibility import ReturneeProfile, evaluate
from partners.models import HoldStatus, PlaceHold, Referral, SupportOption
from partners.referrals import ReferralRequest, send_referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.cases.services import advance_case, get_case
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.labels import VULNERABILITY_LABELS
from reintegration_hub.core.money import eur_per_unit, to_eur_minor
from reintegration_hub.core.outbox import (
    MessageKey,
    app_path,
    message_key,
    public_url,
    queue_message,
)
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.deliveries.services import LineProgress, line_progress
from reintegration_hub.extensions import db
from reintegration_hub.followups.scheduling import schedule_plan
from reintegration_hub.plans.models import (
    EDITABLE_STATUSES,
    AmendmentStatus,
    Plan,
    PlanAmendment,
    PlanLine,
    PlanRevision,
    PlanStatus,
)
from reintegration_hub.programmes import caps
from reintegration_hub.programmes.models import BudgetCapRule
from reintegration_hub.programmes.places import approvable_plans, check_plan_approval

#: Who builds and submits plans; who reviews them; who approves them.
BUILDER_ROLES = frozenset({Role.COUNSELLOR, Role.ADMIN})
REVIEWER_ROLES = frozenset({Role.CASE_MANAGER, Role.ADMIN})
APPROVER_ROLES = frozenset({Role.PROGRAMME_MANAGER, Role.ADMIN})
#: Case states in which a plan may be started.
PLANNABLE_CASE_STATES = frozenset(
    {CaseStatus.REGISTERED, CaseStatus.ASSESSED, CaseStatus.PLAN_DRAFT}
)
MIN_JUSTIFICATION = 20
MAX_QUANTITY = 999
NOTES_MAX = 1000


@dataclass(frozen=True)
class Cap:
    """The budget cap of a family under a rule."""

    rule: BudgetCapRule
    adults: int
    dependants: int

    @property
    def amount_minor(self) -> int:
        return self.rule.cap_minor(self.adults, self.dependants)


def _require_role(actor: Actor, allowed: frozenset[Role]) -> None:
    if actor.role not in allowed:
        raise PermissionDenied(_l("Your role cannot do this."))


def clean_text(value: str | None, field: str, limit: int) -> str:
    """``value`` stripped, refused (at ``field``) when longer than ``limit`` or when it holds
    what a database cannot store: NUL and other control characters, unpaired surrogates."""
    text = (value or "").strip()
    if len(text) > limit:
        message = _l("At most %(limit)d characters.", limit=limit)
        raise InvalidInput(message, field_errors={field: [message]})
    if any(
        (ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF or c == "\x7f"
        for c in text
    ):
        message = _l("Remove the control characters from this text.")
        raise InvalidInput(message, field_errors={field: [message]})
    return text


def _age_on(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- cap and eligibility ---------------------------------------------------------------------


def cap_rule_for(case: Returnee) -> BudgetCapRule:
    """The programme's rule for the case's grant and country of return (``programmes.caps``)."""
    rule = caps.cap_rule_for(case.grant_id, case.return_country_code)
    if rule is None:
        raise Conflict(_l("No budget cap rule is set up: an administrator must add one."))
    return rule


def family_cap(case: Returnee, on: dt.date | None = None) -> Cap:
    """The cap for the returnee and accompanying dependants: adults (the returnee, and
    dependants of the rule's adult age) at the adult amount, the other dependants at the
    dependant amount."""
    on = on or now_utc().date()
    rule = cap_rule_for(case)
    accompanying = [d for d in case.dependants if d.accompanying]
    adult_dependants = sum(
        1 for d in accompanying if _age_on(d.date_of_birth, on) >= rule.adult_age
    )
    return Cap(rule, 1 + adult_dependants, len(accompanying) - adult_dependants)


def returnee_profile(case: Returnee, on: dt.date | None = None) -> ReturneeProfile:
    """What the marketplace's eligibility rules need to know about the returnee."""
    on = on or now_utc().date()
    return ReturneeProfile.of(
        age=_age_on(case.date_of_birth, on),
        sex=case.sex.value,
        vulnerabilities=[v.category.value for v in case.vulnerabilities],
        family_size=1 + sum(1 for d in case.dependants if d.accompanying),
        languages=case.languages,
    )


# --- reads -----------------------------------------------------------------------------------


def get_plan(plan_id: int, *, actor: Actor) -> Plan:
    plan: Plan = get_scoped(Plan, plan_id, actor)
    return plan


def plan_for_case(case_id: int, *, actor: Actor) -> Plan | None:
    """The case's plan with everything its page shows, in a fixed number of statements
    whatever the number of lines; ``None`` when no plan was started. NotFound out of scope."""
    case = get_case(case_id, actor=actor)
    return db.session.scalars(
        sa.select(Plan)
        .where(Plan.returnee_id == case.id)
        .options(
            # the case is not kept by the caller: its row again, not a statement of its own
            joinedload(Plan.returnee),
            selectinload(Plan.lines).options(
                joinedload(PlanLine.option).options(
                    selectinload(SupportOption.texts), selectinload(SupportOption.locations)
                ),
                joinedload(PlanLine.hold),
                joinedload(PlanLine.referral),
            ),
            selectinload(Plan.amendments).options(
                selectinload(PlanAmendment.changes), joinedload(PlanAmendment.visit)
            ),
        )
    ).one_or_none()


def view_plan(case_id: int, *, actor: Actor) -> Plan | None:
    """The plan page's and the API's read: ``plan_for_case``, audited (``plan.view``, one row per
    read, on the plan, or on the case while it has none) as the case page's read is."""
    plan = plan_for_case(case_id, actor=actor)
    if plan is not None:
        record_audit("plan.view", plan, actor=actor, changes={})
    else:
        record_audit("plan.view", get_case(case_id, actor=actor), actor=actor, changes={})
    return plan


def lock_plan(plan_id: int, *, actor: Actor, expected_version: int | None = None) -> Plan:
    """The plan ``actor`` may see, read afresh and locked until the commit (PostgreSQL), so that
    two changes of one plan run one after the other. With ``expected_version`` (the version the
    user saw), Conflict when the plan has changed since: two people editing at once never
    overwrite each other unknowingly."""
    get_plan(plan_id, actor=actor)
    plan = db.session.get(Plan, plan_id, with_for_update=True, populate_existing=True)
    assert plan is not None
    if expected_version is not None and expected_version != plan.version:
        last = db.session.scalars(
            sa.select(PlanRevision)
            .where(PlanRevision.plan_id == plan.id)
            .order_by(PlanRevision.id.desc())
            .limit(1)
        ).first()
        raise Conflict(
            _l(
                "The plan changed while you had it open (now version %(now)d, by %(who)s): "
                "reload it and try again.",
                now=plan.version,
                who=last.actor_label if last else "?",
            )
        )
    return plan


def revisions(plan: int | Plan, *, actor: Actor, limit: int = 50) -> Sequence[PlanRevision]:
    """The plan's latest revisions, newest first; a plan id is looked up in ``actor``'s scope,
    a ``Plan`` is one the caller has already read in it."""
    if not isinstance(plan, Plan):
        plan = get_plan(plan, actor=actor)
    return db.session.scalars(
        sa.select(PlanRevision)
        .options(joinedload(PlanRevision.actor))
        .where(PlanRevision.plan_id == plan.id)
        .order_by(PlanRevision.id.desc())
        .limit(limit)
    ).all()


def waitlist_positions(plan: Plan) -> dict[int, int]:
    """``{line id: position}`` for the plan's waitlisted lines, in one statement."""
    waiting = {
        line.hold_id: line.id
        for line in plan.lines
        if line.hold is not None and line.hold.status == HoldStatus.WAITLISTED
    }
    if not waiting:
        return {}
    ahead = sa.orm.aliased(PlaceHold)
    rows = db.session.execute(
        sa.select(PlaceHold.id, sa.func.count(ahead.id))
        .outerjoin(
            ahead,
            sa.and_(
                ahead.capacity_id == PlaceHold.capacity_id,
                ahead.status == HoldStatus.WAITLISTED,
                ahead.waitlist_number < PlaceHold.waitlist_number,
            ),
        )
        .where(PlaceHold.id.in_(list(waiting)))
        .group_by(PlaceHold.id)
    ).all()
    return {waiting[hold_id]: 1 + int(count) for hold_id, count in rows}


# --- revisions -------------------------------------------------------------------------------


def option_title(option: SupportOption) -> str:
    """How revisions and e-mails name an option (its English title)."""
    text = option.text("en")
    return text.title if text else f"#{option.id}"


def _snapshot(plan: Plan, amendment: PlanAmendment | None) -> dict[str, Any]:
    amendment = amendment or plan.open_amendment
    return {
        "status": plan.status.value,
        "cap_eur_minor": plan.cap_eur_minor,
        "total_eur_minor": plan.total_eur_minor,
        **(
            {"amendment": amendment.number, "amendment_status": amendment.status.value}
            if amendment is not None
            else {}
        ),
        "lines": [
            {
                "line_id": line.id,
                "option_id": line.option_id,
                "title": option_title(line.option),
                "status": line.status.value,
                "quantity": line.quantity,
                "unit_cost_minor": line.unit_cost_minor,
                "currency": line.currency,
                "eur_rate": str(line.eur_rate),
                "total_eur_minor": line.total_eur_minor,
                **({"replaces": line.replaces_id} if line.replaces_id else {}),
            }
            for line in plan.lines
        ],
    }


def revise(
    plan: Plan,
    action: str,
    *,
    actor: Actor,
    comment: str = "",
    amendment: PlanAmendment | None = None,
) -> PlanRevision:
    """Record a change as the plan's next version (and in the audit trail); the plan's total
    is the sum of its lines in effect. The snapshot names ``amendment`` (by default the open
    one) when there is one."""
    db.session.flush()  # line ids for the snapshot
    plan.total_eur_minor = sum(line.total_eur_minor for line in plan.lines_in_effect)
    plan.version += 1
    revision = PlanRevision(
        plan_id=plan.id,
        version=plan.version,
        action=action,
        comment=comment,
        actor_id=actor.id,
        actor_label=actor.audit_label,
        snapshot=_snapshot(plan, amendment),
    )
    db.session.add(revision)
    record_audit(f"plan.{action}", plan, actor=actor)
    db.session.flush()
    return revision


# --- building --------------------------------------------------------------------------------


def start_plan(case_id: int, *, actor: Actor) -> Plan:
    """Start the case's plan (or return the one started) with the family's cap."""
    _require_role(actor, BUILDER_ROLES)
    case = get_case(case_id, actor=actor)
    existing = db.session.scalars(sa.select(Plan).where(Plan.returnee_id == case.id)).first()
    if existing is not None:
        return existing
    if case.status not in PLANNABLE_CASE_STATES:
        raise Conflict(_l("A plan can only be started for a registered or assessed case."))
    cap = family_cap(case)
    plan = Plan(
        returnee=case,
        status=PlanStatus.DRAFT,
        version=0,
        cap_eur_minor=cap.amount_minor,
        cap_rule_id=cap.rule.id,
        total_eur_minor=0,
    )
    db.session.add(plan)
    advance_case(case, CaseStatus.ASSESSED, actor=actor)
    advance_case(case, CaseStatus.PLAN_DRAFT, actor=actor)
    revise(plan, "create", actor=actor)
    return plan


def _editable_plan(plan_id: int, actor: Actor) -> Plan:
    _require_role(actor, BUILDER_ROLES)
    plan = get_plan(plan_id, actor=actor)
    if plan.status not in EDITABLE_STATUSES:
        raise Conflict(_l("This plan is under review or approved: it cannot be changed now."))
    return plan


def check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        message = _l("Give a quantity from 1 to %(max)d.", max=MAX_QUANTITY)
        raise InvalidInput(message, field_errors={"quantity": [message]})


def line_total(line: PlanLine, quantity: int) -> int:
    """What ``quantity`` of the line costs in euro cents, at the price it was chosen at."""
    return to_eur_minor(line.unit_cost_minor * quantity, line.currency, line.eur_rate)


def price(line: PlanLine) -> None:
    line.total_eur_minor = line_total(line, line.quantity)


def add_line(
    plan_id: int, option_id: int, *, quantity: int = 1, notes: str = "", actor: Actor
) -> PlanLine:
    """Add a listed option that fits the returnee, priced at today's recorded rate.

    Raises InvalidInput with the reasons when the option does not fit the returnee.
    """
    plan = _editable_plan(plan_id, actor)
    line = new_line(plan, option_id, quantity=quantity, notes=notes, actor=actor)
    plan.lines.append(line)
    revise(plan, "add_line", actor=actor, comment=option_title(line.option))
    return line


def new_line(plan: Plan, option_id: int, *, quantity: int, notes: str, actor: Actor) -> PlanLine:
    """A line of ``option_id`` for the plan, priced at today's recorded rate (not yet added).

    InvalidInput with the reasons when the option does not fit the returnee or the input is
    out of bounds; Conflict when the option is not offered in the country of return or is in
    the plan already (a declined, expired or cancelled line of it may be referred again).
    """
    check_quantity(quantity)
    notes = clean_text(notes, "notes", NOTES_MAX)
    option = get_option(option_id, actor=actor)
    case = plan.returnee
    if option.country_code != case.return_country_code:
        raise Conflict(_l("This option is not offered in the country of return."))
    if any(line.option_id == option.id and not line.closed for line in plan.lines):
        raise Conflict(_l("This option is in the plan already: change its quantity instead."))
    reasons = evaluate(option, returnee_profile(case))
    if reasons:
        message = _l(
            "This option does not fit the returnee: %(reasons)s",
            reasons="; ".join(str(r) for r in reasons),
        )
        raise InvalidInput(message, field_errors={"option_id": [message]})
    today = now_utc().date()
    line = PlanLine(
        option=option,
        quantity=quantity,
        notes=notes,
        unit_cost_minor=option.cost_minor,
        currency=option.currency,
        eur_rate=eur_per_unit(option.currency, today),
        rate_on=today,
    )
    price(line)
    return line


def _editable_line(line_id: int, actor: Actor) -> PlanLine:
    line = db.session.get(PlanLine, line_id)
    if line is None:
        raise NotFound(_l("Not found."))
    _editable_plan(line.plan_id, actor)
    return line


def update_line(line_id: int, *, quantity: int, notes: str, actor: Actor) -> PlanLine:
    line = _editable_line(line_id, actor)
    check_quantity(quantity)
    line.quantity, line.notes = quantity, clean_text(notes, "notes", NOTES_MAX)
    price(line)
    revise(line.plan, "change_line", actor=actor, comment=option_title(line.option))
    return line


def remove_line(line_id: int, *, actor: Actor) -> Plan:
    """Take a line out of the plan, giving its held place back."""
    line = _editable_line(line_id, actor)
    plan = line.plan
    if line.hold is not None and line.hold.status in {HoldStatus.HELD, HoldStatus.WAITLISTED}:
        # the option may have left the listing since: the plan's scope decides, not the option's
        release_hold(line.hold, actor=actor, office_id=line.option.partner.office_id)
    title = option_title(line.option)
    plan.lines.remove(line)
    revise(plan, "remove_line", actor=actor, comment=title)
    return plan


# --- review and approval ---------------------------------------------------------------------


def plan_link(case_id: int) -> str:
    """The absolute address of a case's plan page, built without a request (flows send these
    e-mails too): ``PUBLIC_BASE_URL`` followed by the page's path."""
    return public_url("plans.plan", case_id=case_id)


def notify(key: MessageKey, user: User | None, subject: Any, template: str, **context: Any) -> None:
    """Queue an e-mail to ``user`` if active, and their in-app notice; a ``case`` in the
    context gives the template the plan page's address as ``link``, and the notice the page."""
    if user is not None and user.is_active:
        app_link = ""
        if "case" in context:
            context.setdefault("link", plan_link(context["case"].id))
            app_link = app_path("plans.plan", case_id=context["case"].id)
        queue_message(
            key,
            user.email,
            subject,
            template,
            language=user.preferred_language,
            user_id=user.id,
            app_link=app_link,
            **context,
        )


def submit_plan(plan_id: int, *, justification: str = "", actor: Actor) -> Plan:
    """Send the plan to the origin office: holds a place on each option (or joins its
    waitlist) and asks the case manager to confirm feasibility.

    Over the cap, a written justification of at least ``MIN_JUSTIFICATION`` characters is
    required. Needs an origin office on the case and at least one line.
    """
    plan = _editable_plan(plan_id, actor)
    case = plan.returnee
    if not plan.lines:
        raise Conflict(_l("Add at least one support option before submitting."))
    check_origin_can_review(case)
    justification = check_justification(plan.over_cap, justification)
    plan.over_cap_justification = justification if plan.over_cap else ""
    hold_places(plan.lines, actor=actor)
    plan.status, plan.submitted_at = PlanStatus.SUBMITTED, now_utc()
    advance_case(case, CaseStatus.PLAN_SUBMITTED, actor=actor)
    revision = revise(plan, "submit", actor=actor, comment=plan.over_cap_justification)
    notify(
        message_key("plan:{}:v{}:submitted", plan.id, revision.version),
        case.case_manager,
        _l("Plan %(number)s to review", number=case.case_number),
        "plan_submitted.txt",
        case=case,
        plan=plan,
    )
    return plan


def check_origin_can_review(case: Returnee) -> None:
    """Conflict unless the origin office may see the case: set on it, and the consent shares."""
    if case.origin_office_id is None:
        raise Conflict(_l("Set the origin office on the case before submitting the plan."))
    if not case.shares_with_origin:
        raise Conflict(
            _l("The returnee's consent does not let the origin office see the case yet.")
        )


def check_justification(over_cap: bool, justification: str) -> str:
    """The justification, cleaned; over the cap it must have ``MIN_JUSTIFICATION`` characters."""
    justification = clean_text(justification, "justification", 5000)
    if over_cap and len(justification) < MIN_JUSTIFICATION:
        message = _l(
            "The plan is over the cap: explain why in at least %(num)d characters.",
            num=MIN_JUSTIFICATION,
        )
        raise InvalidInput(message, field_errors={"justification": [message]})
    return justification


def hold_places(lines: Sequence[PlanLine], *, actor: Actor) -> None:
    """Hold a place on each line's option (or join its waitlist) unless it holds one."""
    for line in lines:
        if line.hold is None or line.hold.status not in {HoldStatus.HELD, HoldStatus.WAITLISTED}:
            result = hold_place(line.option_id, line.reference, actor=actor)
            line.hold = db.session.get(PlaceHold, result.hold_id)


def waiting_for_a_place(lines: Sequence[PlanLine]) -> PlanLine | None:
    """The first of ``lines`` that holds no place (waitlisted, or never held)."""
    return next(
        (line for line in lines if line.hold is None or line.hold.status != HoldStatus.HELD), None
    )


def origin_case_manager(case: Returnee) -> User:
    """Who follows the referrals in the country of return; Conflict when nobody does."""
    manager = case.case_manager
    if manager is None or case.origin_office_id is None:
        raise Conflict(_l("The case has no origin case manager to follow the referrals."))
    return manager


def refer_line(line: PlanLine, case: Returnee, manager: User, *, actor: Actor) -> Referral:
    """Put the line into effect: refer it to its partner (the case manager as contact)."""
    assert case.origin_office_id is not None
    today = now_utc().date()
    referral = send_referral(
        ReferralRequest(
            option_id=line.option_id,
            reference=line.reference,
            hold_id=line.hold_id,
            office_id=case.origin_office_id,
            case_number=case.case_number,
            first_name=case.first_name,
            quantity=line.quantity,
            starts_on=today + dt.timedelta(days=line.option.lead_time_days),
            note_for_partner=line.notes,
            vulnerability_note=_vulnerability_note(case),
            contact_name=manager.full_name,
            contact_email=manager.email,
            contact_phone="",
            shared_with_office=case.shares_with_origin,
            shared_with_partner=bool(case.consent and case.consent.share_with_partners),
        ),
        actor=actor,
    )
    line.referral_id, line.effective_on = referral.id, today
    return referral


def _reviewed_plan(plan_id: int, actor: Actor, allowed: frozenset[PlanStatus]) -> Plan:
    plan = get_plan(plan_id, actor=actor)
    if plan.status not in allowed:
        raise Conflict(_l("The plan is not waiting for this step."))
    return plan


def return_plan(plan_id: int, *, comment: str = "", actor: Actor) -> Plan:
    """Send the plan back to the counsellor with comments (holds stay while it is revised)."""
    if actor.role not in REVIEWER_ROLES | APPROVER_ROLES:
        raise PermissionDenied(_l("Your role cannot do this."))
    plan = _reviewed_plan(plan_id, actor, frozenset({PlanStatus.SUBMITTED, PlanStatus.FEASIBLE}))
    comment = clean_text(comment, "comment", 5000)
    if not comment:
        message = _l("Say what needs to change.")
        raise InvalidInput(message, field_errors={"comment": [message]})
    plan.status, plan.review_comment = PlanStatus.RETURNED, comment
    plan.feasible_at = plan.feasible_by_id = None
    case = plan.returnee
    advance_case(case, CaseStatus.PLAN_DRAFT, actor=actor)
    revision = revise(plan, "return", actor=actor, comment=comment)
    notify(
        message_key("plan:{}:v{}:returned", plan.id, revision.version),
        case.counsellor,
        _l("Plan %(number)s returned with comments", number=case.case_number),
        "plan_returned.txt",
        case=case,
        plan=plan,
    )
    return plan


def confirm_feasibility(plan_id: int, *, comment: str = "", actor: Actor) -> Plan:
    """The origin case manager confirms the options can be delivered where the returnee goes;
    the first to confirm becomes the case's case manager if none is assigned."""
    _require_role(actor, REVIEWER_ROLES)
    plan = _reviewed_plan(plan_id, actor, frozenset({PlanStatus.SUBMITTED}))
    case = plan.returnee
    if actor.role == Role.CASE_MANAGER and case.case_manager_id is None:
        case.case_manager_id = actor.id
        record_audit("case.assign", case, actor=actor)
    plan.status, plan.feasible_at, plan.feasible_by_id = PlanStatus.FEASIBLE, now_utc(), actor.id
    revise(plan, "confirm", actor=actor, comment=clean_text(comment, "comment", 5000))
    return plan


def _vulnerability_note(case: Returnee) -> str:
    """What the partner may know of the returnee's vulnerability: only with consent."""
    consent = case.consent
    if consent is None or not consent.share_with_partners:
        return ""
    return "; ".join(
        f"{VULNERABILITY_LABELS[v.category]}{': ' + v.notes if v.notes else ''}"
        for v in case.vulnerabilities
    )[:2000]


def approve_plan(plan_id: int, *, comment: str = "", actor: Actor) -> Plan:
    """The programme manager's approval: the one service that puts a plan into effect.

    Every line must hold a place (none waitlisted). In the same transaction each line is
    referred to its partner, the case moves to plan approved and the follow-up milestones
    are scheduled.
    """
    _require_role(actor, APPROVER_ROLES)
    plan = _reviewed_plan(plan_id, actor, frozenset({PlanStatus.FEASIBLE}))
    check_plan_approval(plan.returnee, actor=actor)  # the grant's approver and places
    waiting = waiting_for_a_place(plan.lines)
    if waiting is not None:
        raise Conflict(
            _l(
                "%(title)s has no place held yet: return the plan or wait for a place.",
                title=option_title(waiting.option),
            )
        )
    case = plan.returnee
    manager = origin_case_manager(case)
    plan.status, plan.approved_at, plan.approved_by_id = PlanStatus.APPROVED, now_utc(), actor.id
    advance_case(case, CaseStatus.PLAN_APPROVED, actor=actor)
    for line in plan.lines:
        refer_line(line, case, manager, actor=actor)
    revision = revise(plan, "approve", actor=actor, comment=clean_text(comment, "comment", 5000))
    plan.approved_total_eur_minor = plan.total_eur_minor
    schedule_plan(plan, actor=actor)
    notify(
        message_key("plan:{}:v{}:approved", plan.id, revision.version),
        case.counsellor,
        _l("Plan %(number)s approved", number=case.case_number),
        "plan_approved.txt",
        case=case,
        plan=plan,
    )
    return plan


#: The review steps by name, for the pages and the API.
REVIEW_STEPS = {"return": return_plan, "confirm": confirm_feasibility, "approve": approve_plan}
NO_PLAN = _l("No plan has been started for this case.")


def plan_list_statement(*, actor: Actor, status: PlanStatus | None = None) -> sa.Select[Any]:
    """The plans ``actor`` may see, newest first, with their case numbers."""
    stmt = scoped(sa.select(Plan), Plan, actor).options(joinedload(Plan.returnee))
    if status is not None:
        stmt = stmt.where(Plan.status == status)
    return stmt.order_by(Plan.id.desc())


def case_id_of_line(line_id: int, *, actor: Actor) -> int:
    """The case a plan line belongs to, if the actor sees it (NotFound otherwise)."""
    line = db.session.get(PlanLine, line_id)
    if line is None:
        raise NotFound(_l("Not found."))
    return get_plan(line.plan_id, actor=actor).returnee_id


def delivered_eur_by_line(line_ids: Sequence[int]) -> dict[int, int]:
    """Euro cents delivered so far per line (every instalment recorded for it); lines with
    nothing delivered are absent."""
    return {
        line_id: progress.delivered_eur_minor
        for line_id, progress in line_progress(line_ids).items()
        if progress.delivered_eur_minor
    }


def deliveries_by_line(plan: Plan) -> dict[int, LineProgress]:
    """What is delivered and due of each of the plan's lines, by line id."""
    return line_progress([line.id for line in plan.lines])


def review_queue_statement(actor: Actor) -> tuple[sa.Select[tuple[Plan]], tuple[Any, ...]]:
    """The plans waiting for ``actor``'s step, and the queue's order (oldest first):
    submitted ones for case managers, feasible ones for programme managers, both for
    administrators; approved plans whose amendment waits for the same step with them (ordered
    by the amendment's submission)."""
    waiting = (
        {
            Role.CASE_MANAGER: [PlanStatus.SUBMITTED],
            Role.PROGRAMME_MANAGER: [PlanStatus.FEASIBLE],
            Role.ADMIN: [PlanStatus.SUBMITTED, PlanStatus.FEASIBLE],
        }.get(actor.role)
        if actor.role
        else None
    )
    if waiting is None:
        raise PermissionDenied(_l("Your role cannot do this."))
    amendment = sa.select(PlanAmendment.submitted_at).where(
        PlanAmendment.plan_id == Plan.id,
        PlanAmendment.status.in_([AmendmentStatus(status.value) for status in waiting]),
    )
    stmt = scoped(
        sa.select(Plan).where(sa.or_(Plan.status.in_(waiting), amendment.exists())), Plan, actor
    )
    if actor.role == Role.PROGRAMME_MANAGER:  # the plans their office approves
        stmt = stmt.where(approvable_plans(actor))
    submitted_at = sa.func.coalesce(amendment.limit(1).scalar_subquery(), Plan.submitted_at)
    stmt = stmt.options(
        joinedload(Plan.returnee).joinedload(Returnee.host_office),
        selectinload(Plan.amendments),
    )
    return stmt, (submitted_at, Plan.id)


def review_queue(*, actor: Actor, page: int = 1, page_size: int = 25) -> Page[Plan]:
    """One page of the plans waiting for ``actor``'s step (``review_queue_statement``)."""
    stmt, order = review_queue_statement(actor)
    return paginate(stmt.order_by(*order), page=page, per_page=page_size)
