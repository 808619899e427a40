"""``core.submit``: a page's form committed when the service is done, rolled back with the
refusal at the form's fields (or above the form) when it refuses."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, get_flashed_messages
from wtforms import StringField

from reintegration_hub.auth.models import Office
from reintegration_hub.core.errors import InvalidInput, NotFound
from reintegration_hub.core.forms import Form
from reintegration_hub.core.roles import OfficeKind
from reintegration_hub.core.submit import commit_or_roll_back, submit_flashed, submit_form
from reintegration_hub.extensions import db


class NameForm(Form):
    name = StringField()


def open_office(name: str) -> Office:
    """Like a service: writes first, then may refuse (the write must not survive)."""
    office = Office(name=name, kind=OfficeKind.HOST, country_code="DE")
    db.session.add(office)
    db.session.flush()
    if name == "Taken":
        raise InvalidInput("Refused.", field_errors={"name": ["That name is taken."]})
    if name == "Closed":
        raise InvalidInput("The directory is closed today.")
    if name == "Elsewhere":
        raise NotFound("Not found.")
    return office


def _offices(name: str) -> int:
    """How many offices of that name the session sees now (no roll-back of its own)."""
    return db.session.scalar(sa.select(sa.func.count()).where(Office.name == name)) or 0


def _committed(name: str) -> int:
    db.session.rollback()  # what was committed stays; only the uncommitted goes
    return _offices(name)


def _submit(app: Flask, name: str) -> tuple[NameForm, Any, list[Any]]:
    """Post ``name`` to a page whose form opens an office."""
    with app.test_request_context("/offices", method="POST", data={"name": name}):
        form = NameForm()
        answer = submit_form(
            form,
            lambda: open_office(name),
            done=lambda office: f"{office.name} is open.",
            then=lambda office: f"/offices/{office.id}",
            page=lambda: ("the form again", 422),
        )
        return form, answer, get_flashed_messages(with_categories=True)


def test_a_service_that_is_done_is_committed_and_said(app: Flask) -> None:
    _form, answer, flashes = _submit(app, "Bonn")

    assert answer.status_code == 302
    assert answer.location.startswith("/offices/")
    assert flashes == [("success", "Bonn is open.")]
    assert _committed("Bonn") == 1


def test_a_refusal_is_rolled_back_and_shown_at_the_field_it_names(app: Flask) -> None:
    form, answer, flashes = _submit(app, "Taken")

    assert answer == ("the form again", 422)
    assert form.name.errors == ["That name is taken."]
    assert form.form_errors == []
    assert flashes == []
    assert _offices("Taken") == 0


def test_a_refusal_naming_no_field_goes_above_the_form(app: Flask) -> None:
    form, answer, _flashes = _submit(app, "Closed")

    assert answer == ("the form again", 422)
    assert form.form_errors == ["The directory is closed today."]
    assert form.name.errors == []
    assert _offices("Closed") == 0


def test_an_invalid_form_calls_no_service(app: Flask) -> None:
    form, answer, _flashes = _submit(app, "Bad\x07name")

    assert answer == ("the form again", 422)
    assert form.name.errors
    assert _offices("Bad\x07name") == 0


def test_a_refusal_of_a_kind_that_passes_is_rolled_back_and_raised(app: Flask) -> None:
    with pytest.raises(NotFound):
        commit_or_roll_back(lambda: open_office("Elsewhere"), passes=(NotFound,))
    assert _offices("Elsewhere") == 0


def test_a_form_posted_from_another_page_has_its_refusal_flashed(app: Flask) -> None:
    with app.test_request_context("/offices", method="POST", data={"name": "Taken"}):
        answer = submit_flashed(
            NameForm(), lambda: open_office("Taken"), done="Open.", back="/offices"
        )
        flashes = get_flashed_messages(with_categories=True)

    assert (answer.status_code, answer.location) == (302, "/offices")
    assert flashes == [("danger", "Refused.")]
    assert _offices("Taken") == 0
