"""Plan page at 100,000 cases and 300,000 plan lines: services and full request (issue 4, bench).

    .venv/bin/python -m bench.plan_page [--database-url URL] [--requests 300]

Without ``--database-url`` an SQLite file in a temporary directory is used. The database is
brought to the migrations' head, the tables this bench fills are emptied, and 100,000 cases (as
``bench.cases_list`` makes them), 1,000 partners with 3,000 published options in the countries
of return, a plan per case with 300,000 lines in all (1 to 6 a plan), place holds for the lines
of submitted plans, referrals (and some deliveries) for the lines of approved ones, the
approved plans' follow-up milestones and a few revisions per plan are generated with set-based
inserts, then analysed. Amendments as a year brings them: lines whose referral was declined or
expired no longer count, half of them replaced by an amendment in effect (a new line with its
hold, referral and milestone), and a tenth of the approved plans have an amendment in
preparation (a proposed line and a changed quantity). Before timing, the plan page's
statements are counted for a 1-line and a 6-line plan (without and with amendments): the count
must not depend on the number of lines. Then random plans are read
by a counsellor of the case's host office or a case manager of its country of return, through
the services the page calls and as a full ``GET /cases/<id>/plan`` through the test client
(session, services, forms, template); p50/p95 are printed. The plan tables are emptied again at
the end, so the other benches can empty the marketplace on the same database. Use a throw-away
database.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench.cases_list import ORIGINS
from bench.cases_list import generate as generate_cases
from bench.harness import (
    arguments,
    bench_app,
    insert_rows,
    migrated,
    report,
    stopwatch,
    summary,
    timed,
)
from partners.models import (
    HoldStatus,
    OptionCapacity,
    Partner,
    PartnerMember,
    PlaceHold,
    Referral,
    ReferralStatus,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
)
from reintegration_hub.auth.models import Office, User
from reintegration_hub.auth.services import start_session
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.money import to_eur_minor
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
    Responsible,
)
from reintegration_hub.followups.scheduling import milestone_dates
from reintegration_hub.followups.timeline import plan_timeline
from reintegration_hub.plans import amendments, services
from reintegration_hub.plans.models import (
    AmendmentStatus,
    LineChange,
    LineChangeKind,
    LineStatus,
    Plan,
    PlanAmendment,
    PlanLine,
    PlanRevision,
    PlanStatus,
)
from reintegration_hub.programmes.models import BudgetCapRule

# countries of return of bench.cases_list: currency, EUR per unit, cities
CURRENCIES = {
    "GE": ("GEL", Decimal("0.34"), ["Tbilisi", "Kutaisi", "Batumi"]),
    "AM": ("AMD", Decimal("0.0024"), ["Yerevan", "Gyumri"]),
    "UZ": ("UZS", Decimal("0.000073"), ["Tashkent", "Samarkand"]),
}
CRAFTS = ["tailoring", "welding", "bakery", "beekeeping", "rent", "school", "dental", "passport"]
# plan status: weight (of 100 plans)
STATUSES = {
    PlanStatus.DRAFT: 15,
    PlanStatus.SUBMITTED: 15,
    PlanStatus.RETURNED: 10,
    PlanStatus.FEASIBLE: 15,
    PlanStatus.APPROVED: 45,
}
# referral status of an approved plan's line: weight; delivered lines have a delivery
REFERRALS = {
    ReferralStatus.SENT: 20,
    ReferralStatus.ACCEPTED: 30,
    ReferralStatus.DECLINED: 10,
    ReferralStatus.EXPIRED: 5,
    ReferralStatus.DELIVERED: 35,
}
# of approved plans' declined and expired lines: share replaced by an amendment in effect
REPLACED = 0.5
# of approved plans: share with an amendment in preparation
AMENDING = 0.1
# lines of a plan: weight (mean 3.04 before the total is trimmed to --lines)
LINE_COUNTS = {1: 15, 2: 25, 3: 25, 4: 15, 5: 12, 6: 8}
PLANS_PER_CHUNK = 5_000
# children first, so every delete passes the foreign keys
FILLED = (
    Milestone,
    Delivery,
    PlanRevision,
    LineChange,
    PlanLine,
    PlanAmendment,
    Plan,
    Referral,
    PlaceHold,
    OptionCapacity,
    SupportOptionLocation,
    SupportOptionText,
    PartnerMember,
    SupportOption,
    Partner,
)


@dataclass
class Bench:
    """Who reads which case's plan, and plans whose statements are counted."""

    counsellor_of: dict[int, int]  # host office id -> user id
    manager_of: dict[str, int]  # country of return -> user id
    # (status, lines, with a waitlisted line, with amendments) -> case id of the first such plan
    examples: dict[tuple[PlanStatus, int, bool, bool], int]


