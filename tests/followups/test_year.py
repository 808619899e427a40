"""A simulated reintegration year of 200 cases, swept every day: every milestone escalated was
one its owner could have closed that day.

The world: two host offices (Riga, Vilnius) and two Georgian origin offices (Tbilisi, Batumi),
each with staff and a supervisor; partners with options. Each case is registered, its plan
(one or two lines) approved, and the returnee leaves within the first two months. Then every
day of the year (fixed dates, seeded randomness) the clock is set to that day, what the staff
and partners do that day happens through the services, and the sweep runs.

What happens to each case is drawn by the functions of ``SCENARIO``: arrivals on time, late or
never; first contacts on time, late or missing; referrals accepted and delivered, or declined
and marked not applicable (or left); visits on time, late, moved, skipped as not applicable,
or missed; surveys; consent to share with the origin office withdrawn; cases closed. And by
``STAFF_EVENTS``: a case manager leaves and the supervisor reassigns all their cases; cases
are transferred to another host office. And the exceptions of a plan's year: a declined
line replaced by the same partner again (a new referral, confirmed by the case manager), a
line paid in two instalments, a visit finding that the plan needs a revision, followed by an
amendment adding support that the programme manager approves (or by its withdrawal).

After each sweep every milestone it escalated is checked: its owner (the case's counsellor or
case manager) tries to close it through the action service (and the attempt is rolled back).
An escalation the owner could not act on counts against the engine; there must be none. The
counts are printed (``pytest -s``).
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from partners.models import DeclineReason, Partner, Referral, SupportOption
from partners.referrals import LINK_ACTOR, accept_referral, decline_referral
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import assignment
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseStatus, ClosureReason, Returnee
from reintegration_hub.core.errors import Conflict, DomainError
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.core.roles import Role
from reintegration_hub.deliveries.services import record_delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups import actions
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    NotApplicableReason,
    Responsible,
    VisitMode,
)
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.followups.visits import VisitInput, record_survey, record_visit
from reintegration_hub.plans import amendments
from reintegration_hub.plans import services as plans
from reintegration_hub.plans.models import Plan, PlanLine
from tests.cases.helpers import case_manager, counsellor, host_office, origin_office
from tests.clock import travel
from tests.deliveries.helpers import delivery_input, upload
from tests.factories import SupportOptionFactory, user_with_role
from tests.followups.helpers import answers
from tests.plans.helpers import single_mother

START = dt.date(2025, 1, 6)  # the first return; plans are approved the day before
CASES = 200
SEED = 14
#: The last day simulated: every window (a year and 30 days of grace) has closed.
LAST = START + dt.timedelta(days=60 + 365 + 30 + 5)


@dataclass
class Run:
    """One case in the simulation."""

    case_id: int
    plan_id: int
    returned_on: dt.date
    line_ids: list[int]
    #: the line that replaced a declined one, and the line added by an amendment, once made
    new_lines: dict[str, int] = field(default_factory=dict)

    def day(self, offset: int) -> dt.date:
        return self.returned_on + dt.timedelta(days=offset)


@dataclass
class Year:
    rng: random.Random
    admin: User
    approver: User
    supervisors: dict[int, User]  # office id -> its supervisor
    agenda: dict[dt.date, list[Callable[[], Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    done: Counter[str] = field(default_factory=Counter)

    def on(self, day: dt.date, action: Callable[[], Any], what: str) -> None:
        """``action`` happens on ``day`` (in its own transaction); a refusal is counted, as a
        user would read the message and do something else."""

        def attempt() -> None:
            try:
                action()
            except DomainError:
                db.session.rollback()
                self.done[f"refused: {what}"] += 1
            else:
                db.session.commit()
                self.done[what] += 1

        self.agenda[day].append(attempt)


def manager_of(case_id: int) -> User:
    """The case's case manager on the day of the action (after a reassignment: the new one)."""
    case = db.session.get(Returnee, case_id)
    assert case is not None
    assert case.case_manager is not None
    return case.case_manager


def counsellor_of(case_id: int) -> User:
    case = db.session.get(Returnee, case_id)
    assert case is not None
    return case.counsellor


def milestones(run: Run, kind: MilestoneKind) -> list[Milestone]:
    return list(
        db.session.scalars(
            sa.select(Milestone)
            .where(Milestone.plan_id == run.plan_id, Milestone.kind == kind)
            .order_by(Milestone.due_on)
        )
    )


# --- what happens to a case ------------------------------------------------------------------


