"""Marshmallow schemas of the marketplace API (input shapes and output fields only)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from marshmallow import fields, post_dump, validate

from partners.models import (
    MAX_PAYMENT_MONTHS,
    CapacityPeriod,
    CostBasis,
    DeclineReason,
    DeliveryMode,
    HoldStatus,
    OptionStatus,
    Partner,
    PaymentSchedule,
    PlaceHold,
    ReferralStatus,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
    VettingStatus,
)
from partners.referrals import ANSWER_NOTE_MAX, PERSONAL_FIELDS, service_title, shows_person
from partners.search import SortOrder
from partners.services import LocationInput, OptionInput, PartnerInput, TextInput
from reintegration_hub.core.schemas import Schema
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory

# --- search (partners/search.py) ------------------------------------------------------------


class SearchArgsSchema(Schema):
    """The query of ``GET /marketplace/search`` (the search page takes the same parameters)."""

    q = fields.String(validate=validate.Length(max=200), metadata={"description": "free text"})
    country = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))
    region = fields.String(validate=validate.Length(max=120))
    city = fields.String(validate=validate.Length(max=120))
    category = fields.Enum(SupportCategory, by_value=True)
    max_cost_eur = fields.Float(
        validate=validate.Range(min=0, max=1e9),
        metadata={"description": "cost ceiling in euros"},
    )
    language = fields.String(
        validate=validate.Regexp(r"^[a-z]{2}$"), metadata={"description": "delivery language"}
    )
    free_places = fields.Boolean(metadata={"description": "only options with places left"})
    partner_id = fields.Integer()
    age = fields.Integer(validate=validate.Range(min=0, max=130))
    sex = fields.Enum(Sex, by_value=True)
    vulnerabilities = fields.List(fields.Enum(VulnerabilityCategory, by_value=True))
    family_size = fields.Integer(validate=validate.Range(min=1, max=100))
    languages = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z]{2}$")),
        metadata={"description": "languages the returnee speaks"},
    )
    eligible_only = fields.Boolean(
        load_default=True,
        metadata={"description": "with a profile: only options that fit (else explain why not)"},
    )
    sort = fields.Enum(SortOrder, by_value=True, load_default=SortOrder.RELEVANCE)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PartnerRefSchema(Schema):
    id = fields.Integer()
    public_id = fields.UUID()
    name = fields.String()


class SearchLocationSchema(Schema):
    city = fields.String()
    region = fields.String()


class IneligibilitySchema(Schema):
    rule = fields.String(metadata={"description": "age, sex, vulnerability, family_size, language"})
    message = fields.String()


class SearchHitSchema(Schema):
    id = fields.Integer(attribute="option.id")
    public_id = fields.UUID(attribute="option.public_id")
    title = fields.String()
    description = fields.String()
    text_language = fields.String()
    category = fields.Enum(SupportCategory, by_value=True, attribute="option.category")
    status = fields.Enum(OptionStatus, by_value=True, attribute="option.status")
    country_code = fields.String(attribute="option.country_code")
    partner = fields.Nested(PartnerRefSchema, attribute="option.partner")
    locations = fields.List(fields.Nested(SearchLocationSchema), attribute="option.locations")
    cost_minor = fields.Integer(attribute="option.cost_minor")
    currency = fields.String(attribute="option.currency")
    cost_eur_minor = fields.Integer(attribute="option.cost_eur_minor")
    cost_basis = fields.Enum(CostBasis, by_value=True, attribute="option.cost_basis")
    delivery_mode = fields.Enum(DeliveryMode, by_value=True, attribute="option.delivery_mode")
    delivery_languages = fields.List(fields.String(), attribute="option.delivery_languages")
    lead_time_days = fields.Integer(attribute="option.lead_time_days")
    earliest_start = fields.Date()
    free_places = fields.Integer(
        allow_none=True, metadata={"description": "places left this period; null: unlimited"}
    )
    reasons = fields.List(
        fields.Nested(IneligibilitySchema),
        allow_none=True,
        metadata={"description": "why it does not fit the profile; null without a profile"},
    )
    rank = fields.Float(allow_none=True)


class FacetCountSchema(Schema):
    value = fields.String()
    label = fields.String()
    count = fields.Integer()


class SearchResultSchema(Schema):
    items = fields.List(fields.Nested(SearchHitSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    facets = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Nested(FacetCountSchema)),
        metadata={"description": "counts by category, country, language and partner"},
    )


# --- partners and options (partners/services.py) --------------------------------------------

MAX_DAYS = 10_000
_language = fields.String(validate=validate.Regexp(r"^[a-z]{2}$"))
_short_text = fields.String(validate=validate.Length(min=1, max=120))


class PartnerSchema(Schema):
    """A partner organisation (HSDS organization); the input of create and update."""

    class Meta:
        model = Partner

    id = fields.Integer(dump_only=True)
    public_id = fields.UUID(dump_only=True)
    office_id = fields.Integer(
        metadata={"description": "origin office; case managers: their own (may be left out)"},
    )
    name = fields.String(required=True, validate=validate.Length(min=1))
    legal_status = fields.String(load_default="")
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    country_code = fields.String(dump_only=True)
    regions = fields.List(_short_text, load_default=list, validate=validate.Length(max=50))
    languages = fields.List(_language, load_default=list, validate=validate.Length(max=20))
    contact_language = fields.String(
        load_default="",
        validate=validate.Regexp(r"^([a-z]{2})?$"),
        metadata={
            "description": "ISO 639-1: e-mails to a focal point without an account are "
            "written in it (in English when the Hub has no translation into it); empty: English"
        },
    )
    focal_point_name = fields.String(load_default="")
    focal_point_email = fields.Email(required=True)
    phone = fields.String(load_default="")
    website = fields.String(load_default="")
    vetting_status = fields.Enum(VettingStatus, by_value=True, dump_only=True)
    suspension_reason = fields.String(dump_only=True)
    agreement_number = fields.String(load_default="")
    agreement_valid_from = fields.Date(load_default=None, allow_none=True)
    agreement_valid_until = fields.Date(load_default=None, allow_none=True)
    updated_at = fields.AwareDateTime(dump_only=True)

    @ma.post_load
    def make_input(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        office_id = data.pop("office_id", None)
        return {"office_id": office_id, "partner": PartnerInput(**data)}


class PartnerQuerySchema(Schema):
    vetting_status = fields.Enum(VettingStatus, by_value=True)
    country_code = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))


class VettingSchema(Schema):
    vetting_status = fields.Enum(VettingStatus, by_value=True, required=True)
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "required when suspending"},
    )


class OptionTextSchema(Schema):
    class Meta:
        model = SupportOptionText

    language = fields.String(required=True, validate=validate.Regexp(r"^[a-z]{2}$"))
    title = fields.String(required=True, validate=validate.Length(min=1))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))


class OptionLocationSchema(Schema):
    class Meta:
        model = SupportOptionLocation

    city = fields.String(required=True, validate=validate.Length(min=1))
    region = fields.String(load_default="")
    address = fields.String(load_default="")
    latitude = fields.Decimal(
        places=6,
        as_string=True,
        allow_none=True,
        load_default=None,
        validate=lambda v: -90 <= v <= 90,
        metadata={"type": "string", "format": "decimal", "description": "-90 to 90"},
    )
    longitude = fields.Decimal(
        places=6,
        as_string=True,
        allow_none=True,
        load_default=None,
        validate=lambda v: -180 <= v <= 180,
        metadata={"type": "string", "format": "decimal", "description": "-180 to 180"},
    )


def _days(**kwargs: Any) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0, max=MAX_DAYS), **kwargs)


class OptionSchema(Schema):
    """A support option (HSDS service) with its texts and locations; create/update input."""

    class Meta:
        model = SupportOption

    id = fields.Integer(dump_only=True)
    public_id = fields.UUID(dump_only=True)
    partner_id = fields.Integer(dump_only=True)
    country_code = fields.String(dump_only=True)
    status = fields.Enum(OptionStatus, by_value=True, dump_only=True)
    category = fields.Enum(SupportCategory, by_value=True, required=True)
    texts = fields.List(
        fields.Nested(OptionTextSchema),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "one per language; English is needed to publish"},
    )
    locations = fields.List(
        fields.Nested(OptionLocationSchema), load_default=list, validate=validate.Length(max=50)
    )
    service_area = fields.List(_short_text, load_default=list, validate=validate.Length(max=50))
    min_age = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=130)
    )
    max_age = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=0, max=130)
    )
    sexes = fields.List(
        fields.String(validate=validate.OneOf([v.value for v in Sex])),
        load_default=list,
        metadata={"description": "empty: any"},
    )
    vulnerabilities_served = fields.List(
        fields.String(validate=validate.OneOf([v.value for v in VulnerabilityCategory])),
        load_default=list,
    )
    vulnerabilities_required = fields.List(
        fields.String(validate=validate.OneOf([v.value for v in VulnerabilityCategory])),
        load_default=list,
    )
    min_family_size = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100)
    )
    max_family_size = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100)
    )
    languages_required = fields.List(_language, load_default=list, validate=validate.Length(max=20))
    eligibility_notes = fields.String(load_default="", validate=validate.Length(max=5000))
    cost_minor = fields.Integer(
        load_default=0, metadata={"description": "in minor units of the currency"}
    )
    currency = fields.String(load_default="EUR", validate=validate.Regexp(r"^[A-Za-z]{3}$"))
    cost_basis = fields.Enum(CostBasis, by_value=True, load_default=CostBasis.PER_PERSON)
    delivery_mode = fields.Enum(DeliveryMode, by_value=True, load_default=DeliveryMode.SERVICE)
    cost_eur_minor = fields.Integer(dump_only=True)
    eur_rate = fields.Decimal(
        dump_only=True,
        as_string=True,
        metadata={"type": "string", "format": "decimal", "description": "euros per unit used"},
    )
    duration_days = _days(load_default=None, allow_none=True)
    lead_time_days = _days(load_default=0)
    delivery_languages = fields.List(_language, load_default=list, validate=validate.Length(max=20))
    required_documents = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_until = fields.Date(load_default=None, allow_none=True)
    capacity_places = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "places per period; null: unlimited"},
    )
    capacity_period = fields.Enum(CapacityPeriod, by_value=True, load_default=CapacityPeriod.MONTH)
    payment_schedule = fields.Enum(
        PaymentSchedule,
        by_value=True,
        load_default=PaymentSchedule.ONE_OFF,
        metadata={"description": "paid at once, or in monthly instalments"},
    )
    payment_months = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=2, max=MAX_PAYMENT_MONTHS),
        metadata={
            "description": "monthly: the number of payments; null for a per-month cost (one "
            "for each month a plan line asks for)"
        },
    )
    last_verified_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    verified_by_id = fields.Integer(dump_only=True, allow_none=True)
    stale_since = fields.AwareDateTime(dump_only=True, allow_none=True)
    updated_at = fields.AwareDateTime(dump_only=True)

    @ma.post_load
    def make_input(self, data: dict[str, Any], **_kwargs: Any) -> OptionInput:
        data["texts"] = [TextInput(**t) for t in data["texts"]]
        data["locations"] = [LocationInput(**loc) for loc in data["locations"]]
        return OptionInput(**data)


class OptionQuerySchema(Schema):
    partner_id = fields.Integer()


class OptionStatusSchema(Schema):
    status = fields.Enum(OptionStatus, by_value=True, required=True)


class HoldArgsSchema(Schema):
    class Meta:
        model = PlaceHold

    reference = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "what the place is for, e.g. a plan line"},
    )
    on = fields.Date(metadata={"description": "a day in the period (default today)"})


class HoldResultSchema(Schema):
    hold_id = fields.Integer()
    status = fields.Enum(HoldStatus, by_value=True)
    waitlist_position = fields.Integer(allow_none=True, metadata={"description": "1: next"})
    period_start = fields.Date(allow_none=True)
    free_places = fields.Integer(allow_none=True, metadata={"description": "null: unlimited"})


class HoldSchema(Schema):
    id = fields.Integer()
    option_id = fields.Integer()
    reference = fields.String()
    status = fields.Enum(HoldStatus, by_value=True)
    waitlist_number = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)


# --- referrals (partners/referrals.py) -------------------------------------------------------


class ReferralSchema(Schema):
    """A referral as its partner sees it: the copied packet, never more of the case; its
    personal fields empty for a caller the returnee's consent does not cover."""

    id = fields.Integer()
    reference = fields.String(metadata={"description": "what it was made for: plan-line:<id>"})
    option_id = fields.Integer()
    service = fields.Function(
        lambda referral: service_title(referral.option),
        metadata={"description": "the option's title in the partner's language, else English"},
    )
    partner_id = fields.Integer()
    partner_name = fields.String(attribute="partner.name")
    office_id = fields.Integer(metadata={"description": "the origin office that follows it"})
    status = fields.Enum(ReferralStatus, by_value=True)
    decline_reason = fields.Enum(DeclineReason, by_value=True, allow_none=True)
    answer_note = fields.String()
    sent_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime(
        metadata={"description": "a sent referral cannot be answered from then on"}
    )
    answered_at = fields.AwareDateTime(allow_none=True)
    answered_by_id = fields.Integer(
        allow_none=True, metadata={"description": "null with an answer through the e-mailed link"}
    )
    case_number = fields.String()
    first_name = fields.String()
    quantity = fields.Integer()
    starts_on = fields.Date(allow_none=True)
    note_for_partner = fields.String()
    vulnerability_note = fields.String(
        metadata={"description": "empty unless the returnee's consent shares it with partners"}
    )
    contact_name = fields.String()
    contact_email = fields.String()
    contact_phone = fields.String()
    personal_data_withheld = fields.Function(
        lambda referral: not shows_person(referral, current_user),
        metadata={
            "description": "true when the returnee's consent does not let the caller read "
            "first_name, note_for_partner, vulnerability_note and answer_note (all empty then)"
        },
    )

    @post_dump
    def withhold_personal_fields(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("personal_data_withheld"):
            data.update({name: "" for name in PERSONAL_FIELDS if name in data})
        return data


class ReferralQuerySchema(Schema):
    status = fields.Enum(ReferralStatus, by_value=True)


class ReferralAcceptSchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=ANSWER_NOTE_MAX))


