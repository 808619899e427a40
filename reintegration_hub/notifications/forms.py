from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wtforms import SelectField

from reintegration_hub.core.forms import Form, choices
from reintegration_hub.core.inbox import EmailChoice
from reintegration_hub.notifications.inbox import CHOICE_LABELS, MessageKind


class RetryForm(Form):
    """The "send again" button of a failed message: a POST with its CSRF token, nothing else."""


class MarkReadForm(Form):
    """A notice's "mark read" button, and "mark all read": a POST with its CSRF token."""


def field_name(kind: str) -> str:
    """The form field of a kind of message (``plan:approved`` -> ``plan__approved``)."""
    return kind.replace(":", "__").replace("-", "_")


class EmailChoicesForm(Form):
    """The e-mail choice for each kind of message (``choices_form`` adds a field per kind)."""

    def chosen(self, kinds: Iterable[MessageKind]) -> dict[str, EmailChoice]:
        """The choice of each of ``kinds`` that can be chosen, by kind."""
        return {
            kind.kind: EmailChoice(self[field_name(kind.kind)].data)
            for kind in kinds
            if not kind.always_emailed
        }


def choices_form(
    kinds: Iterable[MessageKind], current: Mapping[str, EmailChoice], **kwargs: Any
) -> EmailChoicesForm:
    """The form of ``kinds`` (those that cannot be turned off are shown, not asked), filled
    with the ``current`` choices."""

    class ChoicesForm(EmailChoicesForm):
        pass

    for kind in kinds:
        if not kind.always_emailed:
            setattr(
                ChoicesForm,
                field_name(kind.kind),
                SelectField(
                    kind.label,
                    choices=choices(CHOICE_LABELS.items()),
                    default=current.get(kind.kind, EmailChoice.IMMEDIATELY).value,
                ),
            )
    return ChoicesForm(**kwargs)
