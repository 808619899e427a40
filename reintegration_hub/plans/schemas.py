"""Plan API shapes: one output schema per object, input schemas that only shape input."""

from __future__ import annotations

from marshmallow import fields, validate

from reintegration_hub.core.schemas import Schema
from reintegration_hub.plans.models import PlanLine, PlanStatus
from reintegration_hub.plans.services import MAX_QUANTITY

MINOR_DOC = {"description": "euro cents"}


class PlanLineSchema(Schema):
    id = fields.Integer(dump_only=True)
    option_id = fields.Integer(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    notes = fields.String(dump_only=True)
    unit_cost_minor = fields.Integer(
        dump_only=True, metadata={"description": "minor units of currency"}
    )
    currency = fields.String(dump_only=True)
    eur_rate = fields.Decimal(dump_only=True, as_string=True)
    rate_on = fields.Date(dump_only=True)
    total_eur_minor = fields.Integer(dump_only=True, metadata=MINOR_DOC)
    hold_status = fields.Function(
        lambda line: line.hold.status.value if line.hold else None, dump_only=True
    )
    referral_id = fields.Integer(dump_only=True, allow_none=True)
    referral_status = fields.Function(
        lambda line: line.referral.status.value if line.referral else None, dump_only=True
    )


class PlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(attribute="returnee_id", dump_only=True)
    case_number = fields.Function(lambda plan: plan.returnee.case_number, dump_only=True)
    status = fields.Enum(PlanStatus, by_value=True, dump_only=True)
    version = fields.Integer(dump_only=True)
    cap_eur_minor = fields.Integer(dump_only=True, metadata=MINOR_DOC)
    total_eur_minor = fields.Integer(dump_only=True, metadata=MINOR_DOC)
    over_cap = fields.Boolean(dump_only=True)
    over_cap_justification = fields.String(dump_only=True)
    review_comment = fields.String(dump_only=True)
    submitted_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    feasible_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    approved_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    lines = fields.List(fields.Nested(PlanLineSchema), dump_only=True)


class PlanSummarySchema(PlanSchema):
    class Meta:
        exclude = ("lines",)


class PlanQuerySchema(Schema):
    status = fields.Enum(PlanStatus, by_value=True, load_default=None)


class RevisionSchema(Schema):
    version = fields.Integer(dump_only=True)
    action = fields.String(dump_only=True)
    comment = fields.String(dump_only=True)
    actor_label = fields.String(dump_only=True)
    at = fields.AwareDateTime(dump_only=True)
    snapshot = fields.Dict(dump_only=True)


class LineCreateSchema(Schema):
    class Meta:
        model = PlanLine

    option_id = fields.Integer(required=True)
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    notes = fields.String(load_default="")


class LineUpdateSchema(Schema):
    class Meta:
        model = PlanLine

    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    notes = fields.String(load_default="")


class SubmitSchema(Schema):
    justification = fields.String(load_default="", validate=validate.Length(max=5000))


class ReviewSchema(Schema):
    comment = fields.String(load_default="", validate=validate.Length(max=5000))