class ReferralDeclineSchema(Schema):
    reason = fields.Enum(DeclineReason, by_value=True, required=True)
    note = fields.String(
        load_default="",
        validate=validate.Length(max=ANSWER_NOTE_MAX),
        metadata={"description": "required with the reason other"},
    )


# --- HSDS 3.0 export (partners/hsds.py) -------------------------------------------------------
# The fields each record can carry (HSDS leaves out what has no value); the authoritative shape
# is the HSDS 3.0 schema, against which tests/partners/test_hsds.py validates every record.


class HsdsPageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class HsdsMetadataSchema(Schema):
    id = fields.UUID(required=True)
    resource_type = fields.String()
    last_action_date = fields.String(required=True)
    last_action_type = fields.String(required=True)
    field_name = fields.String(required=True)
    previous_value = fields.String(required=True)
    replacement_value = fields.String(required=True)
    updated_by = fields.String(required=True)


class HsdsCostOptionSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID()
    option = fields.String()
    currency = fields.String()
    amount = fields.Float()
    amount_description = fields.String()
    valid_from = fields.String()
    valid_to = fields.String()


class HsdsLanguageSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID()
    code = fields.String()
    name = fields.String()


class HsdsRequiredDocumentSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID()
    document = fields.String()


class HsdsServiceAreaSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID()
    name = fields.String()


