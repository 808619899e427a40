from __future__ import annotations

from marshmallow import fields, validate

from reintegration_hub.auth.models import ApiToken, Office
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.schemas import Schema


class OfficeSchema(Schema):
    class Meta:
        model = Office

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1))
    kind = fields.Enum(OfficeKind, by_value=True, required=True)
    country_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z]{2}$"),
        metadata={"description": "ISO 3166-1 alpha-2"},
    )
    city = fields.String(load_default="")
    languages = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z]{2}$")),
        load_default=list,
        metadata={"description": "ISO 639-1 codes"},
    )
    is_active = fields.Boolean(dump_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    full_name = fields.String(dump_only=True)
    role = fields.Enum(Role, by_value=True, dump_only=True)
    preferred_language = fields.String(dump_only=True)
    office = fields.Nested(OfficeSchema, dump_only=True)


class ApiTokenSchema(Schema):
    class Meta:
        model = ApiToken

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1))
    prefix = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    expires_at = fields.AwareDateTime(dump_only=True)
    last_used_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class NewApiTokenSchema(ApiTokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "shown once; store it now"})


class OfficeQuerySchema(Schema):
    kind = fields.Enum(OfficeKind, by_value=True)
    country_code = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))
