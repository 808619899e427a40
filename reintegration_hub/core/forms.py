"""Form helpers shared by every area's views."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # stubs predate 3.3

from reintegration_hub.core.errors import DomainError


def show_domain_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal next to the fields it names; the rest above the form."""
    placed = False
    for name, messages in error.field_errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *(str(m) for m in messages)]
            placed = True
    if not placed or not error.field_errors:
        form.form_errors.append(str(error.message))


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
