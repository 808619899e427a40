"""Case notes: what staff write down about a case (contact attempts, counselling sessions before
the return, phone calls after the arrival), dated, typed, optionally with a day to follow up.

- Who: the notes of a case are read by whoever sees the case (``Returnee.visible_to``: its host
  office, its origin office while the returnee shares the case with it, administrators and
  programme managers); counsellors and case managers write them.
- Append-only, like consents: nothing deletes a note. Its author corrects it on the day it was
  written (UTC), and the audit row keeps what it said before.
- A follow-up day makes the note a task of its author's (``home.todo``) from that day on, until
  they mark it done.
- Every write is audited (``case_note.add``, ``case_note.correct``,
  ``case_note.follow_up_done``); the note's text is redacted from those rows, and blanked, when
  the case is anonymised (``cases.retention``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.cases.models import CaseNote, CaseStatus, NoteKind, Returnee
from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.validation import FOLLOW_UP_DATE, PAST_DATE, text_length
from reintegration_hub.extensions import db

#: Who writes notes; administrators and programme managers read them.
WRITER_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER})
READER_ROLES = WRITER_ROLES | {Role.ADMIN, Role.PROGRAMME_MANAGER}
#: The longest note.
MAX_TEXT = text_length(CaseNote.text)


@dataclass(frozen=True, kw_only=True)
class NoteInput:
    kind: NoteKind
    noted_on: dt.date
    text: str
    follow_up_on: dt.date | None = None


def _clean(note: NoteInput) -> NoteInput:
    """``note`` with its text trimmed; InvalidInput naming every field that is refused."""
    errors: dict[str, list[Any]] = {}
    text = note.text.strip()
    if not text:
        errors["text"] = [_l("Write the note.")]
    elif len(text) > MAX_TEXT:
        errors["text"] = [_l("At most %(max)d characters.", max=MAX_TEXT)]
    if problems := PAST_DATE.problems(note.noted_on):
        errors["noted_on"] = problems
    if note.follow_up_on is not None and (problems := FOLLOW_UP_DATE.problems(note.follow_up_on)):
        errors["follow_up_on"] = problems
    if errors:
        raise InvalidInput(_l("The note is not valid."), field_errors=errors)
    return NoteInput(
        kind=NoteKind(note.kind),
        noted_on=note.noted_on,
        text=text,
        follow_up_on=note.follow_up_on,
    )


def _writable_case(case_id: int, actor: Actor) -> Returnee:
    if actor.role not in WRITER_ROLES:
        raise PermissionDenied(_l("Only counsellors and case managers write notes."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    if case.anonymised_at is not None:
        raise Conflict(_l("This case was anonymised after its retention period: it cannot change."))
    return case


def add_note(case_id: int, note: NoteInput, *, actor: Actor) -> CaseNote:
    """Write a note on a case in ``actor``'s scope (else NotFound). Audited
    (``case_note.add``)."""
    case = _writable_case(case_id, actor)
    cleaned = _clean(note)
    row = CaseNote(
        returnee=case,
        kind=cleaned.kind,
        noted_on=cleaned.noted_on,
        text=cleaned.text,
        follow_up_on=cleaned.follow_up_on,
        author_id=actor.id,
        created_at=now_utc(),
    )
    record_audit("case_note.add", row, actor=actor)
    return row


def own_note(note_id: int, *, actor: Actor) -> CaseNote:
    """A note of a case in scope (else NotFound) that ``actor`` wrote (else PermissionDenied)."""
    if actor.role not in WRITER_ROLES:
        raise PermissionDenied(_l("Only counsellors and case managers write notes."))
    row: CaseNote = get_scoped(CaseNote, note_id, actor)
    if row.author_id is None or row.author_id != actor.id:
        raise PermissionDenied(_l("Only the note's author may change it."))
    if row.returnee.anonymised_at is not None:
        raise Conflict(_l("This case was anonymised after its retention period: it cannot change."))
    return row


def may_correct(row: CaseNote, actor: Actor, today: dt.date | None = None) -> bool:
    """Whether ``actor`` may correct ``row`` now: its author, on the day it was written."""
    today = today or now_utc().date()
    return (
        actor.id is not None
        and row.author_id == actor.id
        and actor.role in WRITER_ROLES
        and row.created_at.date() == today
        and row.returnee.anonymised_at is None
    )


def correct_note(note_id: int, note: NoteInput, *, actor: Actor) -> CaseNote:
    """Replace a note's kind, date, text and follow-up: only by its author, on the day it was
    written (Conflict afterwards: write a new note instead). Audited with the values before
    (``case_note.correct``)."""
    row = own_note(note_id, actor=actor)
    if row.created_at.date() != now_utc().date():
        raise Conflict(
            _l("A note is corrected on the day it was written only; write a new note instead.")
        )
    cleaned = _clean(note)
    row.kind = cleaned.kind
    row.noted_on = cleaned.noted_on
    row.text = cleaned.text
    if cleaned.follow_up_on != row.follow_up_on:
        row.follow_up_on = cleaned.follow_up_on
        row.follow_up_done_at = None
    changes = pending_changes(row)
    if changes:
        row.corrected_at = now_utc()
        record_audit("case_note.correct", row, actor=actor, changes=changes)
    return row


def finish_follow_up(note_id: int, *, actor: Actor) -> CaseNote:
    """Mark a note's follow-up done (its author only); done already: nothing changes."""
    row = own_note(note_id, actor=actor)
    if row.follow_up_on is None:
        raise Conflict(_l("This note has no follow-up."))
    if row.follow_up_done_at is None:
        row.follow_up_done_at = now_utc()
        record_audit("case_note.follow_up_done", row, actor=actor)
    return row