def arrival(year: Year, run: Run) -> None:
    draw = year.rng.random()
    if draw < 0.85:
        offset = year.rng.randint(0, 3)
    elif draw < 0.95:
        offset = year.rng.randint(20, 40)  # recorded late: overdue, maybe escalated
    else:
        return  # never recorded: escalated, the case manager could have recorded it
    day = run.day(offset)
    year.on(
        day,
        lambda: actions.record_arrival(
            run.case_id, arrived_on=run.day(min(offset, 3)), actor=manager_of(run.case_id)
        ),
        "arrival",
    )


def first_contact(year: Year, run: Run) -> None:
    draw = year.rng.random()
    if draw >= 0.9:
        return  # the missing first contact: escalated
    offset = year.rng.randint(8, 30) if draw < 0.75 else year.rng.randint(35, 55)

    def mark() -> None:
        [milestone] = milestones(run, MilestoneKind.FIRST_CONTACT)
        actions.mark_done(milestone.id, done_on=run.day(offset), actor=manager_of(run.case_id))

    year.on(run.day(offset), mark, "first contact")


def deliver(year: Year, run: Run, line_key: int | str, first_on: dt.date) -> None:
    """The line is delivered on ``first_on``: in one delivery, or (three lines in ten) in two
    instalments a month apart whose sum is the line's amount. ``line_key``: a line id, or
    the key of a line made during the year (``Run.new_lines``)."""
    parts = 2 if year.rng.random() < 0.3 else 1
    for part in range(parts):
        on = first_on + dt.timedelta(days=30 * part)

        def record(part: int = part, on: dt.date = on) -> None:
            line_id = line_key if isinstance(line_key, int) else run.new_lines.get(line_key)
            line = db.session.get(PlanLine, line_id) if line_id is not None else None
            if line is None:
                raise Conflict("the line was never made")  # counted as refused
            amount = line.unit_cost_minor * line.quantity
            last = part == parts - 1
            record_delivery(
                line.id,
                delivery_input(
                    delivered_on=on,
                    amount_minor=amount - amount // parts * part if last else amount // parts,
                    quantity=line.quantity if last else 0,  # the units go with the last one
                    currency=line.currency,
                    eur_rate=None,
                ),
                upload(),
                actor=manager_of(run.case_id),
            )

        year.on(on, record, "instalment" if parts > 1 else "delivery")


def referrals(year: Year, run: Run) -> None:
    """Each line's referral is accepted and delivered, or declined and then replaced by the
    same partner again, marked not applicable, or left for the escalation."""
    for line_id in run.line_ids:
        referral_id = db.session.scalar(
            sa.select(Referral.id).where(Referral.reference == f"plan-line:{line_id}")
        )
        draw = year.rng.random()
        answered = START - dt.timedelta(days=1)
        if draw < 0.8:
            year.on(
                answered,
                functools.partial(accept_referral, referral_id, actor=LINK_ACTOR),
                "accept",
            )
            if year.rng.random() < 0.85:
                deliver(year, run, line_id, run.day(year.rng.randint(5, 60)))
            continue
        year.on(
            answered,
            functools.partial(
                decline_referral, referral_id, DeclineReason.SERVICE_UNAVAILABLE, actor=LINK_ACTOR
            ),
            "decline",
        )
        draw = year.rng.random()
        if draw < 0.5:
            replace(year, run, line_id, run.day(year.rng.randint(1, 10)))
        elif draw < 0.85:

            def skip(line: int = line_id) -> None:
                milestone = db.session.scalar(
                    sa.select(Milestone).where(
                        Milestone.plan_line_id == line, Milestone.status.in_(OPEN_STATUSES)
                    )
                )
                if milestone is None:
                    raise Conflict("no open delivery milestone")  # counted as refused
                actions.mark_not_applicable(
                    milestone.id,
                    reason=NotApplicableReason.SUPPORT_CANCELLED,
                    note="Declined by the partner",
                    actor=manager_of(run.case_id),
                )

            year.on(run.day(year.rng.randint(1, 10)), skip, "delivery not applicable")


def replace(year: Year, run: Run, line_id: int, on: dt.date) -> None:
    """The counsellor proposes the same partner again for a declined line, the case manager
    confirms the next day (the total stays within what was approved), the partner accepts
    the new referral the day after, and the line is delivered within the next weeks."""
    key = f"replaces {line_id}"

    def propose() -> None:
        counsellor = counsellor_of(run.case_id)
        new = amendments.replace_line(line_id, actor=counsellor)
        amendments.submit_amendment(run.plan_id, actor=counsellor)
        run.new_lines[key] = new.id

    def confirm() -> None:
        amendments.confirm_amendment(run.plan_id, actor=manager_of(run.case_id))

    year.on(on, propose, "line replaced")
    year.on(on + dt.timedelta(days=1), confirm, "replacement confirmed")
    year.on(on + dt.timedelta(days=2), lambda: accept_new(run, key), "replacement accepted")
    deliver(year, run, key, on + dt.timedelta(days=year.rng.randint(10, 40)))


