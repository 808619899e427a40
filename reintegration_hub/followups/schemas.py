"""Follow-up API shapes: milestones, their history and the actions' input, the work list's
filters, visits and surveys."""

from __future__ import annotations

from marshmallow import fields, validate

from reintegration_hub.core.schemas import Schema
from reintegration_hub.followups.actions import MAX_NOTE
from reintegration_hub.followups.labels import milestone_name
from reintegration_hub.followups.models import (
    ActionKind,
    MilestoneKind,
    MilestoneStatus,
    MonitoringVisit,
    NotApplicableReason,
    Responsible,
    SustainabilitySurvey,
    VisitMode,
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


class WorkListQuerySchema(Schema):
    """The work list's filters (the page's own): due and overdue milestones the caller sees."""

    office_id = fields.Integer(load_default=None, validate=ID)
    responsible = fields.Enum(Responsible, by_value=True, load_default=None)
    kind = fields.Enum(MilestoneKind, by_value=True, load_default=None)
    overdue_only = fields.Boolean(load_default=False)
    mine = fields.Boolean(
        load_default=False, metadata={"description": "only the milestones the caller answers for"}
    )


CLIENT_KEY = fields.String(
    load_default=None,
    allow_none=True,
    validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{8,64}$"),
    metadata={
        "description": "the client's own key for this record (8-64 letters, digits, _ . : -), "
        "e.g. a UUID: sent again, it answers the record it made (200) instead of a new one"
    },
)


FOR_MILESTONE = fields.Integer(
    load_only=True,
    load_default=None,
    allow_none=True,
    validate=ID,
    metadata={
        "description": "the milestone the client meant to close (an answer recorded offline): "
        "409 and nothing recorded if meanwhile the case was closed, or that milestone was "
        "closed or moved so that the date falls outside its window"
    },
)


class VisitSchema(Schema):
    class Meta:
        model = MonitoringVisit

    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(attribute="returnee_id", dump_only=True)
    visited_on = fields.Date(required=True)
    mode = fields.Enum(VisitMode, by_value=True, required=True)
    findings = fields.String(load_default="")
    next_steps = fields.String(load_default="")
    plan_revision_needed = fields.Boolean(load_default=False)
    milestone_id = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "the milestone it closed"}
    )
    recorded_by_id = fields.Integer(dump_only=True, allow_none=True)
    recorded_at = fields.AwareDateTime(dump_only=True)
    client_key = CLIENT_KEY
    for_milestone_id = FOR_MILESTONE


class SurveySchema(Schema):
    class Meta:
        model = SustainabilitySurvey

    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(attribute="returnee_id", dump_only=True)
    taken_on = fields.Date(required=True)
    answers = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=60)),
        values=fields.Integer(strict=True),
        required=True,
        metadata={"description": "0-4 for each indicator of the scoring version in force"},
    )
    economic = fields.Float(dump_only=True)
    social = fields.Float(dump_only=True)
    psychosocial = fields.Float(dump_only=True)
    composite = fields.Float(dump_only=True)
    band = fields.String(dump_only=True)
    flags = fields.List(fields.String(), dump_only=True)
    milestone_id = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "the milestone it closed"}
    )
    recorded_by_id = fields.Integer(dump_only=True, allow_none=True)
    recorded_at = fields.AwareDateTime(dump_only=True)
    client_key = CLIENT_KEY
    for_milestone_id = FOR_MILESTONE


class FieldCaseSchema(Schema):
    """A case as the field list shows it: pseudonymous (no name, contact or plan)."""

    id = fields.Integer(dump_only=True)
    case_number = fields.String(dump_only=True)
    town = fields.String(attribute="return_city", dump_only=True)
    region = fields.String(attribute="return_region", dump_only=True)
    country_code = fields.String(attribute="return_country_code", dump_only=True)
    arrived_on = fields.Date(
        dump_only=True, allow_none=True, metadata={"description": "the earliest day of a record"}
    )


class FieldItemSchema(Schema):
    milestone_id = fields.Integer(attribute="milestone.id", dump_only=True)
    kind = fields.Enum(MilestoneKind, by_value=True, attribute="milestone.kind", dump_only=True)
    name = fields.Function(lambda item: milestone_name(item.milestone.name), dump_only=True)
    due_on = fields.Date(attribute="milestone.due_on", dump_only=True)
    status = fields.Enum(
        MilestoneStatus, by_value=True, attribute="milestone.status", dump_only=True
    )
    window_ends_on = fields.Date(
        dump_only=True, allow_none=True, metadata={"description": "the latest day of a record"}
    )
    opens_on = fields.Date(
        dump_only=True,
        allow_none=True,
        metadata={"description": "the first day a record closes this milestone"},
    )
    closes_before = fields.Date(
        dump_only=True,
        allow_none=True,
        metadata={"description": "a record from this day on closes the next one (null: none)"},
    )
    case = fields.Nested(FieldCaseSchema, dump_only=True)
