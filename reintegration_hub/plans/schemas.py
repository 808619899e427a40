"""Plan API shapes: one output schema per object, input schemas that only shape input."""

from __future__ import annotations

from marshmallow import fields, validate

from reintegration_hub.core.schemas import Schema
from reintegration_hub.core.validation import MAX_ID
from reintegration_hub.plans.amendments import COMMENT_MAX, REASON_MAX
from reintegration_hub.plans.models import (
    AmendmentStatus,
    LineChangeKind,
    LineStatus,
    PlanLine,
    PlanStatus,
)
from reintegration_hub.plans.services import MAX_QUANTITY, NOTES_MAX

MINOR_DOC = {"description": "euro cents"}
VERSION_DOC = {
    "description": "the plan version the change was made against: a plan changed since is "
    "refused (409) instead of overwritten"
}


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
    status = fields.Enum(
        LineStatus,
        by_value=True,
        dump_only=True,
        metadata={
            "description": "proposed (by an open amendment), active (counts in the total), "
            "declined or expired (its referral), cancelled (by an amendment)"
        },
    )
    amendment_number = fields.Function(
        lambda line: line.amendment.number if line.amendment else None,
        dump_only=True,
        allow_none=True,
        metadata={"description": "the amendment that proposed the line"},
    )
    replaces_id = fields.Integer(dump_only=True, allow_none=True)
    effective_on = fields.Date(dump_only=True, allow_none=True)
    promoted_at = fields.Function(
        lambda line: (
            line.hold.promoted_at.isoformat() if line.hold and line.hold.promoted_at else None
        ),
        dump_only=True,
        allow_none=True,
        metadata={"description": "when the line took a freed place from the waitlist"},
    )


class LineChangeSchema(Schema):
    line_id = fields.Integer(dump_only=True)
    kind = fields.Enum(LineChangeKind, by_value=True, dump_only=True)
    quantity_before = fields.Integer(dump_only=True)
    quantity = fields.Integer(dump_only=True, allow_none=True)
    notes = fields.String(dump_only=True, allow_none=True)
    total_before_eur_minor = fields.Integer(dump_only=True, metadata=MINOR_DOC)
    total_eur_minor = fields.Integer(dump_only=True, metadata=MINOR_DOC)
    reason = fields.String(dump_only=True)


class AmendmentSchema(Schema):
    number = fields.Integer(dump_only=True)
    status = fields.Enum(AmendmentStatus, by_value=True, dump_only=True)
    reason = fields.String(dump_only=True)
    visit_id = fields.Integer(dump_only=True, allow_none=True)
    opened_at = fields.AwareDateTime(dump_only=True)
    justification = fields.String(dump_only=True)
    needs_approval = fields.Boolean(
        dump_only=True,
        metadata={"description": "raises the approved total or goes over the cap (on submission)"},
    )
    total_before_eur_minor = fields.Integer(dump_only=True, allow_none=True, metadata=MINOR_DOC)
    total_after_eur_minor = fields.Integer(dump_only=True, allow_none=True, metadata=MINOR_DOC)
    review_comment = fields.String(dump_only=True)
    submitted_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    feasible_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    decided_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    changes = fields.List(fields.Nested(LineChangeSchema), dump_only=True)
    proposed_line_ids = fields.Function(
        lambda amendment: [
            line.id for line in amendment.plan.lines if line.amendment_id == amendment.id
        ],
        dump_only=True,
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
    approved_total_eur_minor = fields.Integer(dump_only=True, allow_none=True, metadata=MINOR_DOC)
    lines = fields.List(fields.Nested(PlanLineSchema), dump_only=True)
    amendment = fields.Nested(
        AmendmentSchema,
        attribute="open_amendment",
        dump_only=True,
        allow_none=True,
        metadata={"description": "the amendment in play, if any"},
    )


class PlanSummarySchema(PlanSchema):
    class Meta:
        exclude = ("lines", "amendment")


class PlanQuerySchema(Schema):
    status = fields.Enum(PlanStatus, by_value=True, load_default=None)


class RevisionSchema(Schema):
    version = fields.Integer(dump_only=True)
    action = fields.String(dump_only=True)
    comment = fields.String(dump_only=True)
    actor_label = fields.String(dump_only=True)
    at = fields.AwareDateTime(dump_only=True)
    snapshot = fields.Dict(dump_only=True)


class VersionedSchema(Schema):
    version = fields.Integer(
        load_default=None,
        data_key="version",
        attribute="expected_version",
        validate=validate.Range(min=1, max=MAX_ID),
        metadata=VERSION_DOC,
    )


class LineCreateSchema(VersionedSchema):
    class Meta:
        model = PlanLine

    option_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))
    notes = fields.String(load_default="", validate=validate.Length(max=NOTES_MAX))


class LineUpdateSchema(VersionedSchema):
    class Meta:
        model = PlanLine

    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_QUANTITY))
    notes = fields.String(load_default="", validate=validate.Length(max=NOTES_MAX))
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=REASON_MAX),
        metadata={"description": "why an approved line changes (kept with the amendment)"},
    )


class LineRemoveSchema(VersionedSchema):
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=REASON_MAX),
        metadata={"description": "why an approved line is cancelled (kept with the amendment)"},
    )


class ReplaceSchema(VersionedSchema):
    option_id = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "another option; none: the same one, referred again"},
    )
    quantity = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1, max=MAX_QUANTITY),
        metadata={"description": "none: the replaced line's"},
    )
    notes = fields.String(
        load_default=None,
        validate=validate.Length(max=NOTES_MAX),
        metadata={"description": "none: the replaced line's"},
    )


class AmendmentOpenSchema(VersionedSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=REASON_MAX))


class SubmitSchema(VersionedSchema):
    justification = fields.String(load_default="", validate=validate.Length(max=5000))


class ReviewSchema(VersionedSchema):
    comment = fields.String(load_default="", validate=validate.Length(max=COMMENT_MAX))
