"""The base schema of every API schema (marshmallow): the input rules on every field.

``Schema`` attaches the rules of ``core.validation`` to each text, number and date field it
loads (inside lists too): no control characters or broken characters, at most the column's
length, numbers and dates within range. A schema that names its model
(``class Meta: model = Returnee``) takes each rule from the column of the same name (or of the
field's ``attribute``). The rules are marshmallow validators that apispec reads, so the OpenAPI
document shows ``maxLength``, ``minimum`` and ``maximum`` as well.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from reintegration_hub.core import validation

#: Field classes and the kind of rule they take (the first that matches).
FIELD_KINDS: tuple[tuple[type[fields.Field[Any]], str], ...] = (
    (fields.UUID, ""),  # a String, loaded as a UUID
    (fields.String, "text"),
    (fields.Integer, "integer"),
    (fields.Decimal, "decimal"),
    (fields.Float, "decimal"),
    (fields.Date, "date"),
    (fields.DateTime, "date"),
)


class RuleValidator(ma.validate.Validator):
    """A ``core.validation`` rule as a marshmallow validator; ``min``/``max`` (and ``equal``
    for texts) are the attributes apispec documents."""

    min: Any
    max: Any

    def __init__(self, rule: validation.Rule, *, documented: bool = True) -> None:
        self.rule = rule
        self.error = None
        if isinstance(rule, validation.TextRule):
            self.min, self.max, self.equal = None, rule.max_length, None
        elif isinstance(rule, validation.NumberRule) and documented:
            self.min, self.max = rule.minimum, rule.maximum

    def __call__(self, value: Any) -> Any:
        try:
            validation.check(self.rule, value)
        except validation.Refused as refused:
            raise ma.ValidationError(str(refused.message)) from None
        return value

    def _repr_args(self) -> str:
        return f"rule={self.rule!r}"


def attach_rules(field: fields.Field[Any], name: str, model: Any = None) -> None:
    """Give ``field`` (and the items of a list) the input rule of its kind."""
    if isinstance(field, fields.List):
        attach_rules(field.inner, name, model)
        return
    if isinstance(field, fields.Tuple):
        for item in field.tuple_fields:
            attach_rules(item, name, model)
        return
    if isinstance(field, fields.Dict):
        if field.key_field is not None:
            attach_rules(field.key_field, "", None)
        if field.value_field is not None:
            attach_rules(field.value_field, name, None)
        return
    kind = next((k for cls, k in FIELD_KINDS if isinstance(field, cls)), "")
    attribute = field.attribute if field.attribute and "." not in field.attribute else name
    rule = validation.field_rule(kind, attribute, model) if kind else None
    if rule is not None and not any(isinstance(v, RuleValidator) for v in field.validators):
        # decimals travel as strings here, which take no JSON Schema minimum or maximum
        documented = not isinstance(field, fields.Decimal)
        field.validators.insert(0, RuleValidator(rule, documented=documented))


class SchemaOpts(ma.SchemaOpts):
    """``class Meta: model = ...``: the model whose columns give the fields' rules."""

    def __init__(self, meta: type, *args: Any, **kwargs: Any) -> None:
        super().__init__(meta, *args, **kwargs)
        self.model = getattr(meta, "model", None)


class Schema(ma.Schema):
    """The base of every API schema."""

    OPTIONS_CLASS = SchemaOpts
    opts: SchemaOpts

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        if not field_obj.dump_only:
            attach_rules(field_obj, field_name, self.opts.model)
