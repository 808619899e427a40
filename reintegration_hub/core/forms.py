"""Form helpers shared by every area's views, and the base forms every form derives from.

``Form`` (a ``FlaskForm``: CSRF) and ``SubForm`` (the rows of a ``FormField``/``FieldList``)
attach the input rules of ``core.validation`` to every text, number and date field as it is
bound: no control characters or broken characters, at most the column's length, numbers and
dates within range. A form that names its model (``class Meta: model = Returnee``) takes each
rule from the column of the same name, so lengths are not written again in the form.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import Form as PlainForm
from wtforms.fields import (
    DateTimeField,
    DecimalField,
    Field,
    FloatField,
    IntegerField,
    StringField,
)
from wtforms.fields.choices import Choice, SelectChoice  # type: ignore[attr-defined]  # stubs predate 3.3
from wtforms.meta import DefaultMeta
from wtforms.validators import StopValidation
from wtforms.widgets import HiddenInput, Select

from reintegration_hub.core import validation
from reintegration_hub.core.errors import DomainError

#: Field classes and the kind of rule they take (the first that matches).
FIELD_KINDS: tuple[tuple[type[Field], str], ...] = (
    (StringField, "text"),
    (IntegerField, "integer"),
    (DecimalField, "decimal"),
    (FloatField, "decimal"),
    (DateTimeField, "date"),  # DateField too
)


class InputRule:
    """A WTForms validator applying a ``core.validation`` rule (to each item of a list).

    It runs first and stops the chain on a refusal, so no later validator sees a value such
    as ``NaN`` that it cannot compare."""

    def __init__(self, rule: validation.Rule) -> None:
        self.rule = rule

    def __call__(self, form: Any, field: Field) -> None:
        try:
            validation.check(self.rule, field.data)
        except validation.Refused as refused:
            raise StopValidation(str(refused.message)) from None


def _flag_bounds(field: Field, rule: validation.Rule) -> None:
    """Let the browser know the bounds too (``maxlength``, ``min``, ``max``)."""
    if isinstance(rule, validation.TextRule):
        current = getattr(field.flags, "maxlength", None)
        field.flags.maxlength = min(current or rule.max_length, rule.max_length)
    elif isinstance(rule, validation.DateRule) and not isinstance(field.flags.min, str):
        earliest, latest = rule.bounds()
        field.flags.min, field.flags.max = earliest.isoformat(), latest.isoformat()


@lru_cache(maxsize=16_384)
def _option(kind: str, value: Any, label: str, markup: bool, selected: bool) -> Any:
    shown = Markup(label) if markup else label  # noqa: S704 - it was markup: not escaped again
    return Select.render_option(Choice(value, shown, selected, {}))  # type: ignore[call-arg]


class RenderedSelect(Select):
    """WTForms' ``select``, each plain option rendered once per process: the country and
    language lists hold hundreds of options (a search page has about 650), and rendering them
    (attributes, escaping) was most of the page's time. Options with attributes of their own
    render as before."""

    @classmethod
    def render_option(cls, choice: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        label = choice.label or choice.value
        kind, markup = type(choice.value).__name__, isinstance(label, Markup)
        try:
            return _option(kind, choice.value, str(label), markup, choice.selected)
        except TypeError:  # an unhashable value
            return super().render_option(choice)  # type: ignore[call-arg]


class RulesMeta(DefaultMeta):
    """Binds every field with the input rule of its kind, from ``model``'s column if any, and
    every plain select with ``RenderedSelect``."""

    model: Any = None

    def bind_field(self, form: Any, unbound_field: Any, options: MutableMapping[str, Any]) -> Any:
        field = super().bind_field(form, unbound_field, options)
        if type(field.widget) is Select:
            field.widget = RenderedSelect(multiple=field.widget.multiple)
        kind = next((k for cls, k in FIELD_KINDS if isinstance(field, cls)), None)
        given = next((v for v in field.validators if isinstance(v, InputRule)), None)
        if given is not None:  # the field states its rule itself
            _flag_bounds(field, given.rule)
            return field
        rule = validation.field_rule(kind, options["name"], self.model) if kind else None
        if rule is not None:
            field.validators = [InputRule(rule), *field.validators]
            _flag_bounds(field, rule)
        return field


#: Said above a form whose hidden fields (the version the page showed, where to go back, the
#: filters of a list) came back unreadable: the page was changed or is out of date.
HIDDEN_FIELD_PROBLEM = _l("This form was changed or is out of date: reload the page and try again.")


class Form(FlaskForm):
    """The base of every page form (CSRF from ``FlaskForm``, input rules from ``RulesMeta``)."""

    class Meta(RulesMeta, FlaskForm.Meta):
        pass

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate; a hidden field the user cannot see or fix is refused above the form."""
        valid: bool = super().validate(extra_validators)
        hidden = [f for f in self if isinstance(f.widget, HiddenInput) and f.name != "csrf_token"]
        if any(field.errors for field in hidden):
            self.form_errors.append(str(HIDDEN_FIELD_PROBLEM))
        return valid


class SubForm(PlainForm):
    """The base of the rows of a ``FormField`` (no CSRF of their own)."""

    class Meta(RulesMeta):
        pass


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


def error_summary(form: PlainForm) -> str:
    """The field errors as one line ("Notes: ..."), for a form answered with a flash; a hidden
    field's are said once, above the fields (``HIDDEN_FIELD_PROBLEM``)."""
    parts = []
    for name, messages in form.errors.items():
        field = form._fields.get(name) if name else None
        if not isinstance(messages, list) or isinstance(
            getattr(field, "widget", None), HiddenInput
        ):
            continue
        parts += [f"{field.label.text}: {m}" if field is not None else str(m) for m in messages]
    return " ".join(parts)


def choices(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