def accept_new(run: Run, key: str) -> None:
    """The partner accepts the referral of a line made during the year."""
    line_id = run.new_lines.get(key)
    referral_id = db.session.scalar(
        sa.select(Referral.id).where(Referral.reference == f"plan-line:{line_id}")
    )
    if referral_id is None:
        raise Conflict("the line was never referred")  # counted as refused
    accept_referral(referral_id, actor=LINK_ACTOR)


def revision(year: Year, run: Run, visited_on: int) -> None:
    """The visit of ``visited_on`` found the plan needs a revision (a draft amendment is
    open): a week later the counsellor adds support, the case manager confirms, and, as it
    raises the approved total, the programme manager approves; or the counsellor withdraws
    the draft."""
    on = run.day(visited_on + 7)
    key = f"amendment after day {visited_on}"
    if year.rng.random() < 0.3:
        year.on(
            on,
            lambda: amendments.withdraw_amendment(run.plan_id, actor=counsellor_of(run.case_id)),
            "amendment withdrawn",
        )
        return

    def add() -> None:
        counsellor = counsellor_of(run.case_id)
        plan = db.session.get(Plan, run.plan_id)
        assert plan is not None
        taken = {line.option_id for line in plan.lines}
        option_id = db.session.scalar(
            sa.select(SupportOption.id)
            .where(
                SupportOption.partner_id.in_(
                    sa.select(Partner.id).where(Partner.office_id == plan.returnee.origin_office_id)
                )
            )
            .where(SupportOption.id.not_in(taken))
            .order_by(SupportOption.id)
        )
        if option_id is None:
            raise Conflict("no other option")  # counted as refused
        new = amendments.add_support(run.plan_id, option_id, actor=counsellor)
        amendments.submit_amendment(
            run.plan_id, justification="The visit found a second need.", actor=counsellor
        )
        run.new_lines[key] = new.id

    def confirm() -> None:
        amendment = amendments.confirm_amendment(run.plan_id, actor=manager_of(run.case_id))
        if amendment.needs_approval:
            db.session.flush()
            amendments.approve_amendment(run.plan_id, actor=year.approver)

    year.on(on, add, "support added")
    year.on(on + dt.timedelta(days=2), confirm, "amendment in effect")
    year.on(on + dt.timedelta(days=3), lambda: accept_new(run, key), "added line accepted")
    deliver(year, run, key, on + dt.timedelta(days=year.rng.randint(10, 30)))


def visits(year: Year, run: Run) -> None:
    for index, offset in enumerate((90, 180, 270)):
        draw = year.rng.random()
        visit_on = None
        if draw < 0.6:
            visit_on = offset + year.rng.randint(-20, 10)
        elif draw < 0.75:
            visit_on = offset + year.rng.randint(20, 40)  # late, still in its window
        elif draw < 0.85:
            moved_to = offset + 30

            def move(i: int = index, to: int = moved_to, at: int = offset) -> None:
                milestone = milestones(run, MilestoneKind.MONITORING_VISIT)[i]
                actions.move_milestone(
                    milestone.id,
                    due_on=run.day(to),
                    reason="The returnee works abroad until then",
                    actor=manager_of(run.case_id),
                )

            year.on(run.day(offset - 5), move, "visit moved")
            visit_on = moved_to
        elif draw < 0.95:

            def skip(i: int = index) -> None:
                milestone = milestones(run, MilestoneKind.MONITORING_VISIT)[i]
                actions.mark_not_applicable(
                    milestone.id,
                    reason=NotApplicableReason.RETURNEE_UNREACHABLE,
                    actor=manager_of(run.case_id),
                )

            year.on(run.day(offset + year.rng.randint(-5, 5)), skip, "visit not applicable")
        if visit_on is None:
            continue
        needs_revision = year.rng.random() < 0.08

        def visit(on: int = visit_on, revise: bool = needs_revision) -> None:
            record_visit(
                run.case_id,
                VisitInput(
                    visited_on=run.day(on),
                    mode=VisitMode.IN_PERSON,
                    plan_revision_needed=revise,
                ),
                actor=manager_of(run.case_id),
            )

        year.on(
            run.day(visit_on), visit, "visit (plan revision needed)" if needs_revision else "visit"
        )
        if needs_revision:
            revision(year, run, visit_on)