def _empty() -> None:
    """Empty the tables this bench fills (on PostgreSQL with whatever references them, e.g.
    milestone notices). PostgreSQL truncates: a DELETE of the holds checks each one against
    the plan lines' and referrals' ``hold_id`` (not indexed), a scan of the just-deleted, not
    yet vacuumed rows per hold (over 20 minutes here)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(model.__tablename__ for model in FILLED)
        db.session.execute(sa.text(f"TRUNCATE {names} CASCADE"))
    else:
        for model in FILLED:
            db.session.execute(sa.delete(model))
    db.session.commit()


def _line_counts(plans: int, lines: int, rng: random.Random) -> list[int]:
    """Lines per plan, 1 to 6, adding up to ``lines``."""
    counts = rng.choices(list(LINE_COUNTS), weights=list(LINE_COUNTS.values()), k=plans)
    excess = sum(counts) - lines
    while excess:
        i = rng.randrange(plans)
        step = 1 if excess > 0 else -1
        if 1 <= counts[i] - step <= 6:
            counts[i] -= step
            excess -= step
    return counts


def _marketplace(partners: int, options_per_partner: int, rng: random.Random) -> dict[str, Any]:
    """Approved partners with published options (an English text and a location each) in the
    countries of return: ``by_country`` ``{country: [(option id, partner id, cost_minor)]}``
    and ``offices`` ``{country: origin office}``."""
    offices = {
        office.country_code: office
        for office in db.session.scalars(
            sa.select(Office).where(Office.name.in_([f"Bench {city}" for _, city in ORIGINS]))
        )
    }
    now = now_utc()
    countries = list(CURRENCIES)
    insert_rows(
        Partner,
        [
            {
                "public_id": uuid.uuid4(),
                "office_id": offices[countries[i % len(countries)]].id,
                "name": f"Bench partner {i:04d}",
                "country_code": countries[i % len(countries)],
                "focal_point_email": f"p{i}@partner.example",
                "vetting_status": "approved",
                "agreement_number": f"BA-{i:04d}",
                "agreement_valid_from": dt.date(2020, 1, 1),
                "agreement_valid_until": dt.date(2099, 12, 31),
                "regions": [],
                "languages": [],
                "created_at": now,
                "updated_at": now,
            }
            for i in range(partners)
        ],
    )
    partner_rows = db.session.execute(
        sa.select(Partner.id, Partner.country_code).order_by(Partner.id)
    ).all()
    option_rows = []
    for partner_id, country in partner_rows:
        currency, rate, _cities = CURRENCIES[country]
        for _ in range(options_per_partner):
            cost_eur = rng.randrange(5_000, 150_000)
            option_rows.append(
                {
                    "public_id": uuid.uuid4(),
                    "partner_id": partner_id,
                    "country_code": country,
                    "category": rng.choice(list(SupportCategory)).value,
                    "status": "published",
                    "service_area": [],
                    "sexes": [],
                    "vulnerabilities_served": [],
                    "vulnerabilities_required": [],
                    "languages_required": [],
                    "eligibility_notes": "",
                    "cost_minor": int(cost_eur / rate),
                    "currency": currency,
                    "cost_basis": "per_person",
                    "delivery_mode": "service",
                    "cost_eur_minor": cost_eur,
                    "eur_rate": rate,
                    "lead_time_days": rng.randrange(0, 30),
                    "delivery_languages": ["en"],
                    "required_documents": [],
                    "capacity_places": rng.randrange(5, 30),
                    "capacity_period": "month",
                    "last_verified_at": now - dt.timedelta(days=rng.randrange(0, 150)),
                    "created_at": now,
                    "updated_at": now,
                }
            )
    insert_rows(SupportOption, option_rows)
    options = db.session.execute(
        sa.select(
            SupportOption.id,
            SupportOption.partner_id,
            SupportOption.country_code,
            SupportOption.cost_minor,
        ).order_by(SupportOption.id)
    ).all()
    texts, locations = [], []
    by_country: dict[str, list[tuple[int, int, int]]] = {c: [] for c in CURRENCIES}
    for option_id, partner_id, country, cost_minor in options:
        city = rng.choice(CURRENCIES[country][2])
        craft = rng.choice(CRAFTS)
        texts.append(
            {
                "option_id": option_id,
                "language": "en",
                "title": f"{craft.capitalize()} support in {city}",
                "description": f"Practical {craft} help for returnees near {city}.",
            }
        )
        locations.append({"option_id": option_id, "city": city, "region": "", "address": ""})
        by_country[country].append((option_id, partner_id, cost_minor))
    insert_rows(SupportOptionText, texts)
    insert_rows(SupportOptionLocation, locations)
    return {"by_country": by_country, "offices": offices}


def _milestones(
    steps: Sequence[MilestoneStep],
    *,
    plan_id: int,
    case_id: int,
    lines: dict[int, bool],
    approved_on: dt.date,
    offices: dict[Responsible | None, int],
    rng: random.Random,
) -> list[dict[str, Any]]:
    """An approved plan's milestones as its approval schedules them from the default template
    (a delivery step per line; ``lines``: line id -> delivered), in a state the follow-up
    sweep could have left them in by today."""
    today = now_utc().date()
    rows = []
    for step in steps:
        due = approved_on + dt.timedelta(days=step.offset_days)
        each = lines.items() if step.kind == MilestoneKind.LINE_DELIVERED else [(None, False)]
        for line_id, done in each:
            status, level = MilestoneStatus.UPCOMING, 0
            if (
                done
                or step.kind == MilestoneKind.PLAN_AGREED
                or (due < today and rng.random() < 0.8)
            ):
                status = MilestoneStatus.DONE
            elif due < today:
                status, level = MilestoneStatus.OVERDUE, rng.choice([0, 1, 2])
            elif due - dt.timedelta(days=step.reminder_days) <= today:
                status = MilestoneStatus.DUE
            rows.append(
                {
                    "plan_id": plan_id,
                    "returnee_id": case_id,
                    "plan_line_id": line_id,
                    "office_id": offices.get(step.responsible, offices[None]),
                    "step_key": step.key if line_id is None else f"{step.key}:{line_id}",
                    "kind": step.kind.value,
                    "name": step.name,
                    "responsible": step.responsible.value,
                    **milestone_dates(step, due),
                    "status": status.value,
                    "escalation_level": level,
                    "completed_at": None
                    if status != MilestoneStatus.DONE
                    else dt.datetime.combine(min(due, today), dt.time(12), dt.UTC),
                    "completed_by_id": None,
                    "created_at": dt.datetime.combine(approved_on, dt.time(12), dt.UTC),
                }
            )
    return rows


def _amendment(
    amendment_id: int, plan_id: int, number: int, status: AmendmentStatus, at: dt.datetime
) -> dict[str, Any]:
    decided = status == AmendmentStatus.APPROVED
    return {
        "id": amendment_id,
        "plan_id": plan_id,
        "number": number,
        "status": status.value,
        "reason": "The partner declined" if decided else "The family needs more",
        "visit_id": None,
        "opened_at": at + dt.timedelta(days=8),
        "opened_by_id": None,
        "justification": "",
        "needs_approval": False,
        "total_before_eur_minor": None,
        "total_after_eur_minor": None,
        "review_comment": "",
        "submitted_at": at + dt.timedelta(days=9) if decided else None,
        "feasible_at": at + dt.timedelta(days=10) if decided else None,
        "feasible_by_id": None,
        "decided_at": at + dt.timedelta(days=10) if decided else None,
        "decided_by_id": None,
    }


def generate(
    cases: int, partners: int, options_per_partner: int, lines: int, seed: int = 5
) -> Bench:
    """Empty the bench's tables and generate what the module docstring lists. Plans, lines,
    holds, referrals and capacities get their ids here, so a hold names its line and a line its
    hold and referral in the same insert, without updates."""
    rng = random.Random(seed)
    _empty()
    people, _sampled = generate_cases(cases)
    market = _marketplace(partners, options_per_partner, rng)
    by_country, offices = market["by_country"], market["offices"]
    counsellor_of = {u.office_id: u.id for u in people["counsellors"]}
    managers = {u.office_id: u for u in people["managers"]}
    manager_of = {country: managers[office.id].id for country, office in offices.items()}
    labels = {u.id: u.full_name for group in people.values() for u in group}
    admin_id = people["admins"][0].id
    rule = db.session.scalars(sa.select(BudgetCapRule).where(BudgetCapRule.is_default)).one()
    cap = rule.cap_minor(1, 0)
    case_rows = db.session.execute(
        sa.select(
            Returnee.id,
            Returnee.host_office_id,
            Returnee.return_country_code,
            Returnee.case_number,
            Returnee.first_name,
            Returnee.origin_office_id,
            Returnee.created_at,
        ).order_by(Returnee.id)
    ).all()
    counts = _line_counts(len(case_rows), lines, rng)
    steps_of_template = db.session.scalars(
        sa.select(MilestoneStep)
        .join(MilestoneTemplate)
        .where(MilestoneTemplate.is_default)
        .order_by(MilestoneStep.position)
    ).all()
    statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=len(case_rows))
    capacity_of: dict[tuple[int, dt.date], int] = {}
    # capacity id -> [held, used, last waitlist number]
    capacity_counts: dict[int, list[int]] = {}
    examples: dict[tuple[PlanStatus, int, bool, bool], int] = {}
    line_id = hold_id = referral_id = amendment_id = 0

    def capacity(option_id: int, month: dt.date, new_rows: list[dict[str, Any]]) -> int:
        """The id of the option's capacity row for ``month`` (a new row in ``new_rows``)."""
        if (option_id, month) not in capacity_of:
            capacity_of[option_id, month] = len(capacity_of) + 1
            capacity_counts[len(capacity_of)] = [0, 0, 0]
            new_rows.append(
                {
                    "id": len(capacity_of),
                    "option_id": option_id,
                    "period_start": month,
                    "period_end": (month + dt.timedelta(days=32)).replace(day=1)
                    - dt.timedelta(days=1),
                    "places_total": 0,
                    "places_held": 0,
                    "places_used": 0,
                    "waitlist_last": 0,
                }
            )
        return capacity_of[option_id, month]

    for chunk_start in range(0, len(case_rows), PLANS_PER_CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {
            model: []
            for model in (
                Plan,
                PlanAmendment,
                OptionCapacity,
                PlaceHold,
                Referral,
                PlanLine,
                LineChange,
                Delivery,
                Milestone,
            )
        }
        revisions: list[dict[str, Any]] = []
        for i in range(chunk_start, min(chunk_start + PLANS_PER_CHUNK, len(case_rows))):
            case_id, host_id, country, number, first_name, origin_id, created_at = case_rows[i]
            status, plan_id = statuses[i], i + 1
            currency, rate, _cities = CURRENCIES[country]
            counsellor_id, manager_id = counsellor_of[host_id], manager_of[country]
            at = created_at + dt.timedelta(days=1)
            month = at.date().replace(day=1)
            total, waitlisted, snapshot_lines, delivered = 0, False, [], {}
            approved_total, closed_lines, amendment_steps, plan_lines = 0, [], [], []
            chosen = rng.sample(by_country[country], counts[i] + 7)  # spares: replacements
            for option_id, partner_id, cost_minor in chosen[: counts[i]]:
                line_id += 1
                quantity = rng.choice([1, 1, 1, 2, 3])
                line_total = to_eur_minor(cost_minor * quantity, currency, rate)
                total += line_total
                snapshot_lines.append({"option_id": option_id, "quantity": quantity})
                line = {
                    "id": line_id,
                    "plan_id": plan_id,
                    "option_id": option_id,
                    "quantity": quantity,
                    "notes": "",
                    "unit_cost_minor": cost_minor,
                    "currency": currency,
                    "eur_rate": rate,
                    "rate_on": at.date(),
                    "total_eur_minor": line_total,
                    "hold_id": None,
                    "referral_id": None,
                    "created_at": at,
                    "status": LineStatus.ACTIVE.value,
                    "amendment_id": None,
                    "replaces_id": None,
                    "effective_on": at.date() if status == PlanStatus.APPROVED else None,
                    "closed_at": None,
                }
                rows[PlanLine].append(line)
                plan_lines.append(line)
                delivered[line_id] = False
                if status == PlanStatus.DRAFT:
                    continue  # places are held when the plan is submitted
                capacity_id = capacity(option_id, month, rows[OptionCapacity])
                tally = capacity_counts[capacity_id]
                referral: ReferralStatus | None = None
                if status == PlanStatus.APPROVED:
                    referral = rng.choices(list(REFERRALS), weights=list(REFERRALS.values()))[0]
                    hold_status = {
                        ReferralStatus.DELIVERED: HoldStatus.CONSUMED,
                        ReferralStatus.DECLINED: HoldStatus.RELEASED,
                        ReferralStatus.EXPIRED: HoldStatus.RELEASED,
                    }.get(referral, HoldStatus.HELD)
                else:
                    hold_status = HoldStatus.WAITLISTED if rng.random() < 0.15 else HoldStatus.HELD
                waitlist_number = None
                if hold_status == HoldStatus.WAITLISTED:
                    tally[2] += 1
                    waitlist_number, waitlisted = tally[2], True
                elif hold_status == HoldStatus.HELD:
                    tally[0] += 1
                elif hold_status == HoldStatus.CONSUMED:
                    tally[1] += 1
                hold_id += 1
                rows[PlaceHold].append(
                    {
                        "id": hold_id,
                        "option_id": option_id,
                        "capacity_id": capacity_id,
                        "reference": f"plan-line:{line_id}",
                        "status": hold_status.value,
                        "waitlist_number": waitlist_number,
                        "created_at": at,
                        "closed_at": at if hold_status == HoldStatus.RELEASED else None,
                    }
                )
                line["hold_id"] = hold_id
                if referral is None:
                    continue
                referral_id += 1
                answered = referral != ReferralStatus.SENT
                rows[Referral].append(
                    {
                        "id": referral_id,
                        "public_id": uuid.uuid4(),
                        "reference": f"plan-line:{line_id}",
                        "option_id": option_id,
                        "partner_id": partner_id,
                        "hold_id": hold_id,
                        "office_id": offices[country].id,
                        "status": referral.value,
                        "decline_reason": (
                            "no_capacity" if referral == ReferralStatus.DECLINED else None
                        ),
                        "answer_note": "",
                        "sent_at": at,
                        "expires_at": at + dt.timedelta(days=7),
                        "answered_at": at + dt.timedelta(days=2) if answered else None,
                        "answered_by_id": None,
                        "case_number": number,
                        "first_name": first_name,
                        "quantity": quantity,
                        "starts_on": at.date() + dt.timedelta(days=14),
                        "note_for_partner": "",
                        "vulnerability_note": "",
                        "contact_name": labels[manager_id],
                        "contact_email": f"m{manager_id}@bench.example",
                        "contact_phone": "",
                    }
                )
                line["referral_id"] = referral_id
                if referral in amendments.CLOSED_BY_REFERRAL:  # no longer counts in the total
                    line["status"] = amendments.CLOSED_BY_REFERRAL[referral].value
                    line["closed_at"] = at + dt.timedelta(days=7)
                    total -= line_total
                    closed_lines.append(line)
                if referral == ReferralStatus.DELIVERED:
                    delivered[line_id] = True
                    # one instalment per unit (a line of several months of rent): the plan
                    # page sums them per line
                    for number in range(1, quantity + 1):
                        rows[Delivery].append(
                            {
                                "plan_line_id": line_id,
                                "instalment": number,
                                "final": number == quantity,
                                "delivered_on": at.date() + dt.timedelta(days=30 * number),
                                "quantity": 1,
                                "amount_minor": cost_minor,
                                "currency": currency,
                                "eur_rate": rate,
                                "amount_eur_minor": line_total // quantity,
                                "amount_line_minor": cost_minor,
                                "invoice_number": f"INV-{line_id}-{number}",
                                "note": "",
                                "certificate_key": f"bench-{line_id}-{number}",
                                "certificate_name": "handover.pdf",
                                "certificate_type": "application/pdf",
                                "certificate_size": 20_000,
                                "certificate_sha256": "0" * 64,
                                "recorded_by_id": manager_id,
                                "recorded_at": at + dt.timedelta(days=30 * number + 1),
                            }
                        )
            if status == PlanStatus.APPROVED:
                approved_total = total + sum(line["total_eur_minor"] for line in closed_lines)
                replaced = [line for line in closed_lines if rng.random() < REPLACED]
                amending = rng.random() < AMENDING
                spare = iter(chosen[counts[i] :])
                if replaced:
                    amendment_id += 1
                    rows[PlanAmendment].append(
                        _amendment(amendment_id, plan_id, 1, AmendmentStatus.APPROVED, at)
                    )
                    amendment_steps += [
                        ("amend_open", counsellor_id, 1),
                        ("amend_replace_line", counsellor_id, 1),
                        ("amend_submit", counsellor_id, 1),
                        ("amend_confirm_apply", manager_id, 1),
                    ]
                for old in replaced:
                    option_id, partner_id, cost_minor = next(spare)
                    line_id, hold_id, referral_id = line_id + 1, hold_id + 1, referral_id + 1
                    line_total = to_eur_minor(cost_minor, currency, rate)
                    total += line_total
                    month_then = (at + dt.timedelta(days=10)).date().replace(day=1)
                    capacity_then = capacity(option_id, month_then, rows[OptionCapacity])
                    capacity_counts[capacity_then][0] += 1
                    rows[PlanLine].append(
                        {
                            **old,
                            "id": line_id,
                            "option_id": option_id,
                            "quantity": 1,
                            "unit_cost_minor": cost_minor,
                            "total_eur_minor": line_total,
                            "hold_id": hold_id,
                            "referral_id": referral_id,
                            "status": LineStatus.ACTIVE.value,
                            "amendment_id": amendment_id,
                            "replaces_id": old["id"],
                            "effective_on": (at + dt.timedelta(days=10)).date(),
                            "closed_at": None,
                        }
                    )
                    rows[PlaceHold].append(
                        {
                            "id": hold_id,
                            "option_id": option_id,
                            "capacity_id": capacity_then,
                            "reference": f"plan-line:{line_id}",
                            "status": HoldStatus.HELD.value,
                            "waitlist_number": None,
                            "created_at": at + dt.timedelta(days=9),
                            "closed_at": None,
                        }
                    )
                    replacement_referral = next(
                        r for r in reversed(rows[Referral]) if r["id"] == old["referral_id"]
                    )
                    rows[Referral].append(
                        {
                            **replacement_referral,
                            "id": referral_id,
                            "public_id": uuid.uuid4(),
                            "reference": f"plan-line:{line_id}",
                            "option_id": option_id,
                            "partner_id": partner_id,
                            "hold_id": hold_id,
                            "status": ReferralStatus.ACCEPTED.value,
                            "decline_reason": None,
                            "sent_at": at + dt.timedelta(days=10),
                            "expires_at": at + dt.timedelta(days=17),
                            "answered_at": at + dt.timedelta(days=11),
                            "quantity": 1,
                        }
                    )
                    delivered[line_id] = False
                if amending:
                    amendment_id += 1
                    number = 2 if replaced else 1
                    rows[PlanAmendment].append(
                        _amendment(amendment_id, plan_id, number, AmendmentStatus.DRAFT, at)
                    )
                    amendment_steps += [
                        ("amend_open", counsellor_id, number),
                        ("amend_add_line", counsellor_id, number),
                        ("amend_change_line", counsellor_id, number),
                    ]
                    option_id, partner_id, cost_minor = next(spare)
                    line_id += 1
                    rows[PlanLine].append(
                        {
                            **plan_lines[0],
                            "id": line_id,
                            "option_id": option_id,
                            "quantity": 1,
                            "unit_cost_minor": cost_minor,
                            "total_eur_minor": to_eur_minor(cost_minor, currency, rate),
                            "hold_id": None,
                            "referral_id": None,
                            "status": LineStatus.PROPOSED.value,
                            "amendment_id": amendment_id,
                            "replaces_id": None,
                            "effective_on": None,
                            "closed_at": None,
                        }
                    )
                    changed = next((x for x in plan_lines if x["status"] == "active"), None)
                    if changed is not None:
                        rows[LineChange].append(
                            {
                                "amendment_id": amendment_id,
                                "line_id": changed["id"],
                                "kind": LineChangeKind.CHANGE.value,
                                "quantity_before": changed["quantity"],
                                "quantity": changed["quantity"] + 1,
                                "notes": None,
                                "total_before_eur_minor": changed["total_eur_minor"],
                                "total_eur_minor": changed["total_eur_minor"] * 2,
                                "reason": "Two children now",
                            }
                        )
                amended = bool(replaced) or amending
                line_rows = counts[i] + len(replaced) + int(amending)
            else:
                amended, line_rows = False, counts[i]
            examples.setdefault((status, line_rows, waitlisted, amended), case_id)
            if status == PlanStatus.APPROVED:
                rows[Milestone] += _milestones(
                    steps_of_template,
                    plan_id=plan_id,
                    case_id=case_id,
                    lines=delivered,
                    approved_on=at.date(),
                    offices={Responsible.COUNSELLOR: host_id, None: origin_id or host_id},
                    rng=rng,
                )
            steps = [("create", counsellor_id), ("add_line", counsellor_id)]
            steps += {
                PlanStatus.DRAFT: [],
                PlanStatus.SUBMITTED: [("submit", counsellor_id)],
                PlanStatus.RETURNED: [("submit", counsellor_id), ("return", manager_id)],
                PlanStatus.FEASIBLE: [("submit", counsellor_id), ("confirm", manager_id)],
                PlanStatus.APPROVED: [
                    ("submit", counsellor_id),
                    ("confirm", manager_id),
                    ("approve", admin_id),
                ],
            }[status]
            steps += [(action, actor_id) for action, actor_id, _number in amendment_steps]
            numbers = [None] * (len(steps) - len(amendment_steps))
            numbers += [number for _action, _actor, number in amendment_steps]
            for version, (action, actor_id) in enumerate(steps, start=1):
                amendment_number = numbers[version - 1]
                revisions.append(
                    {
                        "plan_id": plan_id,
                        "version": version,
                        "action": action,
                        "comment": "Please check the costs" if action == "return" else "",
                        "actor_id": actor_id,
                        "actor_label": labels[actor_id],
                        "at": at + dt.timedelta(hours=version),
                        "snapshot": {
                            "status": status.value,
                            "cap_eur_minor": cap,
                            "total_eur_minor": total,
                            "lines": snapshot_lines,
                            **({"amendment": amendment_number} if amendment_number else {}),
                        },
                    }
                )
            submitted = status != PlanStatus.DRAFT
            rows[Plan].append(
                {
                    "id": plan_id,
                    "returnee_id": case_id,
                    "status": status.value,
                    "version": len(steps),
                    "cap_eur_minor": cap,
                    "cap_rule_id": rule.id,
                    "total_eur_minor": total,
                    "over_cap_justification": "",
                    "review_comment": (
                        "Please check the costs" if status == PlanStatus.RETURNED else ""
                    ),
                    "submitted_at": at if submitted else None,
                    "feasible_at": at
                    if status in {PlanStatus.FEASIBLE, PlanStatus.APPROVED}
                    else None,
                    "feasible_by_id": manager_id
                    if status in {PlanStatus.FEASIBLE, PlanStatus.APPROVED}
                    else None,
                    "approved_at": at if status == PlanStatus.APPROVED else None,
                    "approved_by_id": admin_id if status == PlanStatus.APPROVED else None,
                    "approved_total_eur_minor": approved_total
                    if status == PlanStatus.APPROVED
                    else None,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        for model, model_rows in rows.items():  # in the order of the foreign keys
            insert_rows(model, model_rows)
        insert_rows(PlanRevision, revisions)
    db.session.execute(
        sa.update(OptionCapacity),
        [
            {
                "id": capacity_id,
                "places_total": held + used + rng.randrange(0, 4),
                "places_held": held,
                "places_used": used,
                "waitlist_last": last,
            }
            for capacity_id, (held, used, last) in capacity_counts.items()
        ],
    )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for model in (Plan, PlanAmendment, PlanLine, PlaceHold, Referral, OptionCapacity):
                table = model.__tablename__  # ids were given: the sequences follow them
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return Bench(counsellor_of, manager_of, examples)


@contextmanager
def counted() -> Iterator[list[str]]:
    """The statements sent to the database meanwhile."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].startswith("BEGIN"):  # SQLite's explicit transaction start
            statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def through_services(case_id: int, reader_id: int) -> int:
    """What ``plans.views._page`` asks of the services for a case's plan, the per-request load
    of the signed-in user, and everything ``templates/plans/plan.html`` reads; the lines."""
    reader = db.session.get(User, reader_id)
    assert reader is not None
    plan = services.plan_for_case(case_id, actor=reader)
    case = services.get_case(case_id, actor=reader)
    assert plan is not None
    cap = services.family_cap(plan.returnee)
    waitlist = services.waitlist_positions(plan)
    deliveries = services.deliveries_by_line(plan)
    history = services.revisions(plan.id, actor=reader)
    timeline = plan_timeline(plan.id, case_id)
    amendment = plan.open_amendment
    changes = amendments.pending_changes(plan)
    replaced = amendments.replacements(plan)
    if amendment is not None:
        _ = (amendment.number, amendment.status, amendment.visit, amendment.review_comment)
        _ = (amendments.proposed_total(plan, amendment), amendments.needs_approval(plan, amendment))
    _ = [(a.number, a.status, a.decided_at, a.total_after_eur_minor) for a in plan.amendments]
    _ = (case.case_number, plan.status, plan.version, plan.total_eur_minor, plan.over_cap)
    _ = (cap.adults, cap.dependants, cap.rule.name, cap.rule.per_adult_minor, cap.rule.currency)
    for line in plan.lines:
        option = line.option
        text = option.text("en")
        _ = (text.title if text else None, option.partner.name, [p.city for p in option.locations])
        _ = (line.quantity, line.total_eur_minor, line.eur_rate, line.rate_on)
        _ = (line.hold.status if line.hold else None, waitlist.get(line.id))
        _ = (line.status, line.hold.promoted_at if line.hold else None, changes.get(line.id))
        _ = (line.amendment.number if line.amendment else None, replaced.get(line.id))
        if line.replaces is not None:
            _ = (line.replaces.option.text("en"), line.replaces.status)
        if line.referral is not None:
            _ = (line.referral.status, line.referral.expires_at, line.referral.decline_reason)
        progress = deliveries.get(line.id)
        if progress is not None:
            _ = (progress.instalments_recorded, progress.instalments_planned, progress.complete)
            _ = (progress.remaining_quantity, progress.remaining_minor, progress.next_due_on)
    for entry in timeline:
        item = entry.item
        if entry.kind == "milestone":
            _ = (item.due_on, item.name, item.responsible, item.status)
            _ = (item.escalation_level, item.completed_at)
        elif entry.kind == "notice":
            _ = (item.milestone_name, item.kind, item.level, item.messages, item.sent)
        elif entry.kind == "visit":
            _ = (item.visited_on, item.mode, item.plan_revision_needed, item.findings)
        else:
            _ = (item.taken_on, item.economic, item.social, item.psychosocial)
            _ = (item.composite, item.band, item.flags)
    for revision in history:
        _ = (revision.version, revision.at, revision.action, revision.comment)
        _ = (revision.actor.full_name if revision.actor else None, revision.snapshot)
    return len(plan.lines)


def signed_in(app: Flask, user_id: int) -> FlaskClient:
    """A test client with ``user_id`` signed in, as Flask-Login keeps it in the session."""
    user = db.session.get(User, user_id)
    assert user is not None
    start_session(user)
    db.session.commit()  # SQLite: the request's BEGIN IMMEDIATE would wait for this one
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    return client


def through_http(app: Flask, client: FlaskClient, case_id: int) -> bytes:
    """``GET /cases/<id>/plan``: session, user load, services, forms, template; the page."""
    with app.app_context():  # a fresh context per request as in production: own g and session
        response = client.get(f"/cases/{case_id}/plan")
    assert response.status_code == 200, (case_id, response.status_code)
    return response.data


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--partners", type=int, default=1_000)
    parser.add_argument("--options-per-partner", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with migrated(bench_app(args.database_url)) as app:
        dialect = db.engine.dialect.name
        with stopwatch() as took:
            bench = generate(args.cases, args.partners, args.options_per_partner, args.lines)
        made = {
            model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (
                Plan,
                PlanLine,
                PlaceHold,
                Referral,
                Delivery,
                PlanRevision,
                Milestone,
                PlanAmendment,
                LineChange,
            )
        }
        print(
            f"{dialect}: generated {args.cases} cases, {args.partners} partners, "
            f"{args.partners * args.options_per_partner} options, "
            + ", ".join(f"{n} {table}" for table, n in made.items())
            + f" in {took():.1f} s"
        )
        clients: dict[int, FlaskClient] = {}

        def client_of(user_id: int) -> FlaskClient:
            if user_id not in clients:
                clients[user_id] = signed_in(app, user_id)
            return clients[user_id]

        # same statuses, 1 line against 6: the statement count must not follow the lines
        for status, waitlisted, amended in (
            (PlanStatus.APPROVED, False, False),
            (PlanStatus.APPROVED, False, True),
            (PlanStatus.SUBMITTED, True, False),
        ):
            figures = []
            for lines in (2, 6) if amended else (1, 6):  # amended: a line and its replacement
                case_id = bench.examples[status, lines, waitlisted, amended]
                case = db.session.get(Returnee, case_id)
                assert case is not None
                reader_id = bench.counsellor_of[case.host_office_id]
                through_services(case_id, reader_id)
                db.session.rollback()
                with counted() as service:
                    assert through_services(case_id, reader_id) == lines
                db.session.rollback()
                client = client_of(reader_id)
                through_http(app, client, case_id)
                with counted() as request:
                    page = through_http(app, client, case_id)
                assert page.count(b'data-testid="plan-line"') == lines
                figures.append((len(service), len(request)))
                if figures[0] != figures[-1]:
                    raise SystemExit(
                        f"{status} plan: statements grow with the lines: {figures}\n"
                        + "\n".join(service + request)
                    )
            print(
                f"{dialect}: statements per {status} plan page"
                f"{' with a waitlisted line' if waitlisted else ''}"
                f"{' with amendments' if amended else ''}: services {figures[0][0]}, "
                f"request {figures[0][1]} (the fewest lines and 6 alike)"
            )

        rng = random.Random(8)
        readers = []
        for case_id, host_id, country, shares in db.session.execute(
            sa.select(
                Returnee.id,
                Returnee.host_office_id,
                Returnee.return_country_code,
                Returnee.shares_with_origin,
            )
            .join(Plan, Plan.returnee_id == Returnee.id)
            .where(Plan.id.in_(rng.sample(range(1, args.cases + 1), 2 * (args.requests + 20))))
        ):
            manager = shares and rng.random() < 0.5
            readers.append(
                (case_id, bench.manager_of[country] if manager else bench.counsellor_of[host_id])
            )
        db.session.rollback()
        service_ms: list[float] = []
        request_ms: list[float] = []
        for i, ((case_a, reader_a), (case_b, reader_b)) in enumerate(
            zip(readers[::2], readers[1::2], strict=True)
        ):  # interleaved, so both see the same machine; the first 20 warm up
            one_service = timed(partial(through_services, case_a, reader_a), 1)
            one_request = timed(partial(through_http, app, client_of(reader_b), case_b), 1)
            if i >= 20:
                service_ms += one_service
                request_ms += one_request
        report(f"{dialect}: plan page through the services", service_ms)
        report(f"{dialect}: plan page GET /cases/<id>/plan", request_ms)
        _empty()
        if dialect == "postgresql":
            ok = summary(service_ms)["p95"] < 150 and summary(request_ms)["p95"] < 150
            print(f"target (p95 < 150 ms, both): {'PASS' if ok else 'FAIL'}")
            if not ok:
                raise SystemExit(1)


if __name__ == "__main__":
    main()
