from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from reintegration_hub.core.roles import OfficeKind, Role


class OfficeSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.Enum(OfficeKind, by_value=True, required=True)
    country_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z]{2}$"),
        metadata={"description": "ISO 3166-1 alpha-2"},
    )
    city = fields.String(load_default="", validate=validate.Length(max=120))
    languages = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z]{2}$")),
        load_default=list,
        metadata={"description": "ISO 639-1 codes"},
    )
    is_active = fields.Boolean(dump_only=True)


class UserSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email(dump_only=True)
    full_name = fields.String(dump_only=True)
    role = fields.Enum(Role, by_value=True, dump_only=True)
    preferred_language = fields.String(dump_only=True)
    office = fields.Nested(OfficeSchema, dump_only=True)


class ApiTokenSchema(ma.Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    prefix = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    expires_at = fields.AwareDateTime(dump_only=True)
    last_used_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class NewApiTokenSchema(ApiTokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "shown once; store it now"})


class OfficeQuerySchema(ma.Schema):
    kind = fields.Enum(OfficeKind, by_value=True)
    country_code = fields.String(validate=validate.Regexp(r"^[A-Za-z]{2}$"))
