"""A closed case with everything that holds personal data, for the retention tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from reintegration_hub.cases.models import (
    CaseStatus,
    ClosureReason,
    Dependant,
    DependantRelation,
    VulnerabilityEntry,
)
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import MonitoringVisit, VisitMode
from reintegration_hub.plans.models import (
    LineChange,
    LineChangeKind,
    PlanAmendment,
    PlanRevision,
)
from tests.deliveries.helpers import GEL_RATE, World, build_world

ACTOR = SystemActor("test")
NOW = dt.datetime(2032, 6, 1, 3, 45, tzinfo=dt.UTC)
DAYS = 1826


def closed_case(days_ago: int, **world_args: Any) -> World:
    """A full case (plan, referral, delivery, visit, dependant, notes) closed ``days_ago``
    days before ``NOW``."""
    w = build_world(**world_args)
    case = w.case
    case.dependants.append(
        Dependant(relation=DependantRelation.CHILD, date_of_birth=dt.date(2018, 11, 23))
    )
    case.vulnerabilities.append(
        VulnerabilityEntry(
            category=VulnerabilityCategory.SINGLE_PARENT, notes="Eka, 8, needs school help"
        )
    )
    w.plan.over_cap_justification = "Nino Beridze needs the second kit"
    w.line.notes = "Deliver to Nino at home"
    w.referral.note_for_partner = "Call Nino before noon"
    w.referral.vulnerability_note = "Single mother of Eka"
    db.session.add(
        PlanRevision(
            plan_id=w.plan.id, version=2, action="return", comment="Ask Nino", actor_label="x"
        )
    )
    amendment = PlanAmendment(
        plan_id=w.plan.id,
        number=1,
        reason="Nino moved to her sister's",
        justification="Nino Beridze lost her job",
        review_comment="Ask Nino again",
    )
    amendment.changes.append(
        LineChange(
            line_id=w.line.id,
            kind=LineChangeKind.CHANGE,
            quantity_before=1,
            quantity=2,
            notes="Deliver to Nino at her sister's",
            total_before_eur_minor=0,
            total_eur_minor=0,
            reason="Nino asked",
        )
    )
    db.session.add(amendment)
    delivery = Delivery(
        plan_line_id=w.line.id,
        delivered_on=dt.date(2026, 6, 1),
        amount_minor=50000,
        currency="GEL",
        eur_rate=GEL_RATE,
        amount_eur_minor=17000,
        invoice_number="INV-7",
        note="Handed to Nino Beridze",
        certificate_key=f"key-{w.line.id}",
        certificate_name="Nino_Beridze_receipt.pdf",
        certificate_type="application/pdf",
        certificate_size=100,
        certificate_sha256="0" * 64,
    )
    db.session.add(delivery)
    db.session.add(
        MonitoringVisit(
            returnee_id=case.id,
            visited_on=dt.date(2026, 9, 1),
            mode=VisitMode.IN_PERSON,
            findings="Nino runs the shop in Kutaisi",
            next_steps="Call +995 555 000 000",
        )
    )
    db.session.flush()
    record_audit(
        "referral.send",
        w.referral,
        actor=ACTOR,
        changes={"first_name": [None, "Nino"], "quantity": [None, 2]},
    )
    record_audit("delivery.record", delivery, actor=ACTOR, changes={"note": [None, delivery.note]})
    case.status = CaseStatus.CLOSED
    case.closure_reason = ClosureReason.COMPLETED
    case.closed_at = NOW - dt.timedelta(days=days_ago)
    db.session.commit()
    return w
