"""Streamed CSV and XLSX exports of the case list and the follow-up work list: the reader's
scope and the list's filters, case numbers but never names, every export audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import PartnerMember
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core import exports
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Responsible,
)
from reintegration_hub.plans.models import Plan
from tests.factories import UserFactory
from tests.monitoring import casework as w


def _world() -> dict[str, Any]:
    where = w.offices()
    riga = [
        w.case(where, where.riga, first_name="Riganame", last_name="Secretriga") for _ in range(3)
    ]
    prague = [
        w.case(where, where.prague, first_name="Praguename", last_name="Secretprague")
        for _ in range(2)
    ]
    prague.append(
        w.case(
            where,
            where.prague,
            first_name="Closedname",
            last_name="Secretclosed",
            status=CaseStatus.CLOSED,
        )
    )
    db.session.commit()
    return {"where": where, "riga": riga, "prague": prague}


def _csv(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _xlsx(data: bytes) -> list[tuple[Any, ...]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [tuple(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


NAMES = ("Riganame", "Secretriga", "Praguename", "Secretprague", "Closedname", "Secretclosed")


def test_a_prague_counsellors_csv_has_only_prague_cases_and_no_names(
    app: Flask, login: Any
) -> None:
    world = _world()
    client = login(world["where"].prague_counsellor)

    response = client.get("/cases/?format=csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    rows = _csv(body)
    assert sorted(r["Case number"] for r in rows) == sorted(c.case_number for c in world["prague"])
    assert {r["Host office"] for r in rows} == {"IOM Prague"}
    assert not any(c.case_number.encode() in body for c in world["riga"])
    for name in NAMES:
        assert name.encode() not in body


def test_the_export_keeps_the_lists_filters(app: Flask, login: Any) -> None:
    world = _world()
    client = login(world["where"].programme_manager)

    closed = _csv(client.get("/cases/?status=closed&format=csv").get_data())
    assert [r["Case number"] for r in closed] == [world["prague"][2].case_number]
    assert closed[0]["Status"] == "Closed"

    riga = _csv(client.get(f"/cases/?office_id={world['where'].riga.id}&format=csv").get_data())
    assert sorted(r["Case number"] for r in riga) == sorted(c.case_number for c in world["riga"])


def test_xlsx_parses_back_with_every_case_of_the_programme_manager(app: Flask, login: Any) -> None:
    world = _world()
    client = login(world["where"].programme_manager)

    response = client.get("/cases/?format=xlsx")

    assert response.status_code == 200
    assert response.mimetype == exports.CONTENT_TYPES["xlsx"]
    rows = _xlsx(response.get_data())
    header, data = rows[0], rows[1:]
    assert header[0] == "Case number"
    everyone = world["riga"] + world["prague"]
    # newest first
    assert [r[0] for r in data] == [c.case_number for c in sorted(everyone, key=lambda c: -c.id)]
    registered = data[0][header.index("Registered")]
    assert isinstance(registered, dt.datetime)
    flat = repr(rows)
    for name in NAMES:
        assert name not in flat


def test_every_export_is_audited_with_its_filters(app: Flask, login: Any) -> None:
    world = _world()
    pm = world["where"].programme_manager
    client = login(pm)
    client.get("/cases/?status=closed&format=xlsx").get_data()

    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert entry.actor_id == pm.id
    assert entry.object_type == "case_list"
    assert entry.changes["format"] == "xlsx"
    assert entry.changes["filters"] == {"status": "closed"}


def test_text_that_would_be_a_formula_is_written_as_text(app: Flask) -> None:
    [text] = exports.converters([exports.ExportColumn("x", "X")])
    assert text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert text("IOM Riga") == "IOM Riga"


def _milestone(case: Any, office_id: int, status: MilestoneStatus, due: dt.date) -> Milestone:
    plan = w.plan(case, dt.date(2026, 1, 1))
    row = Milestone(
        plan_id=plan.id,
        returnee_id=case.id,
        office_id=office_id,
        step_key="first_contact",
        kind=MilestoneKind.FIRST_CONTACT,
        name="First contact",
        responsible=Responsible.COUNSELLOR,
        due_on=due,
        remind_on=due - dt.timedelta(days=7),
        status=status,
    )
    db.session.add(row)
    db.session.flush()
    return row


def test_the_work_list_export_is_scoped_and_keeps_its_filters(app: Flask, login: Any) -> None:
    world = _world()
    where = world["where"]
    _milestone(world["riga"][0], where.riga.id, MilestoneStatus.OVERDUE, dt.date(2026, 2, 1))
    _milestone(world["prague"][0], where.prague.id, MilestoneStatus.OVERDUE, dt.date(2026, 2, 5))
    _milestone(world["prague"][1], where.prague.id, MilestoneStatus.DUE, dt.date(2026, 1, 20))
    db.session.commit()

    prague = login(where.prague_counsellor)
    rows = _csv(prague.get("/follow-up/?format=csv").get_data())
    # overdue first, then by due date; no Riga case
    assert [r["Case number"] for r in rows] == [
        world["prague"][0].case_number,
        world["prague"][1].case_number,
    ]
    assert rows[0]["Status"] == "Overdue"
    overdue = _xlsx(prague.get("/follow-up/?overdue=1&format=xlsx").get_data())
    assert [r[0] for r in overdue[1:]] == [world["prague"][0].case_number]

    audit = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.object_type == "work_list")
    ).all()
    assert [e.changes["format"] for e in audit] == ["csv", "xlsx"]


def test_list_pages_link_to_their_exports(app: Flask, login: Any) -> None:
    world = _world()
    client = login(world["where"].programme_manager)
    page = client.get("/cases/?status=closed").get_data(as_text=True)
    assert 'data-testid="export-cases-csv"' in page
    assert "format=csv" in page
    assert "status=closed" in page
    work = client.get("/follow-up/").get_data(as_text=True)
    assert 'data-testid="export-work-list-xlsx"' in work


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_role_that_sees_the_work_list_downloads_its_own_part(
    app: Flask, login: Any, fmt: str
) -> None:
    """The case manager's scope is a correlated EXISTS on the case, which the export's own join
    to the case once correlated away entirely (500: "no FROM clauses")."""
    world = _world()
    where = world["where"]
    shared = world["prague"][0]
    shared.shares_with_origin = True  # the Tbilisi office may follow it
    case_manager = UserFactory(role=Role.CASE_MANAGER, office=where.tbilisi)
    partner, option = w.partner_with_option(where, "Kutaisi Business Incubator")
    member = UserFactory(role=Role.PARTNER, office=where.tbilisi)
    db.session.add(PartnerMember(partner_id=partner.id, user_id=member.id))
    contact = _milestone(shared, where.tbilisi.id, MilestoneStatus.OVERDUE, dt.date(2026, 2, 1))
    line = w.referred_line(
        db.session.get(Plan, contact.plan_id), option, sent=w.at(dt.date(2026, 1, 5))
    )
    db.session.add(
        Milestone(
            plan_id=contact.plan_id,
            returnee_id=shared.id,
            plan_line_id=line.id,
            office_id=where.tbilisi.id,
            step_key=f"line_delivered:{line.id}",
            kind=MilestoneKind.LINE_DELIVERED,
            name="Support delivered",
            responsible=Responsible.CASE_MANAGER,
            due_on=dt.date(2026, 3, 1),
            remind_on=dt.date(2026, 2, 20),
            status=MilestoneStatus.DUE,
        )
    )
    _milestone(world["riga"][0], where.riga.id, MilestoneStatus.OVERDUE, dt.date(2026, 1, 10))
    db.session.commit()
    ours = [shared.case_number, shared.case_number]
    everyone = [world["riga"][0].case_number, *ours]  # overdue first, then by due date
    readers = {
        "counsellor": (where.prague_counsellor, ours),
        "case manager": (case_manager, ours),
        "partner": (member, [shared.case_number]),
        "programme manager": (where.programme_manager, everyone),
        "administrator": (UserFactory(role=Role.ADMIN, office=where.home), everyone),
    }
    for role, (user, expected) in readers.items():
        response = login(user).get(f"/follow-up/?format={fmt}")
        assert response.status_code == 200, role
        body = response.get_data()
        numbers = (
            [r["Case number"] for r in _csv(body)]
            if fmt == "csv"
            else [r[0] for r in _xlsx(body)[1:]]
        )
        assert numbers == expected, role
