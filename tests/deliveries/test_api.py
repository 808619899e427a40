"""``/api/v1/deliveries``: multipart recording, JSON errors, scoped reads, the certificate."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa

from reintegration_hub.core.db import now_utc
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from tests.deliveries.helpers import JPEG, PNG, build_world, case_manager_in, partner_user_of
from tests.factories import PartnerFactory, bearer

URL = "/api/v1/deliveries"


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
    assert again.get_json()["message"] == (
        "This plan line is fully delivered: nothing more can be recorded."
    )
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


def test_instalments_through_the_api_up_to_the_line_and_not_beyond(client) -> None:
    world = build_world()  # 2 units, GEL 500 planned
    line_url = f"{URL}/lines/{world.line.id}"
    due = client.get(line_url, headers=bearer(world.partner_user)).get_json()
    assert (due["planned_quantity"], due["planned_minor"], due["currency"]) == (2, 50000, "GEL")
    assert (due["remaining_quantity"], due["remaining_minor"], due["refusal"]) == (2, 50000, None)

    first = post(
        client, world.partner_user, fields(world.line.id, quantity="1", amount_minor="25000")
    )
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["instalment"], first.get_json()["final"]) == (1, False)

    too_much = post(
        client, world.partner_user, fields(world.line.id, quantity="2", amount_minor="25001")
    )
    assert too_much.status_code == 422
    assert set(too_much.get_json()["errors"]) == {"quantity", "amount_minor"}
    bad = post(client, world.partner_user, fields(world.line.id, quantity="-1"))
    assert bad.status_code == 422
    assert "quantity" in bad.get_json()["errors"]["form_and_files"]  # the schema refused it

    last = post(client, world.case_manager, fields(world.line.id, amount_minor="25000"))
    assert last.status_code == 201
    assert (last.get_json()["instalment"], last.get_json()["quantity"]) == (2, 1)  # the rest
    assert last.get_json()["final"] is True

    done = client.get(line_url, headers=bearer(world.counsellor)).get_json()
    assert done["complete"] is True
    assert (done["delivered_quantity"], done["delivered_minor"]) == (2, 50000)
    assert done["refusal"] == "This plan line is fully delivered: nothing more can be recorded."
    assert [d["instalment"] for d in done["deliveries"]] == [1, 2]
    listed = client.get(
        URL, query_string={"plan_line_id": world.line.id}, headers=bearer(world.admin)
    )
    assert [d["instalment"] for d in listed.get_json()] == [2, 1]
    again = post(client, world.partner_user, fields(world.line.id))
    assert again.status_code == 409


def test_a_line_is_read_within_the_scope_of_its_deliveries(client) -> None:
    world = build_world()
    line_url = f"{URL}/lines/{world.line.id}"
    for reader in (world.case_manager, world.partner_user, world.counsellor, world.admin):
        assert client.get(line_url, headers=bearer(reader)).status_code == 200
    outsiders = (
        case_manager_in("AM", "Yerevan"),
        partner_user_of(PartnerFactory(office=world.origin), world.origin),
    )
    for outsider in outsiders:
        assert client.get(line_url, headers=bearer(outsider)).status_code == 404
    assert client.get(f"{URL}/lines/{2**31 - 1}", headers=bearer(world.admin)).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"invoice_number": "INV\x00-1"}, "invoice_number"),
        ({"note": "handed over\x00"}, "note"),
        ({"invoice_number": "I" * 65}, "invoice_number"),
        ({"note": "n" * 1001}, "note"),
        ({"delivered_on": "9999-12-31"}, "delivered_on"),
        ({"currency": "G\x00L"}, "currency"),
        ({"quantity": str(10**20)}, "quantity"),
        ({"amount_minor": str(10**20)}, "amount_minor"),
        ({"eur_rate": "1e400"}, "eur_rate"),
        ({"plan_line_id": str(2**40)}, "plan_line_id"),
    ],
)
def test_hostile_input_is_refused_at_its_field(client, changes: dict, field: str) -> None:
    world = build_world()
    response = post(client, world.partner_user, fields(world.line.id, **changes))
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field in errors.get("form_and_files", errors)
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0
