"""Case notes: written by the case's offices, read within the case's scope, corrected by their
author the same day, never deleted, audited; a follow-up day makes a task; retention blanks
the text."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.cases import notes, retention
from reintegration_hub.cases import services as cases
from reintegration_hub.cases.models import CaseNote, CaseStatus, ClosureReason, NoteKind
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.home import todo
from tests.cases.closed_cases import ACTOR, DAYS, NOW, closed_case
from tests.cases.helpers import case_manager, register
from tests.clock import TODAY, travel
from tests.factories import bearer, user_with_role
from tests.plans.helpers import World, other_counsellor, world


@pytest.fixture
def w(app: Flask) -> World:
    return world()


def note(**overrides: object) -> notes.NoteInput:
    values: dict[str, object] = {
        "kind": NoteKind.PHONE_CALL,
        "noted_on": TODAY,
        "text": "Called Nino: the shop lease is signed.",
        **overrides,
    }
    return notes.NoteInput(**values)  # type: ignore[arg-type]


def audit_rows(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def test_the_host_and_origin_office_write_notes_and_every_write_is_audited(w: World) -> None:
    mine = notes.add_note(w.case.id, note(), actor=w.counsellor)
    theirs = notes.add_note(
        w.case.id, note(kind=NoteKind.CONTACT_ATTEMPT, text="  No answer.  "), actor=w.case_manager
    )

    assert theirs.text == "No answer."  # trimmed
    (added, added_too) = audit_rows("case_note.add")
    assert (added.object_type, added.object_id, added.actor_id) == (
        "CaseNote",
        str(mine.id),
        w.counsellor.id,
    )
    assert added.office_id == w.riga.id
    assert added.changes["text"] == [None, "Called Nino: the shop lease is signed."]
    assert added_too.actor_id == w.case_manager.id
    listed = notes.case_notes(w.case.id, actor=user_with_role(Role.ADMIN))
    assert [n.id for n in listed.items] == [theirs.id, mine.id]  # newest first
    assert listed.total == 2


def test_another_office_never_sees_nor_writes_the_notes(w: World, login) -> None:
    notes.add_note(w.case.id, note(), actor=w.counsellor)
    db.session.commit()
    stranger = other_counsellor()

    with pytest.raises(NotFound):
        notes.case_notes(w.case.id, actor=stranger)
    with pytest.raises(NotFound):
        notes.add_note(w.case.id, note(), actor=stranger)
    client = login(stranger)
    assert client.get(f"/cases/{w.case.id}").status_code == 404
    refused = client.post(f"/cases/{w.case.id}/notes", data=form_data())
    assert refused.status_code == 404
    api = client.get(f"/api/v1/cases/{w.case.id}/notes", headers=bearer(stranger))
    assert api.status_code == 404
    assert "shop lease" not in api.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote)) == 1


def test_a_case_manager_sees_notes_only_of_cases_shared_with_the_origin_office(
    w: World,
) -> None:
    kept = register(w.counsellor, consent_origin=False, first_name="Keti")
    notes.add_note(kept.id, note(text="Not for Tbilisi"), actor=w.counsellor)
    notes.add_note(w.case.id, note(), actor=w.counsellor)

    assert notes.case_notes(w.case.id, actor=w.case_manager).total == 1
    with pytest.raises(NotFound):
        notes.case_notes(kept.id, actor=w.case_manager)
    with pytest.raises(NotFound):
        notes.add_note(kept.id, note(), actor=case_manager(w.tbilisi))


def test_administrators_and_programme_managers_read_but_do_not_write(w: World) -> None:
    notes.add_note(w.case.id, note(), actor=w.counsellor)
    assert notes.case_notes(w.case.id, actor=w.programme_manager).total == 1
    with pytest.raises(PermissionDenied):
        notes.add_note(w.case.id, note(), actor=user_with_role(Role.ADMIN))


def test_the_author_corrects_a_note_the_same_day_only(w: World, time_machine) -> None:
    row = notes.add_note(w.case.id, note(), actor=w.counsellor)
    with pytest.raises(PermissionDenied):
        notes.correct_note(row.id, note(text="Changed by another"), actor=w.case_manager)

    notes.correct_note(
        row.id, note(text="Called Nino: lease signed on Monday."), actor=w.counsellor
    )

    (corrected,) = audit_rows("case_note.correct")
    assert corrected.changes["text"] == [
        "Called Nino: the shop lease is signed.",
        "Called Nino: lease signed on Monday.",
    ]
    assert row.corrected_at is not None
    travel(time_machine, TODAY + dt.timedelta(days=1))
    with pytest.raises(Conflict):
        notes.correct_note(row.id, note(noted_on=TODAY, text="Too late"), actor=w.counsellor)
    assert db.session.get_one(CaseNote, row.id).text == "Called Nino: lease signed on Monday."


def test_dates_out_of_range_are_refused_at_their_field(w: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        notes.add_note(
            w.case.id,
            note(
                noted_on=TODAY + dt.timedelta(days=1),
                follow_up_on=TODAY - dt.timedelta(days=1),
                text="   ",
            ),
            actor=w.counsellor,
        )
    assert set(refused.value.field_errors) == {"noted_on", "follow_up_on", "text"}
    with pytest.raises(InvalidInput) as too_far:
        notes.add_note(
            w.case.id,
            note(follow_up_on=TODAY + dt.timedelta(days=2 * 366)),
            actor=w.counsellor,
        )
    assert set(too_far.value.field_errors) == {"follow_up_on"}
    with pytest.raises(InvalidInput):
        notes.add_note(w.case.id, note(noted_on=dt.date(1899, 12, 31)), actor=w.counsellor)


def test_a_follow_up_becomes_a_task_of_its_author_until_done(w: World, login, time_machine) -> None:
    due = notes.add_note(
        w.case.id, note(follow_up_on=TODAY + dt.timedelta(days=3)), actor=w.counsellor
    )
    notes.add_note(w.case.id, note(text="No follow-up"), actor=w.counsellor)
    notes.add_note(w.case.id, note(follow_up_on=TODAY + dt.timedelta(days=3)), actor=w.case_manager)
    db.session.commit()
    assert todo.my_notes(w.counsellor).count == 0  # not yet due

    travel(time_machine, TODAY + dt.timedelta(days=4))
    mine = todo.my_notes(w.counsellor)
    assert [n.id for n in mine.first] == [due.id]
    assert todo.my_notes(other_counsellor()).count == 0
    assert todo.my_notes(user_with_role(Role.ADMIN)) is None
    client = login(w.counsellor)
    page = client.get("/").get_data(as_text=True)
    assert 'data-testid="todo-notes-count">1<' in page
    assert f"/cases/notes/{due.id}/done" in page

    assert login(w.case_manager).post(f"/cases/notes/{due.id}/done").status_code == 403
    done = login(w.counsellor).post(f"/cases/notes/{due.id}/done", data={"back": "home"})
    assert done.status_code == 302
    assert done.location.endswith("/")
    db.session.expire_all()
    assert todo.my_notes(w.counsellor).count == 0
    assert len(audit_rows("case_note.follow_up_done")) == 1


def test_a_closed_case_leaves_no_follow_up(w: World, time_machine) -> None:
    notes.add_note(w.case.id, note(follow_up_on=TODAY), actor=w.counsellor)
    assert todo.my_notes(w.counsellor).count == 1
    cases.change_case_status(
        w.case.id, CaseStatus.CLOSED, reason=ClosureReason.WITHDREW, actor=w.counsellor
    )
    assert todo.my_notes(w.counsellor).count == 0


def form_data(**overrides: str) -> dict[str, str]:
    return {
        "kind": "phone_call",
        "noted_on": TODAY.isoformat(),
        "text": "Called after arrival",
        "follow_up_on": "",
        **overrides,
    }


def test_the_case_page_lists_notes_and_writes_them(w: World, login) -> None:
    db.session.commit()
    client = login(w.counsellor)
    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert 'data-testid="note-form"' in page
    assert f'value="{TODAY.isoformat()}"' in page  # the date defaults to today

    sent = client.post(f"/cases/{w.case.id}/notes", data=form_data())
    assert sent.status_code == 302
    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert "Called after arrival" in page
    assert 'data-testid="note-correct"' in page
    assert "Called after arrival" in login(w.case_manager).get(f"/cases/{w.case.id}").get_data(
        as_text=True
    )


def test_the_notes_are_paged(w: World, login) -> None:
    for number in range(12):
        notes.add_note(w.case.id, note(text=f"Note number {number:02d}"), actor=w.counsellor)
    db.session.commit()
    client = login(w.counsellor)
    first = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert "Note number 11" in first
    assert "Note number 02" in first
    assert "Note number 01" not in first
    second = client.get(f"/cases/{w.case.id}?notes_page=2").get_data(as_text=True)
    assert "Note number 01" in second
    assert "Note number 11" not in second


#: A lone surrogate cannot travel in a form (UTF-8): the API tests send it.
FORM_HOSTILE = {
    "text": ["a\x00b", "x" * 5000],
    "noted_on": ["9999-01-01", "1899-12-31", str(TODAY + dt.timedelta(days=1))],
    "follow_up_on": ["9999-01-01", str(TODAY - dt.timedelta(days=1))],
    "kind": ["nonsense\x00"],
}
HOSTILE = FORM_HOSTILE | {"text": [*FORM_HOSTILE["text"], "\ud800"]}


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in FORM_HOSTILE.items() for v in values]
)
def test_hostile_input_on_the_page_is_refused_at_the_field(
    w: World, login, field: str, value: str
) -> None:
    db.session.commit()
    client: FlaskClient = login(w.counsellor)
    answer = client.post(f"/cases/{w.case.id}/notes", data=form_data(**{field: value}))
    assert answer.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseNote)) == 0


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in HOSTILE.items() for v in values]
)
def test_hostile_input_to_the_api_is_a_422_naming_the_field(
    w: World, client: FlaskClient, field: str, value: str
) -> None:
    db.session.commit()
    body = {"kind": "phone_call", "noted_on": TODAY.isoformat(), "text": "Called"}
    body[field] = value
    answer = client.post(
        f"/api/v1/cases/{w.case.id}/notes",
        data=json.dumps(body),
        content_type="application/json",
        headers=bearer(w.counsellor),
    )
    assert answer.status_code == 422
    assert field in json.dumps(answer.get_json())


def test_the_api_writes_and_lists_notes_and_audits_the_read(w: World, client: FlaskClient) -> None:
    db.session.commit()
    created = client.post(
        f"/api/v1/cases/{w.case.id}/notes",
        json={
            "kind": "counselling",
            "noted_on": TODAY.isoformat(),
            "text": "Session before return",
            "follow_up_on": (TODAY + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(w.counsellor),
    )
    assert created.status_code == 201
    assert created.get_json()["follow_up_on"] == (TODAY + dt.timedelta(days=7)).isoformat()
    listed = client.get(f"/api/v1/cases/{w.case.id}/notes", headers=bearer(w.case_manager))
    assert listed.status_code == 200
    assert [n["text"] for n in listed.get_json()] == ["Session before return"]
    assert "X-Pagination" in listed.headers
    (read,) = audit_rows("case_note.read")
    assert (read.object_type, read.object_id, read.actor_id) == (
        "Returnee",
        str(w.case.id),
        w.case_manager.id,
    )
    refused = client.post(
        f"/api/v1/cases/{w.case.id}/notes",
        json={"kind": "other", "noted_on": TODAY.isoformat(), "text": "x"},
        headers=bearer(w.programme_manager),
    )
    assert refused.status_code == 403


def test_retention_removes_the_notes_text(app: Flask) -> None:
    c = closed_case(DAYS)
    row = notes.add_note(
        c.case.id,
        note(noted_on=dt.date(2026, 1, 5), text="Nino says her brother Levan threatens her"),
        actor=c.counsellor,
    )
    db.session.commit()

    counts = retention.anonymise_closed_cases(NOW, actor=ACTOR)
    db.session.commit()
    db.session.expire_all()

    assert counts.notes == 1
    kept = db.session.get_one(CaseNote, row.id)
    assert kept.text == ""
    assert (kept.kind, kept.noted_on) == (NoteKind.PHONE_CALL, dt.date(2026, 1, 5))
    (added,) = audit_rows("case_note.add")
    assert added.changes["text"] == [None, "[redacted]"]
    assert "Levan" not in json.dumps([e.changes for e in db.session.scalars(sa.select(AuditEntry))])
    with pytest.raises(Conflict):
        notes.add_note(c.case.id, note(), actor=c.counsellor)


def test_the_author_corrects_a_note_on_its_page_the_same_day(w: World, login, time_machine) -> None:
    row = notes.add_note(w.case.id, note(), actor=w.counsellor)
    db.session.commit()
    assert login(w.case_manager).get(f"/cases/notes/{row.id}").status_code == 403
    client = login(w.counsellor)
    form = client.get(f"/cases/notes/{row.id}").get_data(as_text=True)
    assert "Called Nino: the shop lease is signed." in form

    sent = client.post(f"/cases/notes/{row.id}", data=form_data(text="Called Nino twice"))
    assert sent.status_code == 302
    assert db.session.get_one(CaseNote, row.id).text == "Called Nino twice"
    travel(time_machine, TODAY + dt.timedelta(days=1))
    client = login(w.counsellor)  # a new day, a new sign-in
    late = client.post(f"/cases/notes/{row.id}", data=form_data(text="Too late"))
    assert late.status_code == 422  # the refusal at the form
    assert "write a new note instead" in late.get_data(as_text=True)
    assert 'data-testid="note-correct"' not in client.get(f"/cases/{w.case.id}").get_data(
        as_text=True
    )


def test_the_author_marks_a_follow_up_done_from_the_case_page(w: World, login) -> None:
    row = notes.add_note(w.case.id, note(follow_up_on=TODAY), actor=w.counsellor)
    db.session.commit()
    client = login(w.counsellor)
    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert 'data-testid="note-done"' in page
    assert 'data-testid="note-done"' not in login(w.case_manager).get(
        f"/cases/{w.case.id}"
    ).get_data(as_text=True)

    done = login(w.counsellor).post(f"/cases/notes/{row.id}/done", data={"back": "case"})
    assert done.status_code == 302
    assert done.location.endswith(f"/cases/{w.case.id}#notes")
    assert db.session.get_one(CaseNote, row.id).follow_up_done_at is not None