class HsdsLocationSchema(Schema):
    id = fields.UUID(required=True)
    location_type = fields.String(required=True, validate=validate.OneOf(["physical"]))
    organization_id = fields.UUID()
    name = fields.String()
    description = fields.String()
    latitude = fields.Float()
    longitude = fields.Float()


class HsdsServiceAtLocationSchema(Schema):
    id = fields.UUID(required=True)
    service_id = fields.UUID()
    location_id = fields.UUID()
    location = fields.Nested(HsdsLocationSchema)


class HsdsOrganizationRefSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)


class HsdsServiceSchema(Schema):
    id = fields.UUID(required=True)
    organization_id = fields.UUID()
    name = fields.String(required=True)
    description = fields.String()
    email = fields.String()
    url = fields.String()
    status = fields.String(
        required=True,
        validate=validate.OneOf(["active", "inactive", "defunct", "temporarily closed"]),
    )
    eligibility_description = fields.String()
    minimum_age = fields.Integer()
    maximum_age = fields.Integer()
    wait_time = fields.String()
    assured_date = fields.String(metadata={"description": "YYYY-MM-DD"})
    assurer_email = fields.String()
    last_modified = fields.String()
    cost_options = fields.List(fields.Nested(HsdsCostOptionSchema))
    languages = fields.List(fields.Nested(HsdsLanguageSchema))
    required_documents = fields.List(fields.Nested(HsdsRequiredDocumentSchema))
    service_areas = fields.List(fields.Nested(HsdsServiceAreaSchema))
    service_at_locations = fields.List(fields.Nested(HsdsServiceAtLocationSchema))
    metadata = fields.List(fields.Nested(HsdsMetadataSchema))
    organization = fields.Nested(HsdsOrganizationRefSchema)


class HsdsPhoneSchema(Schema):
    id = fields.UUID(required=True)
    number = fields.String(required=True)


class HsdsServiceRefSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True)


class HsdsOrganizationSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    email = fields.String()
    website = fields.String()
    legal_status = fields.String()
    phones = fields.List(fields.Nested(HsdsPhoneSchema))
    services = fields.List(fields.Nested(HsdsServiceRefSchema))
    metadata = fields.List(fields.Nested(HsdsMetadataSchema))


class HsdsPageSchema(Schema):
    """The HSDS OpenAPI ``Page``: ``size`` is the number of records on this page."""

    total_items = fields.Integer()
    total_pages = fields.Integer()
    page_number = fields.Integer()
    size = fields.Integer()
    first_page = fields.Boolean()
    last_page = fields.Boolean()
    empty = fields.Boolean()


class HsdsServicePageSchema(HsdsPageSchema):
    contents = fields.List(fields.Nested(HsdsServiceSchema))


class HsdsOrganizationPageSchema(HsdsPageSchema):
    contents = fields.List(fields.Nested(HsdsOrganizationSchema))
