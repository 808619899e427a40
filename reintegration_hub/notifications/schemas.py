from __future__ import annotations

from marshmallow import fields

from reintegration_hub.core.schemas import Schema


class NoticeSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"description": "what the message is about"})
    subject = fields.String(dump_only=True)
    summary = fields.String(dump_only=True)
    link = fields.String(
        dump_only=True,
        metadata={"description": "a path inside the application (empty: no page)"},
    )
    created_at = fields.AwareDateTime(dump_only=True)
    read_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class NoticeQuerySchema(Schema):
    unread = fields.Boolean(
        load_default=False, metadata={"description": "only the notices not read yet"}
    )
