"""Delivery API shapes: a multipart form with the certificate file in, the delivery (one
instalment of a plan line) out, and a line's progress: what is delivered and what is due."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from werkzeug.datastructures import FileStorage

from reintegration_hub.core.schemas import Schema
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.deliveries.services import MAX_QUANTITY


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
    quantity = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_QUANTITY),
        metadata={
            "description": "units of the line handed over with this instalment; empty: its "
            "share of what is left (the whole line when it is paid at once)"
        },
    )
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
    instalment = fields.Integer(metadata={"description": "1, 2, ... within the line"})
    final = fields.Boolean(metadata={"description": "this instalment completed the line"})
    delivered_on = fields.Date()
    quantity = fields.Integer(metadata={"description": "units of the line handed over"})
    amount_minor = fields.Integer()
    currency = fields.String()
    eur_rate = fields.Decimal(
        as_string=True,
        metadata={"type": "string", "format": "decimal", "description": "euros per unit used"},
    )
    amount_eur_minor = fields.Integer()
    amount_line_minor = fields.Integer(
        metadata={"description": "what it counts against the line, in the line's currency"}
    )
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
    plan_line_id = fields.Integer(metadata={"description": "only this plan line's instalments"})


def _progress(name: str, field: type[fields.Field[Any]], description: str) -> fields.Field[Any]:
    return field(attribute=f"progress.{name}", metadata={"description": description})


class LineDeliveriesSchema(Schema):
    """A plan line's deliveries: what was planned, delivered and is still due (amounts in
    minor units of the line's currency), and whether an instalment can be recorded now."""

    line_id = fields.Integer(attribute="line.id")
    plan_id = fields.Integer(attribute="line.plan_id")
    case_number = fields.String(attribute="line.plan.returnee.case_number")
    option_id = fields.Integer(attribute="line.option_id")
    referral_id = fields.Integer(attribute="line.referral_id", allow_none=True)
    currency = _progress("currency", fields.String, "the line's currency (ISO 4217)")
    planned_quantity = _progress("planned_quantity", fields.Integer, "units planned")
    planned_minor = _progress("planned_minor", fields.Integer, "amount planned")
    delivered_quantity = _progress("delivered_quantity", fields.Integer, "units delivered")
    delivered_minor = _progress("delivered_minor", fields.Integer, "amount delivered")
    delivered_eur_minor = _progress(
        "delivered_eur_minor", fields.Integer, "euro cents paid, at each instalment's rate"
    )
    remaining_quantity = _progress("remaining_quantity", fields.Integer, "units still due")
    remaining_minor = _progress("remaining_minor", fields.Integer, "amount still due")
    instalments_planned = _progress(
        "instalments_planned", fields.Integer, "instalments the line's schedule has"
    )
    instalments_recorded = _progress("instalments_recorded", fields.Integer, "recorded so far")
    instalments_due = _progress("instalments_due", fields.Integer, "still to record")
    suggested_quantity = _progress(
        "suggested_quantity", fields.Integer, "units of the next instalment when none are given"
    )
    suggested_minor = _progress(
        "suggested_minor", fields.Integer, "the next instalment's share of the amount left"
    )
    complete = _progress("complete", fields.Boolean, "its last instalment is recorded")
    next_due_on = fields.Date(
        attribute="progress.next_due_on",
        allow_none=True,
        metadata={"description": "the earliest open delivery milestone"},
    )
    refusal = fields.Function(
        lambda state: None if state.refusal is None else str(state.refusal.message),
        metadata={
            "type": "string",
            "nullable": True,
            "description": "why no instalment can be recorded now; null when one can",
        },
    )
    deliveries = fields.List(fields.Nested(DeliverySchema), metadata={"description": "first first"})
