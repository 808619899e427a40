"""``/api/v1/deliveries``: the same services and scope as the delivery pages.

Recording is a ``multipart/form-data`` POST: the fields and the certificate file in one body
(``core.api.MultipartBlueprint``).
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import MultipartBlueprint, SelectPage, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.web import attachment
from reintegration_hub.deliveries import services
from reintegration_hub.deliveries.certificates import CERTIFICATE_TYPES, CertificateUpload
from reintegration_hub.deliveries.schemas import (
    DeliveryCreateSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    LineDeliveriesSchema,
)
from reintegration_hub.deliveries.views import READERS, RECORDERS

NOT_FOUND = "No such delivery in the caller's scope"


bp = MultipartBlueprint(
    "deliveries_api", __name__, url_prefix="/deliveries", description="Deliveries of plan lines"
)

CERTIFICATE_CONTENT = {
    mime: {"schema": {"type": "string", "format": "binary"}}
    for mime, _magic, _ext in CERTIFICATE_TYPES
}


@bp.get("")
@bp.arguments(DeliveryQuerySchema, location="query")
@bp.response(200, DeliverySchema(many=True))
@bp.paginate(SelectPage)
@roles(*READERS)
def list_deliveries(query: dict[str, Any]) -> Any:
    """The deliveries the caller may see, newest first (case numbers only, no names)."""
    return services.deliveries_statement(actor=current_user, **query)


@bp.post("")
@bp.arguments(DeliveryCreateSchema, location="form_and_files")
@bp.response(201, DeliverySchema)
@bp.refuses(
    {
        403: "Not a case manager, partner or admin",
        404: "No such plan line in the caller's scope",
        409: "Plan not approved, referral not accepted, or the line fully delivered",
        422: "A bad field, or more units or a larger amount than the line has left",
    }
)
@roles(*RECORDERS)
@commits
def create_delivery(data: dict[str, Any]) -> Any:
    """Record an instalment of an approved plan line (its only one when delivered at once)
    with its handover certificate (PDF, JPEG or PNG, decided by the content). Instalments
    never exceed the line's planned quantity and amount; the one that reaches either
    completes the line. The first consumes the line's place and moves the case to in
    delivery; the last marks the referral delivered."""
    line_id = data.pop("plan_line_id")
    upload = data.pop("certificate")
    return services.record_delivery(
        line_id,
        services.DeliveryInput(**data),
        CertificateUpload(upload.filename or "", upload.stream),
        actor=current_user,
    )


@bp.get("/lines/<int:line_id>")
@bp.response(200, LineDeliveriesSchema)
@bp.refuses({404: "No such plan line in the caller's scope"})
@roles(*READERS)
def get_line_deliveries(line_id: int) -> Any:
    """A plan line's instalments and what is still due of it."""
    return services.line_state(line_id, actor=current_user)


@bp.get("/<int:delivery_id>")
@bp.response(200, DeliverySchema)
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def get_delivery(delivery_id: int) -> Any:
    return services.get_delivery(delivery_id, actor=current_user)


@bp.get("/<int:delivery_id>/certificate")
@bp.doc(responses={"200": {"description": "The certificate file", "content": CERTIFICATE_CONTENT}})
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
@commits
def get_certificate(delivery_id: int) -> Any:
    """The handover certificate as a download; every download is audited."""
    delivery, path = services.certificate_file(delivery_id, actor=current_user)
    return attachment(path, mimetype=delivery.certificate_type, name=delivery.certificate_name)
