"""Follow-up API shapes: milestones, their history, and the actions' input."""

from __future__ import annotations

from marshmallow import fields, validate

from reintegration_hub.core.schemas import Schema
from reintegration_hub.followups.actions import MAX_NOTE
from reintegration_hub.followups.models import (
    ActionKind,
    MilestoneKind,
    MilestoneStatus,
    NotApplicableReason,
    Responsible,
)

ID = validate.Range(min=1, max=2**31 - 1)


def note_field(description: str = "") -> fields.String:
    metadata = {"description": description} if description else {}
    return fields.String(load_default="", validate=validate.Length(max=MAX_NOTE), metadata=metadata)


class MilestoneSchema(Schema):
    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(attribute="returnee_id", dump_only=True)
    case_number = fields.Function(lambda m: m.returnee.case_number, dump_only=True)
    plan_id = fields.Integer(dump_only=True)
    plan_line_id = fields.Integer(dump_only=True, allow_none=True)
    office_id = fields.Integer(dump_only=True, metadata={"description": "the office answering"})
    step_key = fields.String(dump_only=True)
    kind = fields.Enum(MilestoneKind, by_value=True, dump_only=True)
    name = fields.String(dump_only=True)
    responsible = fields.Enum(Responsible, by_value=True, dump_only=True)
    due_on = fields.Date(dump_only=True)
    remind_on = fields.Date(dump_only=True)
    status = fields.Enum(MilestoneStatus, by_value=True, dump_only=True)
    escalation_level = fields.Integer(
        dump_only=True, metadata={"description": "0 none, 1 office supervisor, 2 home office"}
    )
    completed_on = fields.Date(dump_only=True, allow_none=True)
    completed_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    not_applicable_reason = fields.Enum(
        NotApplicableReason, by_value=True, dump_only=True, allow_none=True
    )
    note = fields.String(dump_only=True)


class MilestoneActionSchema(Schema):
    id = fields.Integer(dump_only=True)
    action = fields.Enum(ActionKind, by_value=True, dump_only=True)
    on_date = fields.Date(
        dump_only=True,
        allow_none=True,
        metadata={"description": "done: the day; moved: the new due date"},
    )
    previous_due_on = fields.Date(dump_only=True, allow_none=True)
    reason = fields.Enum(NotApplicableReason, by_value=True, dump_only=True, allow_none=True)
    note = fields.String(dump_only=True)
    actor_id = fields.Integer(dump_only=True, allow_none=True)
    at = fields.AwareDateTime(dump_only=True)


class DoneSchema(Schema):
    done_on = fields.Date(
        required=True,
        metadata={"description": "an arrival milestone: the arrival date (recorded on the case)"},
    )
    note = note_field()


class NotApplicableSchema(Schema):
    reason = fields.Enum(NotApplicableReason, by_value=True, required=True)
    note = note_field("required when the reason is other")


class MoveSchema(Schema):
    due_on = fields.Date(
        required=True,
        metadata={"description": "today at the earliest, the window's end at the latest"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NOTE))


class ReopenSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NOTE))


class ArrivalSchema(Schema):
    arrived_on = fields.Date(required=True)
    note = note_field()


class ArrivalResultSchema(Schema):
    case_id = fields.Integer(attribute="id", dump_only=True)
    case_number = fields.String(dump_only=True)
    departed_on = fields.Date(dump_only=True, allow_none=True)
    arrived_on = fields.Date(dump_only=True, allow_none=True)


class SupervisorSchema(Schema):
    office_id = fields.Integer(attribute="id", dump_only=True)
    office_name = fields.String(attribute="name", dump_only=True)
    supervisor_id = fields.Integer(
        required=True, allow_none=True, validate=ID, metadata={"description": "null: nobody"}
    )
