"""API shapes of grants, cap rules, places, the priority list and exchange rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from reintegration_hub.core.schemas import Schema
from reintegration_hub.core.vocabulary import VulnerabilityCategory
from reintegration_hub.programmes import caps, rates
from reintegration_hub.programmes.models import PlanApprover, TargetIndicator
from reintegration_hub.programmes.services import (
    FULL_SHARE_BP,
    MAX_BUDGET_MINOR,
    MAX_COUNT,
    MAX_FUNDING_SOURCES,
    GrantTerms,
)

ID = validate.Range(min=1, max=2**31 - 1)
COUNT = validate.Range(min=0, max=MAX_COUNT)
MONEY = validate.Range(min=0, max=MAX_BUDGET_MINOR)
DAYS = validate.Range(min=0, max=caps.MAX_DEPARTURE_DAYS)
COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$")
CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$")
RATE_DOC = {"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$"}


def _plausible_rate(value: Decimal) -> None:
    if not rates.MIN_RATE <= value <= rates.MAX_RATE:
        raise ma.ValidationError("Give a rate from {min} to {max}.".format(**rates.RATE_RANGE))


class FundingSourceSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    share_bp = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=FULL_SHARE_BP),
        metadata={"description": "basis points: 7500 = 75%"},
    )


class TargetSchema(Schema):
    indicator = fields.Enum(TargetIndicator, by_value=True, required=True)
    target_value = fields.Integer(required=True, validate=COUNT)


class GrantSchema(Schema):
    """A grant; on input every term is given (PUT replaces them all)."""

    id = fields.Integer(dump_only=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True)
    currency = fields.String(required=True, validate=CURRENCY, metadata={"description": "ISO 4217"})
    total_budget_minor = fields.Integer(
        required=True, validate=MONEY, metadata={"description": "minor units of currency"}
    )
    funding_sources = fields.List(
        fields.Nested(FundingSourceSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_FUNDING_SOURCES),
        metadata={"description": "their shares add up to 10000 basis points (100%)"},
    )
    targets = fields.List(
        fields.Nested(TargetSchema), load_default=list, validate=validate.Length(max=10)
    )
    office_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "the host office holding the grant; null: the home office"},
    )
    plans_approved_by = fields.Enum(
        PlanApprover,
        by_value=True,
        load_default=PlanApprover.HOME_OFFICE,
        metadata={"description": "grant_office: the host office holding the grant approves"},
    )
    reintegration_places = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=COUNT,
        metadata={"description": "plans the grant funds; null: not limited"},
    )

    @ma.validates_schema
    def _once_each(self, data: dict[str, Any], **_: Any) -> None:
        names = [s["name"].strip().casefold() for s in data.get("funding_sources", [])]
        if len(set(names)) != len(names):
            raise ma.ValidationError("Name each co-financing source once.", "funding_sources")
        indicators = [t["indicator"] for t in data.get("targets", [])]
        if len(set(indicators)) != len(indicators):
            raise ma.ValidationError("Give one target per indicator.", "targets")

    @ma.post_load
    def _terms(self, data: dict[str, Any], **_: Any) -> GrantTerms:
        return GrantTerms(
            funding_shares={s["name"]: s["share_bp"] for s in data.pop("funding_sources")},
            targets={t["indicator"]: t["target_value"] for t in data.pop("targets")},
            **data,
        )


class PlacesSchema(Schema):
    funded = fields.Integer(allow_none=True, metadata={"description": "null: not limited"})
    used = fields.Integer(
        metadata={
            "description": "plans approved; a place comes back when a case closes before "
            "anything was delivered"
        }
    )
    left = fields.Integer(allow_none=True)


class PriorityRowSchema(Schema):
    rank = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    host_office = fields.String()
    categories = fields.List(fields.Enum(VulnerabilityCategory, by_value=True))
    score = fields.Integer(metadata={"description": "summed severity of the categories"})
    return_on = fields.Date(metadata={"description": "departure, else deadline, else registered"})
    within_places = fields.Boolean(metadata={"description": "among the places left"})


class PriorityListSchema(Schema):
    places = fields.Nested(PlacesSchema)
    total = fields.Integer(attribute="rows.total")
    page = fields.Integer(attribute="rows.page")
    pages = fields.Integer(attribute="rows.pages")
    rows = fields.List(fields.Nested(PriorityRowSchema), attribute="rows.items")


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10**6))


class CapRuleSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    grant_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "null: every grant without a rule of its own"},
    )
    return_country_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=COUNTRY,
        metadata={"description": "ISO 3166-1 alpha-2; null: every country of return"},
    )
    is_default = fields.Boolean(dump_only=True)
    currency = fields.String(dump_only=True)
    per_adult_minor = fields.Integer(
        required=True, validate=MONEY, metadata={"description": "euro cents per adult"}
    )
    per_dependant_minor = fields.Integer(
        required=True, validate=MONEY, metadata={"description": "euro cents per dependant"}
    )
    adult_age = fields.Integer(load_default=18, validate=validate.Range(min=0, max=99))
    in_kind_only = fields.Boolean(load_default=True)
    max_household = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=caps.MAX_HOUSEHOLD),
        metadata={"description": "persons: the returnee and the dependants"},
    )
    min_departure_days = fields.Integer(
        required=True, validate=DAYS, metadata={"description": "after the return decision"}
    )
    max_departure_days = fields.Integer(required=True, validate=DAYS)

    @ma.post_load
    def _terms(self, data: dict[str, Any], **_: Any) -> caps.CapRuleTerms:
        return caps.CapRuleTerms(**data)


class ExchangeRateSchema(Schema):
    id = fields.Integer(dump_only=True)
    currency = fields.String(required=True, validate=CURRENCY, metadata={"description": "ISO 4217"})
    valid_on = fields.Date(required=True)
    eur_per_unit = fields.Decimal(
        as_string=True,
        validate=_plausible_rate,
        metadata={**RATE_DOC, "description": "euros per unit; or give units_per_eur"},
    )
    units_per_eur = fields.Decimal(
        load_only=True,
        validate=_plausible_rate,
        metadata={**RATE_DOC, "description": "units of the currency per euro (1 EUR = 2.93 GEL)"},
    )
    source = fields.String(load_default="", validate=validate.Length(max=120))

    @ma.validates_schema
    def _one_rate(self, data: dict[str, Any], **_: Any) -> None:
        if ("eur_per_unit" in data) == ("units_per_eur" in data):
            raise ma.ValidationError("Give either eur_per_unit or units_per_eur.", "eur_per_unit")


class RateChangeSchema(ExchangeRateSchema):
    """A correction: the currency and the day stay."""

    class Meta:
        exclude = ("currency", "valid_on")


class RateQuerySchema(Schema):
    currency = fields.String(validate=CURRENCY)


class RateImportSchema(Schema):
    file = Upload(required=True, metadata={"description": "CSV or XLSX"})


class ImportResultSchema(Schema):
    added = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()