def case_notes_statement(case_id: int, *, actor: Actor) -> sa.Select[tuple[CaseNote]]:
    """The notes of a case in ``actor``'s scope (else NotFound), newest written first."""
    if actor.role not in READER_ROLES:
        raise PermissionDenied(_l("Your role does not read case notes."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return (
        sa.select(CaseNote)
        .where(CaseNote.returnee_id == case.id)
        .options(joinedload(CaseNote.author), joinedload(CaseNote.returnee))
        .order_by(CaseNote.id.desc())
    )


def case_notes(case_id: int, *, actor: Actor, page: int = 1, page_size: int = 10) -> Page[CaseNote]:
    """One page of a case's notes, newest written first: two statements."""
    return paginate(case_notes_statement(case_id, actor=actor), page=page, per_page=page_size)


def read_case_notes(case_id: int, *, actor: Actor) -> sa.Select[tuple[CaseNote]]:
    """The API's read of a case's notes: as ``case_notes_statement``, and audited
    (``case_note.read``, on the case) like the case page's read."""
    stmt = case_notes_statement(case_id, actor=actor)
    case = db.session.get(Returnee, case_id)
    assert case is not None  # in scope: case_notes_statement found it
    record_audit("case_note.read", case, actor=actor, changes={})
    return stmt


def follow_ups_due_statement(actor: Actor, today: dt.date) -> sa.Select[tuple[CaseNote]]:
    """``actor``'s own notes whose follow-up is due on or before ``today`` and not done, on
    open cases in their scope (``ix_case_notes_follow_up``)."""
    open_cases = sa.select(Returnee.id).where(
        Returnee.status != CaseStatus.CLOSED, Returnee.anonymised_at.is_(None)
    )
    return scoped(
        sa.select(CaseNote).where(
            CaseNote.author_id == actor.id,
            CaseNote.follow_up_on.is_not(None),
            CaseNote.follow_up_done_at.is_(None),
            CaseNote.follow_up_on <= today,
            CaseNote.returnee_id.in_(open_cases),
        ),
        CaseNote,
        actor,
    ).options(joinedload(CaseNote.returnee))
