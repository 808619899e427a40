"""Shapes of the monitoring API: its filter parameters and the indicators it answers with."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from partners.models import SupportCategory
from reintegration_hub.core import validation
from reintegration_hub.core.schemas import RuleValidator, Schema
from reintegration_hub.monitoring.models import ActivityKind, ProgrammeActivity
from reintegration_hub.programmes.models import TargetIndicator

ID = RuleValidator(validation.ID)
PERIOD = RuleValidator(validation.PERIOD_DATE)


class DashboardQuerySchema(Schema):
    """The dashboard's filters, named as on the page (``DashboardFilters.from_args``)."""

    grant = fields.Integer(validate=ID, metadata={"description": "grant id"})
    from_ = fields.Date(
        data_key="from",
        validate=PERIOD,
        metadata={"description": "cases that returned on or after"},
    )
    to = fields.Date(validate=PERIOD, metadata={"description": "cases that returned on or before"})
    host_office = fields.Integer(validate=ID, metadata={"description": "host office id"})
    country = fields.String(
        validate=validate.Regexp(r"^[A-Za-z]{2}$"),
        metadata={"description": "country of return, ISO 3166-1 alpha-2"},
    )
    partner = fields.Integer(
        validate=ID, metadata={"description": "partner id: cases with its support approved"}
    )
    category = fields.Enum(SupportCategory, by_value=True)
    vulnerable = fields.Boolean(
        metadata={"description": "cases with (true) or without a vulnerability"}
    )

    @ma.validates_schema
    def period_in_order(self, data: dict[str, object], **_: object) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is not None and end is not None and start > end:  # type: ignore[operator]
            raise ma.ValidationError("from must not be after to", "to")


class TotalsSchema(Schema):
    cases = fields.Integer(metadata={"description": "cases selected, departed or not"})
    returns = fields.Integer(
        metadata={
            "description": "cases whose departure happened by as_of and that were not closed "
            "before it"
        }
    )
    arrivals = fields.Integer(metadata={"description": "returns that arrived by as_of"})
    reintegration = fields.Integer(
        metadata={"description": "reintegration beneficiaries: returns with an approved plan"}
    )


class MonthSchema(Schema):
    month = fields.Date(metadata={"description": "first day of the month of return"})
    returns = fields.Integer()
    arrivals = fields.Integer()


class BucketSchema(Schema):
    key = fields.String()
    n = fields.Integer()


class OfficeMilestonesSchema(Schema):
    office_id = fields.Integer()
    office = fields.String()
    due = fields.Integer()
    overdue = fields.Integer()


class SourceSplitSchema(Schema):
    name = fields.String()
    share_bp = fields.Integer(metadata={"description": "basis points: 7500 = 75%"})
    budget_minor = fields.Integer()
    committed_minor = fields.Integer()
    delivered_minor = fields.Integer()
    remaining_minor = fields.Integer()


class TargetProgressSchema(Schema):
    indicator = fields.Enum(TargetIndicator, by_value=True)
    target = fields.Integer()
    actual = fields.Integer()
    percent = fields.Float()


class GrantProgressSchema(Schema):
    grant_id = fields.Integer()
    number = fields.String()
    title = fields.String()
    currency = fields.String()
    budget_minor = fields.Integer(metadata={"description": "minor units of currency"})
    committed_minor = fields.Integer(
        metadata={"description": "approved plan lines (of a closed case, what was delivered), EUR"}
    )
    delivered_minor = fields.Integer(metadata={"description": "recorded deliveries"})
    remaining_minor = fields.Integer(metadata={"description": "budget - committed"})
    sources = fields.List(fields.Nested(SourceSplitSchema))
    targets = fields.List(fields.Nested(TargetProgressSchema))


class ScoreRowSchema(Schema):
    key = fields.String(metadata={"description": "partner id, category, country or grant id"})
    label = fields.String()
    n = fields.Integer(metadata={"description": "surveyed cases"})
    economic = fields.Float()
    social = fields.Float()
    psychosocial = fields.Float()
    composite = fields.Float()
    bands = fields.Dict(keys=fields.String(), values=fields.Integer())


class OfficeOnTimeSchema(Schema):
    office_id = fields.Integer()
    office = fields.String()
    on_time = fields.Integer()
    late = fields.Integer()
    open = fields.Integer(metadata={"description": "came due, not done yet"})
    rate = fields.Float(allow_none=True)


class OutcomesSchema(Schema):
    taken_at = fields.AwareDateTime(allow_none=True, metadata={"description": "snapshot time"})
    as_of = fields.Date(allow_none=True)
    by_partner = fields.List(fields.Nested(ScoreRowSchema))
    by_category = fields.List(fields.Nested(ScoreRowSchema))
    by_country = fields.List(fields.Nested(ScoreRowSchema))
    by_grant = fields.List(fields.Nested(ScoreRowSchema))
    overall = fields.Nested(ScoreRowSchema, allow_none=True)
    histogram = fields.List(
        fields.Nested(BucketSchema), metadata={"description": "composite by tenths: 0..9"}
    )
    bands = fields.List(fields.Nested(BucketSchema))
    plan_days = fields.List(fields.Nested(BucketSchema))
    plan_days_mean = fields.Float(allow_none=True)
    on_time = fields.List(fields.Nested(OfficeOnTimeSchema))
    closures = fields.List(fields.Nested(BucketSchema))
    service_filtered = fields.Boolean(
        metadata={"description": "a partner or category filter: no histogram is given"}
    )
    follow_up_live = fields.Boolean(
        metadata={
            "description": "a partner filter: time to plan, milestones on time and closures "
            "are counted live rather than read from the snapshot"
        }
    )


class DashboardSchema(Schema):
    totals = fields.Nested(TotalsSchema)
    months = fields.List(fields.Nested(MonthSchema))
    plans_by_status = fields.List(
        fields.Nested(BucketSchema), metadata={"description": "plan status, or none"}
    )
    milestones = fields.List(fields.Nested(OfficeMilestonesSchema))
    grants = fields.List(fields.Nested(GrantProgressSchema))
    outcomes = fields.Nested(OutcomesSchema)
    counted_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "the snapshot time when case counts and spending come from the "
            "snapshot; null when they were counted live (a partner filter, or a period that "
            "does not run from the first of a month to the last of a month)"
        },
    )
    as_of = fields.Date(metadata={"description": "the day returns and arrivals are counted up to"})


class ActivitySchema(Schema):
    class Meta:
        model = ProgrammeActivity

    id = fields.Integer(dump_only=True)
    grant_id = fields.Integer(required=True)
    kind = fields.Enum(ActivityKind, by_value=True, required=True)
    occurred_on = fields.Date(required=True)
    people_count = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))
    note = fields.String(load_default="")
    recorded_at = fields.AwareDateTime(dump_only=True)


class ActivityQuerySchema(Schema):
    grant = fields.Integer(validate=ID)