def survey(year: Year, run: Run) -> None:
    draw = year.rng.random()
    if draw < 0.8:
        on = run.day(year.rng.randint(340, 370))
        year.on(
            on,
            lambda: record_survey(run.case_id, on, answers(3, 2, 3), actor=manager_of(run.case_id)),
            "survey",
        )
    elif draw < 0.9:

        def skip() -> None:
            [milestone] = milestones(run, MilestoneKind.SUSTAINABILITY_SURVEY)
            actions.mark_not_applicable(
                milestone.id,
                reason=NotApplicableReason.RETURNEE_DECLINED,
                actor=manager_of(run.case_id),
            )

        year.on(run.day(350), skip, "survey not applicable")


def consent_and_closure(year: Year, run: Run) -> None:
    draw = year.rng.random()
    if draw < 0.03:  # the origin office may no longer follow the case
        year.on(
            run.day(60),
            lambda: cases.record_consent(
                run.case_id,
                cases.ConsentInput(
                    share_with_origin_office=False, share_with_partners=False, given_on=run.day(60)
                ),
                actor=counsellor_of(run.case_id),
            ),
            "consent withdrawn",
        )
    elif draw < 0.08:
        year.on(
            run.day(year.rng.randint(30, 300)),
            lambda: cases.change_case_status(
                run.case_id,
                CaseStatus.CLOSED,
                reason=ClosureReason.REMIGRATED,
                actor=counsellor_of(run.case_id),
            ),
            "case closed",
        )


#: What happens to each case during its year.
SCENARIO: tuple[Callable[[Year, Run], None], ...] = (
    arrival,
    first_contact,
    referrals,
    visits,
    survey,
    consent_and_closure,
)


def case_manager_leaves(year: Year, runs: list[Run], offices: dict[str, Office]) -> None:
    """On day 120 a Tbilisi case manager leaves: the supervisor lists their cases and gives
    all of them to a colleague, then the account is switched off."""
    tbilisi = offices["tbilisi"]
    supervisor = year.supervisors[tbilisi.id]

    def leave() -> None:
        leaving = db.session.scalars(
            sa.select(User)
            .where(User.office_id == tbilisi.id, User.role == Role.CASE_MANAGER)
            .where(User.id != supervisor.id)
            .order_by(User.id)
        ).first()
        assert leaving is not None
        ids = cases.matching_case_ids(
            actor=supervisor, limit=assignment.MAX_CASES, case_manager_id=leaving.id
        )
        colleague = case_manager(tbilisi)
        assignment.assign_cases(ids, user_id=colleague.id, actor=supervisor)
        leaving.is_active = False
        year.done[f"left: {leaving.email}"] = len(ids)

    year.on(START + dt.timedelta(days=120), leave, "case manager left")


def transfers(year: Year, runs: list[Run], offices: dict[str, Office]) -> None:
    """On day 200 five Riga cases move to Vilnius (the returnees were registered there)."""
    riga, vilnius = offices["riga"], offices["vilnius"]

    def transfer() -> None:
        ids = cases.matching_case_ids(actor=year.supervisors[riga.id], limit=5)
        receiver = db.session.scalars(
            sa.select(User).where(User.office_id == vilnius.id, User.role == Role.COUNSELLOR)
        ).first()
        assert receiver is not None
        assignment.assign_cases(
            ids, user_id=receiver.id, transfer=True, actor=year.supervisors[riga.id]
        )

    year.on(START + dt.timedelta(days=200), transfer, "cases transferred")


STAFF_EVENTS = (case_manager_leaves, transfers)


# --- the world -------------------------------------------------------------------------------


