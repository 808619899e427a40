"""``/api/v1/deliveries``: multipart recording, JSON errors, scoped reads, the certificate."""

from __future__ import annotations

import io
import json

import sqlalchemy as sa

from reintegration_hub.auth import services as auth_services
from reintegration_hub.core.db import now_utc
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from tests.deliveries.helpers import JPEG, PNG, build_world, case_manager_in, partner_user_of
from tests.factories import PartnerFactory

URL = "/api/v1/deliveries"


def bearer(user) -> dict[str, str]:
    _, raw = auth_services.issue_api_token(name="test", actor=user)
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def fields(line_id: int, content: bytes = JPEG, filename: str = "receipt.jpg", **changes) -> dict:
    return {
        "plan_line_id": str(line_id),
        "delivered_on": now_utc().date().isoformat(),
        "amount_minor": "45000",
        "currency": "GEL",
        "invoice_number": "INV-9",
        "certificate": (io.BytesIO(content), filename),
        **changes,
    }


def post(client, user, data: dict):
    return client.post(URL, data=data, headers=bearer(user), content_type="multipart/form-data")


def test_record_with_multipart_then_read_it(client, certificate_dir) -> None:
    world = build_world()
    response = post(client, world.partner_user, fields(world.line.id, eur_rate="0.35"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    delivery = db.session.get(Delivery, body["id"])
    assert body["plan_line_id"] == world.line.id
    assert body["case_number"] == world.case.case_number
    assert body["eur_rate"] == "0.3500000000"
    assert body["amount_eur_minor"] == 15750
    assert body["certificate_type"] == "image/jpeg"
    assert body["certificate_name"] == "receipt.jpg"
    assert body["certificate_url"] == f"{URL}/{delivery.id}/certificate"
    assert (certificate_dir / delivery.certificate_key).read_bytes() == JPEG

    headers = bearer(world.case_manager)
    assert client.get(f"{URL}/{delivery.id}", headers=headers).get_json()["id"] == delivery.id
    listed = client.get(URL, headers=headers)
    assert [d["id"] for d in listed.get_json()] == [delivery.id]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1
    download = client.get(body["certificate_url"], headers=headers)
    assert download.status_code == 200
    assert download.data == JPEG
    assert download.mimetype == "image/jpeg"
    assert download.headers["Cache-Control"] == "no-store"


def test_refusals_are_json(client, certificate_dir) -> None:
    world = build_world()
    user = world.case_manager

    bad_type = post(client, user, fields(world.line.id, b"PK\x03\x04zip", "certificate.pdf"))
    assert bad_type.status_code == 422
    assert bad_type.is_json
    assert list(bad_type.get_json()["errors"]) == ["certificate"]

    no_file = fields(world.line.id)
    del no_file["certificate"]
    missing = post(client, user, no_file)
    assert missing.status_code == 422
    assert missing.is_json

    as_text = post(client, user, fields(world.line.id, certificate="not a file"))
    assert as_text.status_code == 422

    bad_values = post(client, user, fields(world.line.id, PNG, amount_minor="-5", currency="XYZ"))
    assert bad_values.status_code == 422
    assert set(bad_values.get_json()["errors"]["form_and_files"]) == {"amount_minor"}
    bad_currency = post(client, user, fields(world.line.id, PNG, currency="XYZ"))
    assert bad_currency.status_code == 422
    assert set(bad_currency.get_json()["errors"]) == {"currency"}

    unparsable = post(client, user, fields(world.line.id, delivered_on="yesterday"))
    assert unparsable.status_code == 422
    assert unparsable.is_json

    as_json = client.post(URL, json={"plan_line_id": world.line.id}, headers=bearer(user))
    assert as_json.status_code == 422
    assert as_json.is_json

    assert post(client, user, fields(10**6)).status_code == 404
    assert post(client, world.counsellor, fields(world.line.id)).status_code == 403
    assert post(client, case_manager_in("AM", "Yerevan"), fields(world.line.id)).status_code == 404

    assert post(client, user, fields(world.line.id)).status_code == 201
    again = post(client, user, fields(world.line.id))
    assert again.status_code == 409
    assert again.get_json()["message"] == "A delivery is already recorded for this plan line."
    assert len(list(certificate_dir.iterdir())) == 1
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 1


def test_reads_are_scoped(client) -> None:
    world = build_world()
    created = post(client, world.admin, fields(world.line.id)).get_json()
    other = partner_user_of(PartnerFactory(office=world.origin), world.origin)
    headers = bearer(other)
    assert client.get(URL, headers=headers).get_json() == []
    assert client.get(f"{URL}/{created['id']}", headers=headers).status_code == 404
    assert client.get(created["certificate_url"], headers=headers).status_code == 404
    own = client.get(f"{URL}?plan_id={world.plan.id}", headers=bearer(world.partner_user))
    assert [d["id"] for d in own.get_json()] == [created["id"]]
    elsewhere = client.get(f"{URL}?plan_id={world.plan.id + 1}", headers=bearer(world.admin))
    assert elsewhere.get_json() == []


def test_ids_beyond_the_integer_columns_are_not_found_or_refused(client) -> None:
    world = build_world()
    headers = bearer(world.admin)
    huge = 2**31
    assert client.get(f"{URL}/{huge}", headers=headers).status_code == 404
    assert client.get(f"{URL}/{huge}/certificate", headers=headers).status_code == 404
    assert client.get(f"{URL}?plan_id={huge}", headers=headers).status_code == 422
    assert post(client, world.admin, fields(huge)).status_code == 422
    too_much = post(client, world.admin, fields(world.line.id, amount_minor=str(10**30)))
    assert too_much.status_code == 422
    assert list(too_much.get_json()["errors"]["form_and_files"]) == ["amount_minor"]
