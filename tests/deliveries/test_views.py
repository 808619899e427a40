"""Delivery pages: the recording form (multipart), the delivery page, the certificate download."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.roles import Role
from reintegration_hub.deliveries import certificates, services
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from tests.deliveries.helpers import (
    PDF,
    PNG,
    build_world,
    case_manager_in,
    delivery_input,
    form_data,
    partner_user_of,
    upload,
)
from tests.factories import PartnerFactory, user_with_role
from tests.queries import counted_statements


def test_the_form_shows_the_line_and_records_a_delivery(client, login, certificate_dir) -> None:
    world = build_world()
    browser = login(world.case_manager)
    page = browser.get(f"/deliveries/lines/{world.line.id}/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert world.case.case_number in html
    assert world.case.last_name not in html  # case number only
    assert world.option.texts[0].title in html
    assert 'enctype="multipart/form-data"' in html
    assert '<option selected value="GEL">' in html

    response = browser.post(
        f"/deliveries/lines/{world.line.id}/new",
        data=form_data(amount="450.5"),
        content_type="multipart/form-data",
    )
    delivery = db.session.scalars(sa.select(Delivery)).one()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/deliveries/{delivery.id}")
    assert (delivery.amount_minor, delivery.invoice_number) == (45050, "INV-7")
    assert (certificate_dir / delivery.certificate_key).read_bytes() == PNG
    shown = browser.get(f"/deliveries/{delivery.id}").get_data(as_text=True)
    assert "INV-7" in shown
    assert f"/deliveries/{delivery.id}/certificate" in shown


def test_errors_are_shown_next_to_the_fields(client, login, certificate_dir) -> None:
    world = build_world()
    browser = login(world.partner_user)
    response = browser.post(
        f"/deliveries/lines/{world.line.id}/new",
        data=form_data(b"<html></html>", "certificate.pdf", amount="-3", invoice_number=""),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This field is required." in html  # the invoice number, from the form
    response = browser.post(
        f"/deliveries/lines/{world.line.id}/new",
        data=form_data(b"<html></html>", "certificate.pdf", amount="-3"),
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The amount cannot be negative." in html
    assert "The certificate must be a PDF, JPEG or PNG file." in html
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0
    assert not certificate_dir.exists() or list(certificate_dir.iterdir()) == []


def test_amounts_follow_the_currency_minor_unit(client, login) -> None:
    world = build_world()
    browser = login(world.case_manager)
    url = f"/deliveries/lines/{world.line.id}/new"
    response = browser.post(url, data=form_data(amount="1.005"), content_type="multipart/form-data")
    assert response.status_code == 422
    assert "At most 2 decimals." in response.get_data(as_text=True)
    response = browser.post(
        url,
        data=form_data(amount="1500", currency="JPY", eur_rate="0.0062"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    delivery = db.session.scalars(sa.select(Delivery)).one()
    assert (delivery.amount_minor, delivery.currency, delivery.amount_eur_minor) == (
        1500,
        "JPY",
        930,
    )


def test_a_missing_file_is_refused_by_the_service(client, login) -> None:
    world = build_world()
    data = form_data()
    del data["certificate"]
    response = login(world.case_manager).post(
        f"/deliveries/lines/{world.line.id}/new", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    assert "the file is empty" in response.get_data(as_text=True)


def test_a_refused_line_shows_why_and_no_form(client, login) -> None:
    world = build_world()
    services.record_delivery(world.line.id, delivery_input(), upload(), actor=world.admin)
    db.session.commit()
    browser = login(world.case_manager)
    page = browser.get(f"/deliveries/lines/{world.line.id}/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "This plan line is fully delivered: nothing more can be recorded." in html
    assert 'data-testid="delivery-form"' not in html
    response = browser.post(
        f"/deliveries/lines/{world.line.id}/new",
        data=form_data(),
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 1


def test_who_may_open_the_form(client, login) -> None:
    world = build_world()
    url = f"/deliveries/lines/{world.line.id}/new"
    assert login(world.counsellor).get(url).status_code == 403
    assert login(user_with_role(Role.PROGRAMME_MANAGER)).get(url).status_code == 403
    assert login(case_manager_in("AM", "Yerevan")).get(url).status_code == 404
    other = partner_user_of(PartnerFactory(office=world.origin), world.origin)
    assert login(other).get(url).status_code == 404
    assert login(world.partner_user).get(url).status_code == 200
    assert login(world.admin).get(url).status_code == 200


def test_certificate_download(client, login, app: Flask) -> None:
    world = build_world()
    delivery = services.record_delivery(
        world.line.id, delivery_input(), upload(PDF, "Akt priema.pdf"), actor=world.case_manager
    )
    db.session.commit()
    url = f"/deliveries/{delivery.id}/certificate"
    for reader in (world.case_manager, world.partner_user, world.counsellor, world.admin):
        page = login(reader).get(f"/deliveries/{delivery.id}")
        assert page.status_code == 200
        assert world.case.case_number in page.get_data(as_text=True)
        response = login(reader).get(url)
        assert response.status_code == 200
        assert response.data == PDF
        assert response.mimetype == "application/pdf"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"] == "attachment; filename=Akt_priema.pdf"
    outsiders = (
        case_manager_in("AM", "Yerevan"),
        partner_user_of(PartnerFactory(office=world.origin), world.origin),
        user_with_role(Role.COUNSELLOR),
    )
    for outsider in outsiders:
        browser = login(outsider)
        assert browser.get(url).status_code == 404
        assert browser.get(f"/deliveries/{delivery.id}").status_code == 404
    downloads = db.session.scalars(
        sa.select(AuditEntry.actor_id).where(AuditEntry.action == "delivery.certificate_view")
    ).all()
    assert len(downloads) == 4


def test_the_list_shows_only_what_the_reader_may_see(client, login) -> None:
    first, second = build_world(), build_world()
    for world in (first, second):
        services.record_delivery(world.line.id, delivery_input(), upload(), actor=world.admin)
    db.session.commit()
    html = login(first.partner_user).get("/deliveries/").get_data(as_text=True)
    assert first.case.case_number in html
    assert second.case.case_number not in html
    browser = login(first.admin)
    db.session.expire_all()  # the pages run in the tests' session: start cold
    with counted_statements() as seen:
        listing = browser.get("/deliveries/").get_data(as_text=True)
    two = len(seen)
    assert first.case.case_number in listing
    assert second.case.case_number in listing
    for world in (build_world(), build_world()):
        services.record_delivery(world.line.id, delivery_input(), upload(), actor=world.admin)
    db.session.commit()
    db.session.expire_all()
    with counted_statements() as seen:
        listing = browser.get("/deliveries/").get_data(as_text=True)
    assert listing.count("data-delivery=") == 4
    assert len(seen) == two


def test_the_stored_file_is_outside_the_static_folder_by_default(make_app, tmp_path: Path) -> None:
    app = make_app(CERTIFICATE_DIR=None)
    with app.app_context():
        default = certificates.certificate_dir()
    assert default == (Path(app.instance_path) / "certificates").resolve()
    assert not default.is_relative_to(Path(app.static_folder).resolve())
    inside = make_app(CERTIFICATE_DIR=str(Path(app.static_folder) / "certificates"))
    with inside.app_context(), pytest.raises(RuntimeError, match="outside the static folder"):
        certificates.certificate_dir()
