"""Retention: closed cases past ``CASE_RETENTION_DAYS`` lose their personal data, keep their
aggregates, are audited without personal values, once, in batches."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from partners.models import Referral
from reintegration_hub.cases import retention, services
from reintegration_hub.cases.models import (
    ClosureReason,
    Dependant,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback import services as feedback
from reintegration_hub.feedback.models import FeedbackRequest
from reintegration_hub.followups.models import MonitoringVisit
from reintegration_hub.plans.models import LineChange, PlanAmendment, PlanRevision
from tests.cases.closed_cases import ACTOR, DAYS, NOW, closed_case
from tests.cases.helpers import details, register
from tests.deliveries.helpers import World
from tests.queries import counted_statements

PERSONAL = ("Nino", "Beridze", "Kutaisi", "+995 555 000 000", "1990-04-12", "Eka")


def anonymise(batch_size: int = 500) -> retention.AnonymisationCounts:
    counts = retention.anonymise_closed_cases(NOW, actor=ACTOR, batch_size=batch_size)
    db.session.commit()
    db.session.expire_all()
    return counts


def dump(w: World) -> str:
    """Every row of the case as text, audit rows included, to look for personal values."""
    rows: list[Any] = [
        db.session.get_one(Returnee, w.case.id),
        *db.session.scalars(sa.select(Dependant)),
        *db.session.scalars(sa.select(VulnerabilityEntry)),
        *db.session.scalars(sa.select(Referral)),
        *db.session.scalars(sa.select(Delivery)),
        *db.session.scalars(sa.select(MonitoringVisit)),
        *db.session.scalars(sa.select(PlanRevision)),
        *db.session.scalars(sa.select(PlanAmendment)),
        *db.session.scalars(sa.select(LineChange)),
        *db.session.scalars(sa.select(FeedbackRequest)),
        w.plan,
        w.line,
    ]
    columns = [
        {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs} for row in rows
    ]
    audit = [e.changes for e in db.session.scalars(sa.select(AuditEntry))]
    return json.dumps([columns, audit], default=str)


def test_personal_fields_go_and_aggregates_stay(app: Flask) -> None:
    w = closed_case(DAYS)
    before = dump(w)
    assert all(value in before for value in PERSONAL)

    counts = anonymise()

    assert counts == retention.AnonymisationCounts(
        cases=1, dependants=1, referrals=1, deliveries=1, visits=1, audit_entries=3
    )
    after = dump(w)
    for value in PERSONAL:
        assert value not in after
    case = db.session.get_one(Returnee, w.case.id)
    assert case.anonymised_at is not None
    assert (case.first_name, case.last_name, case.contact_after_return) == ("", "", "")
    assert case.date_of_birth == dt.date(1990, 7, 1)  # the year stays, for age bands
    # the aggregates
    assert (case.sex, case.nationality, case.return_country_code, case.return_region) == (
        details().sex,
        "GE",
        "GE",
        "Imereti",
    )
    assert case.closure_reason == ClosureReason.COMPLETED
    assert case.case_number == w.case.case_number
    assert [d.date_of_birth for d in case.dependants] == [dt.date(2018, 7, 1)]
    assert [(v.category, v.notes) for v in case.vulnerabilities] == [
        (VulnerabilityCategory.SINGLE_PARENT, "")
    ]
    delivery = db.session.scalars(sa.select(Delivery)).one()
    assert (delivery.amount_minor, delivery.amount_eur_minor, delivery.invoice_number) == (
        50000,
        17000,
        "INV-7",
    )
    assert delivery.certificate_name == f"certificate-{delivery.id}.pdf"
    assert delivery.certificate_key == f"key-{w.line.id}"  # the file stays: financial evidence
    assert w.plan.total_eur_minor == 17000


def test_each_case_gets_one_audit_row_without_personal_values(app: Flask) -> None:
    w = closed_case(DAYS)
    anonymise()
    (entry,) = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.anonymise")
    ).all()
    assert (entry.object_type, entry.object_id, entry.office_id) == (
        "Returnee",
        str(w.case.id),
        w.host.id,
    )
    assert entry.actor_label == "system:test"
    assert set(entry.changes) == {"anonymised_at", "cutoff"}
    registered = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.register")
    ).one()
    assert registered.changes["return_city"] == [None, "[redacted]"]
    assert registered.changes["return_region"] == [None, "Imereti"]  # not personal: kept


def test_only_cases_past_retention_are_anonymised_and_only_once(app: Flask) -> None:
    due = closed_case(DAYS)
    young = closed_case(DAYS - 1)
    open_case = register(due.counsellor, first_name="Open")
    db.session.commit()

    assert anonymise().cases == 1
    assert anonymise() == retention.AnonymisationCounts()  # idempotent
    assert db.session.get_one(Returnee, due.case.id).anonymised_at is not None
    assert db.session.get_one(Returnee, young.case.id).first_name == "Nino"
    assert db.session.get_one(Returnee, open_case.id).first_name == "Open"
    assert retention.cases_due(NOW + dt.timedelta(days=1)) == 1
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "case.anonymise"))
        == 1
    )


def test_the_retention_period_comes_from_the_configuration(make_app: Any) -> None:
    app = make_app(CASE_RETENTION_DAYS=30)
    with app.app_context():
        w = closed_case(31)
        assert anonymise().cases == 1
        assert db.session.get_one(Returnee, w.case.id).first_name == ""


def test_batches_take_a_few_statements_whatever_their_size(app: Flask) -> None:
    for _ in range(2):
        closed_case(DAYS)
    with counted_statements() as two:
        assert retention.anonymise_closed_cases(NOW, actor=ACTOR, batch_size=10).cases == 2
    db.session.rollback()
    for _ in range(3):
        closed_case(DAYS)
    with counted_statements() as five:
        assert retention.anonymise_closed_cases(NOW, actor=ACTOR, batch_size=10).cases == 5
    db.session.commit()
    assert len(five) == len(two)


def test_a_batch_stops_at_its_size_and_the_next_takes_the_rest(app: Flask) -> None:
    for _ in range(3):
        closed_case(DAYS)
    assert anonymise(batch_size=2).cases == 2
    assert anonymise(batch_size=2).cases == 1
    assert anonymise(batch_size=2).cases == 0


def test_later_registrations_never_match_an_anonymised_case(app: Flask) -> None:
    w = closed_case(DAYS)
    anonymise()
    matches = services.find_duplicates(
        first_name="",
        last_name="",
        date_of_birth=dt.date(1990, 7, 1),
        nationality="GE",
        actor=w.counsellor,
    )
    assert matches == []
    young = closed_case(10)
    matches = services.find_duplicates(
        first_name="Nino",
        last_name="Beridze",
        date_of_birth=dt.date(1990, 4, 12),
        nationality="GE",
        actor=w.counsellor,
    )
    assert [m.case_id for m in matches] == [young.case.id]


def test_an_anonymised_case_cannot_be_edited(app: Flask) -> None:
    w = closed_case(DAYS)
    anonymise()
    with pytest.raises(Conflict):
        services.update_case(w.case.id, details(), actor=w.counsellor)
    consent = services.ConsentInput(True, True, now_utc().date())
    with pytest.raises(Conflict):
        services.record_consent(w.case.id, consent, actor=w.counsellor)


def test_the_case_page_says_the_case_was_anonymised(
    app: Flask, client: FlaskClient, login: Any
) -> None:
    w = closed_case(DAYS)
    anonymise()
    login(w.counsellor)
    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert 'data-testid="anonymised"' in page
    assert "1990" in page
    assert "Nino" not in page
    assert f"/cases/{w.case.id}/edit" not in page


def test_the_returnees_feedback_comment_goes_and_the_scores_stay(app: Flask) -> None:
    w = closed_case(DAYS)
    delivery = db.session.scalars(sa.select(Delivery)).one()
    asked = feedback.request_feedback(delivery, actor=w.case_manager)
    comment = "Nino Beridze: the kit broke, call me on +995 555 000 000"
    feedback.answer_feedback(asked.request.id, {w.line.id: 2}, comment)
    db.session.commit()
    audit = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_type == "FeedbackRequest")
    ).all()
    assert audit  # requested, answered
    assert "kit broke" not in json.dumps([entry.changes for entry in audit])

    counts = anonymise()

    assert counts.feedback == 1
    answered = db.session.get_one(FeedbackRequest, asked.request.id)
    assert answered.comment == ""
    assert answered.answered_at is not None
    assert [score.score for score in answered.scores] == [2]  # partner performance counts it
    assert "kit broke" not in dump(w)