def build(year_rng: random.Random) -> tuple[Year, list[Run], dict[str, Office]]:
    offices = {
        "riga": host_office("LV", "Riga"),
        "vilnius": host_office("LT", "Vilnius"),
        "tbilisi": origin_office("GE", "Tbilisi"),
        "batumi": origin_office("GE", "Batumi"),
    }
    staff = {
        name: [(counsellor if office.kind == "host" else case_manager)(office) for _ in range(3)]
        for name, office in offices.items()
    }
    for name, office in offices.items():
        office.supervisor_id = staff[name][0].id
    db.session.add(
        ExchangeRate(currency="GEL", valid_on=dt.date(2020, 1, 1), eur_per_unit=Decimal("0.34"))
    )
    year = Year(
        rng=year_rng,
        admin=user_with_role(Role.ADMIN),
        approver=user_with_role(Role.PROGRAMME_MANAGER),
        supervisors={offices[n].id: staff[n][0] for n in offices},
    )
    options = {  # GEL 600 (EUR 204) each, paid in one or two instalments
        name: [
            SupportOptionFactory(
                partner__office=offices[name],
                cost_minor=60_000,
                currency="GEL",
                cost_eur_minor=20_400,
            )
            for _ in range(4)
        ]
        for name in ("tbilisi", "batumi")
    }
    runs = []
    for number in range(CASES):
        host = year_rng.choice(["riga", "vilnius"])
        origin = year_rng.choice(["tbilisi", "batumi"])
        manager = year_rng.choice(staff[origin])
        case = single_mother(
            year_rng.choice(staff[host]), offices[origin], case_manager_id=manager.id
        )
        case.departed_on = START + dt.timedelta(days=year_rng.randrange(60))
        plan = plans.start_plan(case.id, actor=case.counsellor)
        for option in year_rng.sample(options[origin], year_rng.choice([1, 2])):
            plans.add_line(plan.id, option.id, actor=case.counsellor)
        plans.submit_plan(plan.id, actor=case.counsellor)
        plans.confirm_feasibility(plan.id, actor=manager)
        plans.approve_plan(plan.id, actor=year.approver)
        runs.append(Run(case.id, plan.id, case.departed_on, [line.id for line in plan.lines]))
        if number % 20 == 19:
            db.session.commit()
    db.session.commit()
    return year, runs, offices


def owner_could_close(milestone: Milestone) -> bool:
    """Whether the milestone's owner (the case's counsellor or case manager) can close it now
    through the action service; the attempt is rolled back."""
    case = milestone.returnee
    owner = (
        case.counsellor if milestone.responsible == Responsible.COUNSELLOR else case.case_manager
    )
    if owner is None or not owner.is_active:
        return False
    try:
        actions.mark_not_applicable(
            milestone.id, reason=NotApplicableReason.OTHER, note="probe", actor=owner
        )
    except DomainError:
        return False
    finally:
        db.session.rollback()
    return True


def test_a_year_of_200_cases_escalates_only_what_its_owner_could_close(
    app: object, time_machine: object
) -> None:
    rng = random.Random(SEED)
    travel(time_machine, START - dt.timedelta(days=1))
    year, runs, offices = build(rng)
    for run in runs:
        for step in SCENARIO:
            step(year, run)
    for event in STAFF_EVENTS:
        event(year, runs, offices)

    levels: dict[int, int] = {}
    with_path, without_path = 0, []
    day = START - dt.timedelta(days=1)
    while day <= LAST:
        travel(time_machine, day)
        for action in year.agenda.get(day, []):
            action()
        sweep(day)
        escalated = db.session.execute(
            sa.select(Milestone.id, Milestone.escalation_level).where(
                Milestone.escalation_level > 0
            )
        ).all()
        for milestone_id, level in escalated:
            if level > levels.get(milestone_id, 0):
                levels[milestone_id] = level
                milestone = db.session.get(Milestone, milestone_id)
                assert milestone is not None
                if owner_could_close(milestone):
                    with_path += 1
                else:
                    without_path.append((day, milestone.step_key, milestone.returnee_id))
        day += dt.timedelta(days=1)

    print(
        f"\n{CASES} cases, {(LAST - START).days + 2} days swept: escalations of milestones "
        f"with a completion path {with_path}, without one {len(without_path)}; "
        + ", ".join(f"{what} {n}" for what, n in sorted(year.done.items()))
    )
    assert without_path == []
    assert with_path > 0  # missing first contacts, late arrivals, undelivered lines
    still_open = db.session.scalar(
        sa.select(sa.func.count(Milestone.id)).where(Milestone.status.in_(OPEN_STATUSES))
    )
    assert still_open == 0  # every window closed, every closed case's milestones cancelled
    left = next(what for what in year.done if what.startswith("left: "))
    assert year.done[left] > 0
    leaver = left.removeprefix("left: ")
    late_to_leaver = db.session.scalar(
        sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.to_address == leaver,
            OutboxMessage.key.like("milestone:%"),
            OutboxMessage.created_at
            > dt.datetime.combine(START + dt.timedelta(days=121), dt.time(), dt.UTC),
        )
    )
    assert late_to_leaver == 0  # reminders followed the cases to the colleague
