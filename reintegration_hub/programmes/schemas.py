from __future__ import annotations

from marshmallow import fields

from reintegration_hub.core.schemas import Schema
from reintegration_hub.programmes.models import TargetIndicator


class FundingSourceSchema(Schema):
    name = fields.String()
    share_bp = fields.Integer(metadata={"description": "basis points: 7500 = 75%"})


class TargetSchema(Schema):
    indicator = fields.Enum(TargetIndicator, by_value=True)
    target_value = fields.Integer()


class GrantSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    start_on = fields.Date()
    end_on = fields.Date()
    currency = fields.String(metadata={"description": "ISO 4217"})
    total_budget_minor = fields.Integer(metadata={"description": "minor units of currency"})
    funding_sources = fields.List(fields.Nested(FundingSourceSchema))
    targets = fields.List(fields.Nested(TargetSchema))
