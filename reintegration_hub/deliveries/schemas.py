"""Delivery API shapes: a multipart form with the certificate file in, the delivery out."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import fields
from werkzeug.datastructures import FileStorage

from reintegration_hub.core.schemas import Schema
from reintegration_hub.deliveries.models import Delivery


class CertificateField(Upload):
    """The uploaded certificate; a plain form value of the same name is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError("Send the certificate as a file.")
        return value


class DeliveryCreateSchema(Schema):
    class Meta:
        model = Delivery

    plan_line_id = fields.Integer(required=True)
    delivered_on = fields.Date(required=True)
    amount_minor = fields.Integer(
        required=True, metadata={"description": "what was paid, in minor units of the currency"}
    )
    currency = fields.String(required=True, metadata={"description": "ISO 4217"})
    eur_rate = fields.Decimal(
        load_default=None,
        allow_none=True,
        metadata={
            "type": "string",
            "format": "decimal",
            "description": "euros per unit; empty: the rate recorded for the delivery date",
        },
    )
    invoice_number = fields.String(required=True)
    note = fields.String(load_default="")
    certificate = CertificateField(
        required=True,
        metadata={"description": "the handover certificate: PDF, JPEG or PNG, by content"},
    )


class DeliverySchema(Schema):
    id = fields.Integer()
    plan_line_id = fields.Integer()
    plan_id = fields.Integer(attribute="plan_line.plan_id")
    case_number = fields.String(attribute="plan_line.plan.returnee.case_number")
    option_id = fields.Integer(attribute="plan_line.option_id")
    delivered_on = fields.Date()
    amount_minor = fields.Integer()
    currency = fields.String()
    eur_rate = fields.Decimal(
        as_string=True,
        metadata={"type": "string", "format": "decimal", "description": "euros per unit used"},
    )
    amount_eur_minor = fields.Integer()
    invoice_number = fields.String()
    note = fields.String()
    certificate_name = fields.String()
    certificate_type = fields.String(metadata={"description": "detected from the content"})
    certificate_size = fields.Integer()
    certificate_sha256 = fields.String()
    certificate_url = fields.Method(
        "_certificate_url", metadata={"type": "string", "description": "the file (audited)"}
    )
    recorded_by_id = fields.Integer(allow_none=True)
    recorded_at = fields.AwareDateTime()

    def _certificate_url(self, delivery: Any) -> str:
        return url_for("deliveries_api.get_certificate", delivery_id=delivery.id)


class DeliveryQuerySchema(Schema):
    plan_id = fields.Integer(metadata={"description": "only this plan's deliveries"})
