"""Feedback API shapes: a case's feedback requests, their status and the returnee's answers
(read-only; the link itself is never given out: it answers as the returnee)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from reintegration_hub.core.schemas import Schema
from reintegration_hub.feedback.services import RequestStatus, request_status


class FeedbackScoreSchema(Schema):
    plan_line_id = fields.Integer()
    partner_id = fields.Integer()
    category = fields.String(attribute="category.value")
    score = fields.Integer(metadata={"description": "1 (very dissatisfied) to 5 (very satisfied)"})
    answered_on = fields.Date()


class FeedbackRequestSchema(Schema):
    id = fields.Integer()
    delivery_id = fields.Integer(metadata={"description": "the instalment that ended the line"})
    plan_line_id = fields.Integer()
    option_id = fields.Integer(attribute="plan_line.option_id")
    partner = fields.String(attribute="plan_line.option.partner.name")
    delivered_on = fields.Date(attribute="delivery.delivered_on")
    language = fields.String(metadata={"description": "the form's and the message's language"})
    status = fields.Method(
        "_status",
        metadata={"type": "string", "enum": [status.value for status in RequestStatus]},
    )
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "texted or handed over"}
    )
    answered_at = fields.AwareDateTime(allow_none=True)
    comment = fields.String(metadata={"description": "the returnee's own words, if any"})
    scores = fields.List(fields.Nested(FeedbackScoreSchema))
    task_id = fields.Integer(
        allow_none=True, metadata={"description": "the case manager's follow-up of a low score"}
    )

    def _status(self, request: Any) -> str:
        return request_status(request).value
