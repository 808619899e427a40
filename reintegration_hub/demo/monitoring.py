"""Demo programme history for the home-office dashboard: cases on the demo grant with plans,
deliveries, milestones, surveys and programme activities.

``flask demo load`` adds it after the demo world (``data.load``); the tests of the plan path
and the marketplace load the world alone. Generated deterministically (seeded) with bulk
inserts in a second or two: 290 returns to seven countries from the three host offices in the
grant's period, about half with an approved plan of local options, most delivered (each
delivery's certificate a small PDF in ``CERTIFICATE_DIR``, stored as uploads are), the
follow-up milestones in the state the sweep leaves them (IOM Yerevan has the most overdue),
sustainability surveys a year after return (scored under the version in force) in which the
business start-up partners in Georgia differ, closures with their reasons, 60 recent cases
off the grant whose milestones are coming due now (their returnees' feedback on what was
delivered: most answered, one low score in Georgia with the case manager's task open, a few
waiting), and the short stays and capacity-building events toward the grant's targets. Ends
with an outcome snapshot.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import phonenumbers
import sqlalchemy as sa

from partners import services as market
from partners.models import (
    DeliveryMode,
    OptionStatus,
    Partner,
    Referral,
    ReferralStatus,
    SupportCategory,
    SupportOption,
    VettingStatus,
)
from partners.services import PartnerInput
from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases import search
from reintegration_hub.cases.models import (
    CaseNumberCounter,
    CaseStatus,
    ClosureReason,
    Consent,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.money import to_eur_minor
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.demo.certificates import stored_certificate
from reintegration_hub.demo.marketplace import (
    RATES_FROM,
    DemoCountry,
    DemoOption,
    DemoPartner,
    _option_input,
)
from reintegration_hub.extensions import db
from reintegration_hub.feedback import services as feedback
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
    Responsible,
    SustainabilitySurvey,
)
from reintegration_hub.followups.scheduling import milestone_dates
from reintegration_hub.followups.scoring import score
from reintegration_hub.followups.visits import current_scoring_version
from reintegration_hub.monitoring.models import ActivityKind, ProgrammeActivity
from reintegration_hub.monitoring.performance import refresh_partner_performance
from reintegration_hub.monitoring.snapshot import snapshot_outcomes
from reintegration_hub.plans.models import Plan, PlanLine, PlanStatus
from reintegration_hub.programmes.models import BudgetCapRule, Grant

GRANT_NUMBER = "AK/IOM/PMIF/2018/1"
GRANT_CASES = 252
RECENT_CASES = 60
SEED = 2026
HOSTS = {"IOM Riga": 60, "IOM Vilnius": 25, "IOM Prague": 15}
ORIGINS = {
    "IOM Tbilisi": 34,
    "IOM Yerevan": 18,
    "IOM Baku": 10,
    "IOM Dushanbe": 10,
    "IOM Erbil": 10,
    "IOM Hanoi": 10,
    "IOM Ulaanbaatar": 8,
}
#: Share of milestones that came due and were done, per origin office (the rest are overdue).
DONE_SHARE = {"IOM Yerevan": 0.7}
DEFAULT_DONE_SHARE = 0.93
#: Mean survey answer (0-4) of the returnees a partner served: how well their support holds.
OUTCOME_OF_PARTNER = {
    "Kutaisi Small Business Incubator": 3.3,
    "Tbilisi Reintegration Support Union": 2.5,
    "Batumi Enterprise Development Agency": 1.6,
}
DEFAULT_OUTCOME = 2.4
#: Feedback requests of the recent cases left unanswered (the case page shows them waiting).
FEEDBACK_WAITING = 3
#: The low score's comment, in the returnee's language.
LOW_SCORE_COMMENTS = {
    "en": "The tools came late and one was broken.",
    "ka": "ხელსაწყოები დაგვიანებით მოვიდა და ერთი გატეხილი იყო.",
    "hy": "Գործիքները ուշ հասան, և մեկը կոտրված էր.",
    "ru": "Инструменты пришли поздно, и один был сломан.",
}
FIRST_NAMES = ["Nino", "Giorgi", "Ani", "Davit", "Mariam", "Aram", "Lusine", "Farid", "Aziz"]
FIRST_NAMES += ["Zarina", "Ahmed", "Layla", "Minh", "Lan", "Bat", "Saraa", "Tamar", "Levan"]


def demo_mobile(country: str, serial: int) -> str:
    """A valid mobile number of ``country`` for a demo case (``libphonenumber``'s example
    with the case's serial in its last digits), or none where there is no such example."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return ""
    digits = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    number = f"{digits[:-3]}{serial % 1000:03d}"
    return number if phonenumbers.is_valid_number(phonenumbers.parse(number)) else digits


LAST_NAMES = ["Beridze", "Kapanadze", "Hakobyan", "Aliyev", "Rahimov", "Hassan", "Nguyen"]
LAST_NAMES += ["Bold", "Lomidze", "Sargsyan", "Karimova", "Tran", "Ganbaatar", "Jafarov"]

#: Two more business start-up partners in Georgia, so that their outcomes can be compared.
GEORGIAN_BUSINESS_PARTNERS = DemoCountry(
    "IOM Tbilisi",
    "GEL",
    "ka",
    (
        DemoPartner(
            "Kutaisi Small Business Incubator",
            "Non-governmental organisation",
            ("Imereti",),
            (
                DemoOption(
                    SupportCategory.BUSINESS_START_UP,
                    "Business start-up coaching and equipment",
                    "ბიზნესის დაწყების კონსულტაცია და აღჭურვილობა",
                    "Kutaisi",
                    "Imereti",
                    "4200",
                    mode=DeliveryMode.IN_KIND,
                    lead=14,
                ),
            ),
        ),
        DemoPartner(
            "Batumi Enterprise Development Agency",
            "Municipal agency",
            ("Adjara",),
            (
                DemoOption(
                    SupportCategory.BUSINESS_START_UP,
                    "Micro-enterprise grant in kind",
                    "მიკრო საწარმოს გრანტი ნატურით",
                    "Batumi",
                    "Adjara",
                    "3000",
                    mode=DeliveryMode.IN_KIND,
                    lead=21,
                ),
            ),
        ),
    ),
)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _add_georgian_business_partners(tbilisi_id: int, *, actor: Actor) -> None:
    for number, demo_partner in enumerate(GEORGIAN_BUSINESS_PARTNERS.partners, start=1):
        partner = market.create_partner(
            PartnerInput(
                name=demo_partner.name,
                legal_status=demo_partner.legal_status,
                regions=demo_partner.regions,
                languages=("ka", "en"),
                focal_point_name="Referral desk",
                focal_point_email=f"referrals{number}@ge-business.example.org",
                agreement_number=f"IOM-FA-2026-GE-B{number}",
                agreement_valid_from=RATES_FROM,
                agreement_valid_until=dt.date(2027, 12, 31),
            ),
            office_id=tbilisi_id,
            actor=actor,
        )
        market.set_vetting_status(partner.id, VettingStatus.APPROVED, actor=actor)
        for demo in demo_partner.options:
            market.create_option(
                partner.id,
                _option_input(demo, GEORGIAN_BUSINESS_PARTNERS),
                status=OptionStatus.PUBLISHED,
                actor=actor,
                today=RATES_FROM,
            )


def _insert(model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in one statement; their new ids, in the rows' order. The database gives
    every id: explicit ids would leave PostgreSQL's sequences behind, and the next row made by
    hand would collide with a demo row."""
    if not rows:
        return []
    table = model.__table__
    stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.session.scalars(stmt, list(rows)))


def _resolve(rows: Sequence[dict[str, Any]], column: str, ids: Sequence[int]) -> None:
    """Replace the position each row names in ``column`` (see ``load_monitoring``) by the id
    of the row at that position."""
    for row in rows:
        if row[column] is not None:
            row[column] = ids[row[column]]


def _answers(rng: random.Random, indicators: Sequence[str], mean: float) -> dict[str, int]:
    return {key: max(0, min(4, round(rng.gauss(mean, 0.8)))) for key in indicators}


def load_monitoring(*, actor: Actor, today: dt.date | None = None) -> dict[str, int]:
    """Add the demo programme history (see the module docstring) in the current transaction;
    returns how many rows of each kind were made. The caller commits."""
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    today = today or now_utc().date()
    offices = {o.name: o for o in db.session.scalars(sa.select(Office))}
    _add_georgian_business_partners(offices["IOM Tbilisi"].id, actor=actor)
    db.session.flush()
    grant = db.session.scalars(sa.select(Grant).where(Grant.number == GRANT_NUMBER)).one()
    users = list(db.session.scalars(sa.select(User)))
    counsellor_of = {u.office_id: u.id for u in users if u.role == Role.COUNSELLOR}
    manager_of = {u.office_id: u.id for u in users if u.role == Role.CASE_MANAGER}
    approver = next(u.id for u in users if u.role == Role.PROGRAMME_MANAGER)
    options: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in db.session.execute(
        sa.select(
            SupportOption.id,
            SupportOption.partner_id,
            SupportOption.country_code,
            SupportOption.cost_minor,
            SupportOption.currency,
            SupportOption.eur_rate,
            SupportOption.lead_time_days,
            Partner.name,
            SupportOption.category,
        )
        .join(Partner, Partner.id == SupportOption.partner_id)
        .where(SupportOption.status == OptionStatus.PUBLISHED)
        .order_by(SupportOption.id)
    ):
        options[row.country_code].append(tuple(row))
    rule = db.session.scalars(sa.select(BudgetCapRule).where(BudgetCapRule.is_default)).one()
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default)
    ).one()
    steps: Sequence[MilestoneStep] = template.steps
    version = current_scoring_version()
    indicators = list(version.indicators)

    # rows name their parents by position in ``rows`` (case_id 0 is the first returnee row...)
    # until _store_history inserts them and swaps the positions for the ids they got
    plan_id = line_id = referral_id = 0
    numbers: dict[tuple[str, int], int] = defaultdict(int)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    grant_days = (dt.date(2022, 9, 30) - dt.date(2019, 3, 1)).days
    for case_id in range(GRANT_CASES + RECENT_CASES):
        on_grant = case_id < GRANT_CASES
        host = offices[_weighted(rng, HOSTS)]
        origin = offices[_weighted(rng, ORIGINS)]
        country = origin.country_code
        if on_grant:
            departed = dt.date(2019, 3, 1) + dt.timedelta(days=rng.randrange(grant_days))
        else:
            departed = today - dt.timedelta(days=rng.randrange(10, 330))
        registered = departed - dt.timedelta(days=rng.randrange(20, 60))
        numbers[host.country_code, registered.year] += 1
        number = numbers[host.country_code, registered.year]
        created_at = dt.datetime.combine(registered, dt.time(10), dt.UTC)
        arrived = departed + dt.timedelta(days=1) if rng.random() < 0.95 else None
        vulnerable = rng.random() < 0.3
        # how far the case got
        roll = rng.random()
        plan_status: PlanStatus | None
        if roll < 0.08:
            plan_status = None
        elif roll < 0.5:
            plan_status = rng.choice(
                [PlanStatus.DRAFT, PlanStatus.SUBMITTED, PlanStatus.RETURNED, PlanStatus.FEASIBLE]
            )
        else:
            plan_status = PlanStatus.APPROVED
        window_over = departed + dt.timedelta(days=365) < today
        status = {
            None: CaseStatus.ASSESSED,
            PlanStatus.DRAFT: CaseStatus.PLAN_DRAFT,
            PlanStatus.RETURNED: CaseStatus.PLAN_DRAFT,
            PlanStatus.SUBMITTED: CaseStatus.PLAN_SUBMITTED,
            PlanStatus.FEASIBLE: CaseStatus.PLAN_SUBMITTED,
            PlanStatus.APPROVED: CaseStatus.MONITORING,
        }[plan_status]
        closure: ClosureReason | None = None
        if plan_status == PlanStatus.APPROVED and window_over and rng.random() < 0.6:
            closure = rng.choices(
                [ClosureReason.COMPLETED, ClosureReason.REMIGRATED, ClosureReason.MOVED_AWAY],
                weights=[80, 12, 8],
            )[0]
        elif plan_status is None and window_over and rng.random() < 0.7:
            closure = rng.choice([ClosureReason.WITHDREW, ClosureReason.NO_LONGER_ELIGIBLE])
        if closure is not None:
            status = CaseStatus.CLOSED
        elif plan_status == PlanStatus.APPROVED and not window_over:
            status = CaseStatus.IN_DELIVERY
        closed_at = (
            dt.datetime.combine(departed + dt.timedelta(days=380), dt.time(12), dt.UTC)
            if closure
            else None
        )
        first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        # every third open case has a mobile number and takes reminders by SMS (no draw from
        # rng: the rest of the demo stays as it was)
        mobile = demo_mobile(country, number) if closure is None and number % 3 == 0 else ""
        rows["returnees"].append(
            {
                "case_number": f"{host.country_code}-{registered.year}-{number:05d}",
                "case_number_tail": number,
                "first_name": first_name,
                "last_name": last_name,
                # what the case services write with the names (cases.search)
                **search.search_keys(
                    first_name=first_name,
                    last_name=last_name,
                    contact_after_return="",
                    mobile_number=mobile,
                ),
                "date_of_birth": dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15_000)),
                "sex": rng.choice(["female", "male"]),
                "nationality": country,
                "return_country_code": country,
                "return_region": "",
                "return_city": origin.city,
                "languages": [origin.languages[0]] if origin.languages else [],
                "contact_after_return": "",
                "mobile_number": mobile,
                "host_office_id": host.id,
                "counsellor_id": counsellor_of[host.id],
                "origin_office_id": origin.id,
                "case_manager_id": manager_of.get(origin.id),
                "grant_id": grant.id if on_grant else None,
                "legal_status": rng.choice(["rejected_asylum_seeker", "irregular_stay"]),
                "status": status.value,
                "closure_reason": closure.value if closure else None,
                "closed_at": closed_at,
                "departed_on": departed,
                "arrived_on": arrived,
                "shares_with_origin": True,
                "created_at": created_at,
                "updated_at": closed_at or created_at,
            }
        )
        rows["consents"].append(
            {
                "returnee_id": case_id,
                "share_with_origin_office": True,
                "share_with_partners": True,
                "sms_contact": bool(mobile),
                "given_on": registered,
                "recorded_by_id": counsellor_of[host.id],
                "recorded_at": created_at,
            }
        )
        if vulnerable:
            rows["vulnerability_entries"].append(
                {
                    "returnee_id": case_id,
                    "category": rng.choice(list(VulnerabilityCategory)).value,
                    "notes": "",
                }
            )
        if plan_status is not None:
            approved_on = departed + dt.timedelta(days=rng.randrange(-15, 110))
            approved_at = dt.datetime.combine(approved_on, dt.time(11), dt.UTC)
            chosen = rng.sample(options[country], k=min(len(options[country]), rng.randint(1, 3)))
            total, outcome_means = 0, []
            for option_id, partner_id, _c, cost, currency, rate, lead, partner, _k in chosen:
                line_total = to_eur_minor(cost, currency, rate)
                total += line_total
                outcome_means.append(OUTCOME_OF_PARTNER.get(partner, DEFAULT_OUTCOME))
                referral = None
                if plan_status == PlanStatus.APPROVED:
                    delivered = rng.random() < (0.9 if window_over else 0.5)
                    referral = referral_id
                    referral_id += 1
                    rows["referrals"].append(
                        {
                            "public_id": uuid.uuid4(),
                            "reference": line_id,  # a position, see above
                            "option_id": option_id,
                            "partner_id": partner_id,
                            "hold_id": None,
                            "office_id": origin.id,
                            "status": (
                                ReferralStatus.DELIVERED if delivered else ReferralStatus.ACCEPTED
                            ).value,
                            "decline_reason": None,
                            "answer_note": "",
                            "sent_at": approved_at,
                            "expires_at": approved_at + dt.timedelta(days=7),
                            "answered_at": approved_at + dt.timedelta(days=rng.randint(1, 6)),
                            "answered_by_id": None,
                            "case_number": rows["returnees"][-1]["case_number"],
                            "first_name": rows["returnees"][-1]["first_name"],
                            "quantity": 1,
                            "starts_on": approved_on + dt.timedelta(days=lead),
                            "note_for_partner": "",
                            "vulnerability_note": "",
                            "contact_name": "Case manager",
                            "contact_email": "casemanager@demo.example",
                            "contact_phone": "",
                        }
                    )
                    delivered_on = approved_on + dt.timedelta(days=lead + rng.randint(5, 90))
                    if delivered and delivered_on < today:
                        rows["deliveries"].append(
                            {
                                "plan_line_id": line_id,
                                "delivered_on": delivered_on,
                                "quantity": 1,
                                "amount_minor": cost,
                                "currency": currency,
                                "eur_rate": rate,
                                "amount_eur_minor": line_total,
                                "invoice_number": f"INV-{delivered_on.year}-{line_id + 1:04d}",
                                "note": "",
                                **stored_certificate(),
                                "recorded_by_id": manager_of.get(origin.id),
                                "recorded_at": dt.datetime.combine(
                                    delivered_on, dt.time(15), dt.UTC
                                ),
                            }
                        )
                rows["plan_lines"].append(
                    {
                        "plan_id": plan_id,
                        "option_id": option_id,
                        "quantity": 1,
                        "notes": "",
                        "unit_cost_minor": cost,
                        "currency": currency,
                        "eur_rate": rate,
                        "rate_on": RATES_FROM,
                        "total_eur_minor": line_total,
                        "hold_id": None,
                        "referral_id": referral,
                        "created_at": created_at,
                    }
                )
                line_id += 1
            approved = plan_status == PlanStatus.APPROVED
            rows["plans"].append(
                {
                    "returnee_id": case_id,
                    "status": plan_status.value,
                    "version": 3 if approved else 1,
                    "cap_eur_minor": rule.cap_minor(1, 0),
                    "cap_rule_id": rule.id,
                    "total_eur_minor": total,
                    "over_cap_justification": (
                        "Vulnerable returnee" if total > rule.cap_minor(1, 0) else ""
                    ),
                    "review_comment": "",
                    "submitted_at": approved_at - dt.timedelta(days=5) if approved else None,
                    "feasible_at": approved_at - dt.timedelta(days=2) if approved else None,
                    "feasible_by_id": manager_of.get(origin.id) if approved else None,
                    "approved_at": approved_at if approved else None,
                    "approved_by_id": approver if approved else None,
                    "created_at": created_at,
                    "updated_at": approved_at if approved else created_at,
                }
            )
            if approved:
                first_line = line_id - len(chosen)
                _milestones(
                    rows,
                    steps,
                    case_id=case_id,
                    plan_id=plan_id,
                    lines=range(first_line, line_id),
                    anchor=departed,
                    grace=template.grace_days,
                    host_id=host.id,
                    origin_id=origin.id,
                    done_share=DONE_SHARE.get(origin.name, DEFAULT_DONE_SHARE),
                    closed=closure is not None,
                    today=today,
                    rng=rng,
                )
                survey_on = departed + dt.timedelta(days=rng.randint(350, 380))
                if survey_on < today and rng.random() < 0.85:
                    mean = sum(outcome_means) / len(outcome_means)
                    rows["sustainability_surveys"].append(
                        {
                            "returnee_id": case_id,
                            "taken_on": survey_on,
                            "answers": _answers(rng, indicators, mean),
                            "scoring_version_id": version.id,
                            "recorded_by_id": manager_of.get(origin.id),
                            "recorded_at": dt.datetime.combine(survey_on, dt.time(12), dt.UTC),
                        }
                    )
            plan_id += 1
    # scored as record_survey scores them
    for survey in rows["sustainability_surveys"]:
        scored = score(version, survey["answers"])
        survey.update(
            economic=scored.economic,
            social=scored.social,
            psychosocial=scored.psychosocial,
            composite=scored.composite,
            band=scored.band,
            flags=scored.flags,
        )
    _store_history(rows)
    for (country, year), last in numbers.items():
        counter = db.session.get(CaseNumberCounter, (country, year))
        if counter is None:
            db.session.add(CaseNumberCounter(country_code=country, year=year, last_value=last))
        else:
            counter.last_value += last
    _activities(grant.id, rng, actor=actor)
    db.session.flush()
    counts = _feedback(actor=actor)
    snapshot_outcomes(today, actor=actor)
    refresh_partner_performance(today)  # the partner pages and the best-outcomes sort
    return {**{name: len(made) for name, made in rows.items()}, **counts}


def _store_history(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert the generated rows, a statement per table, parents first, resolving the positions
    they name (see ``load_monitoring``) into the ids their parents got."""
    cases = _insert(Returnee, rows["returnees"])
    for name in ("consents", "vulnerability_entries", "plans", "milestones"):
        _resolve(rows[name], "returnee_id", cases)
    _resolve(rows["sustainability_surveys"], "returnee_id", cases)
    _insert(Consent, rows["consents"])
    _insert(VulnerabilityEntry, rows["vulnerability_entries"])
    _insert(SustainabilitySurvey, rows["sustainability_surveys"])
    plans = _insert(Plan, rows["plans"])
    _resolve(rows["plan_lines"], "plan_id", plans)
    _resolve(rows["milestones"], "plan_id", plans)
    referral_of_line = [line.pop("referral_id") for line in rows["plan_lines"]]
    lines = _insert(PlanLine, rows["plan_lines"])
    for referral in rows["referrals"]:
        referral["reference"] = f"plan-line:{lines[referral['reference']]}"
    referrals = _insert(Referral, rows["referrals"])
    db.session.execute(
        sa.update(PlanLine),
        [
            {"id": line, "referral_id": referrals[referral]}
            for line, referral in zip(lines, referral_of_line, strict=True)
            if referral is not None
        ],
    )
    _resolve(rows["deliveries"], "plan_line_id", lines)
    _insert(Delivery, rows["deliveries"])
    _resolve(rows["milestones"], "plan_line_id", lines)
    for milestone in rows["milestones"]:
        if milestone["plan_line_id"] is not None:
            milestone["step_key"] += f":{milestone['plan_line_id']}"
    _insert(Milestone, rows["milestones"])


def _feedback(*, actor: Actor) -> dict[str, int]:
    """The returnees of the recent cases answer the feedback requests of their delivered
    supports (through the feedback services, as the link would): the score follows how well
    the partner's support holds (``OUTCOME_OF_PARTNER``), all but the last ``FEEDBACK_WAITING``
    requests are answered, and the first Georgian answer is a low score with a comment, so
    that its case manager has a task open. Seeded apart from the history: adding feedback
    left the rest of the demo as it was."""
    rng = random.Random(SEED + 1)  # noqa: S311 - demo data, not secrets
    deliveries = list(
        db.session.scalars(
            sa.select(Delivery)
            .join(PlanLine, PlanLine.id == Delivery.plan_line_id)
            .join(Plan, Plan.id == PlanLine.plan_id)
            .join(Returnee, Returnee.id == Plan.returnee_id)
            .where(Returnee.status == CaseStatus.IN_DELIVERY, Delivery.final.is_(True))
            .order_by(Delivery.id)
        )
    )
    invitations = [feedback.request_feedback(d, actor=actor) for d in deliveries]
    answered = low = 0
    for invited in invitations[: max(len(invitations) - FEEDBACK_WAITING, 0)]:
        request = invited.request
        line = request.plan_line
        comment = ""
        if not low and request.returnee.return_country_code == "GE":
            score, comment = 2, LOW_SCORE_COMMENTS.get(request.language, LOW_SCORE_COMMENTS["en"])
            low += 1
        else:
            mean = OUTCOME_OF_PARTNER.get(line.option.partner.name, DEFAULT_OUTCOME)
            score = min(5, max(3, round(mean + 1.5 + rng.uniform(-0.6, 0.6))))
        feedback.answer_feedback(request.id, {line.id: score}, comment)
        answered += 1
    return {"feedback_requests": len(invitations), "feedback_answers": answered}


def _milestones(
    rows: dict[str, list[dict[str, Any]]],
    steps: Sequence[MilestoneStep],
    *,
    case_id: int,
    plan_id: int,
    lines: range,
    anchor: dt.date,
    grace: int,
    host_id: int,
    origin_id: int,
    done_share: float,
    closed: bool,
    today: dt.date,
    rng: random.Random,
) -> None:
    """The plan's milestones as approval schedules them from the template (steps counting from
    another step start at its due date), in the state the sweep leaves them on ``today``:
    once the window has ended, the window's milestone is done and the others still open are
    cancelled; a closed case's open milestones are cancelled (as closing it does)."""
    first = len(rows["milestones"])
    due_of: dict[str, dt.date] = {}
    for step in steps:
        start = due_of.get(step.after_step or "", anchor)
        due = start + dt.timedelta(days=step.offset_days)
        if step.kind == MilestoneKind.WINDOW_CLOSES:
            due += dt.timedelta(days=grace)
        due_of[step.key] = due
        office = host_id if step.responsible == Responsible.COUNSELLOR else origin_id
        for line in lines if step.kind == MilestoneKind.LINE_DELIVERED else [None]:
            status, completed, level = MilestoneStatus.UPCOMING, None, 0
            if due < today:
                if rng.random() < done_share:
                    status = MilestoneStatus.DONE
                    late = rng.random() < 0.2
                    done_on = due + dt.timedelta(days=rng.randint(1, 20) if late else -2)
                    completed = dt.datetime.combine(min(done_on, today), dt.time(12), dt.UTC)
                else:
                    status, level = MilestoneStatus.OVERDUE, 2
            elif due - dt.timedelta(days=step.reminder_days) <= today:
                status = MilestoneStatus.DUE
            rows["milestones"].append(
                {
                    "plan_id": plan_id,
                    "returnee_id": case_id,
                    "plan_line_id": line,
                    "office_id": office,
                    "step_key": step.key,  # a line's own milestone gets ":<line id>"
                    "kind": step.kind.value,
                    "name": step.name,
                    "responsible": step.responsible.value,
                    **milestone_dates(step, due),
                    "status": status.value,
                    "escalation_level": level,
                    "completed_at": completed,
                    "completed_by_id": None,
                    "created_at": dt.datetime.combine(anchor, dt.time(12), dt.UTC),
                }
            )
    window_over = any(
        due_of[step.key] <= today for step in steps if step.kind == MilestoneKind.WINDOW_CLOSES
    )
    for milestone in rows["milestones"][first:]:
        if milestone["status"] not in {status.value for status in OPEN_STATUSES}:
            continue
        if milestone["kind"] == MilestoneKind.WINDOW_CLOSES.value and window_over and not closed:
            milestone["status"] = MilestoneStatus.DONE.value
            milestone["completed_at"] = dt.datetime.combine(
                milestone["due_on"], dt.time(12), dt.UTC
            )
        elif closed or window_over:
            milestone["status"] = MilestoneStatus.CANCELLED.value


def _activities(grant_id: int, rng: random.Random, *, actor: Actor) -> None:
    """Short stays before departure (people housed) and capacity-building events."""
    for month in range(2, 46, 3):
        on = dt.date(2019, 1, 1) + dt.timedelta(days=30 * month + rng.randrange(20))
        db.session.add(
            ProgrammeActivity(
                grant_id=grant_id,
                kind=ActivityKind.SHORT_STAY,
                occurred_on=on,
                people_count=rng.randint(1, 5),
                note="Short-term accommodation before departure",
                recorded_by_id=actor.id,
            )
        )
    for on in (dt.date(2019, 6, 12), dt.date(2020, 10, 5), dt.date(2021, 11, 18)):
        db.session.add(
            ProgrammeActivity(
                grant_id=grant_id,
                kind=ActivityKind.CAPACITY_EVENT,
                occurred_on=on,
                people_count=rng.randint(12, 30),
                note="Training for partner organisations",
                recorded_by_id=actor.id,
            )
        )
