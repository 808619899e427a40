"""Marketplace pages: who may see and change partners and options, through the client."""

from __future__ import annotations

from flask import Flask

from partners.models import OptionStatus, Partner, SupportOption, VettingStatus
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.factories import OfficeFactory, PartnerFactory, SupportOptionFactory, UserFactory
from tests.partners.helpers import case_manager
from tests.queries import counted_statements


def option_form(**changes: str) -> dict[str, str]:
    data = {
        "category": "vocational_training",
        "texts-0-language": "en",
        "texts-0-title": "Hairdressing course in Kutaisi",
        "texts-0-description": "Two months.",
        "texts-1-language": "ka",
        "texts-1-title": "პარიკმახერის კურსი",
        "locations-0-city": "Kutaisi",
        "locations-0-region": "Imereti",
        "service_area": "Imereti, Racha",
        "vulnerabilities_served": "single_parent",
        "max_family_size": "6",
        "cost": "0",
        "currency": "EUR",
        "cost_basis": "per_person",
        "delivery_mode": "service",
        "lead_time_days": "7",
        "delivery_languages": "ka",
        "capacity_places": "5",
        "capacity_period": "month",
    }
    data.update(changes)
    return data


def test_tbilisi_edits_the_kutaisi_course_and_yerevan_cannot(app: Flask, login) -> None:
    option = SupportOptionFactory()
    tbilisi, yerevan = case_manager("GE"), case_manager("AM")
    client = login(yerevan)
    assert client.get(f"/marketplace/options/{option.id}/edit").status_code == 404
    assert (
        client.post(f"/marketplace/options/{option.id}/edit", data=option_form()).status_code == 404
    )
    client = login(tbilisi)
    page = client.get(f"/marketplace/options/{option.id}/edit")
    assert page.status_code == 200
    assert b'data-testid="option-form"' in page.data
    response = client.post(f"/marketplace/options/{option.id}/edit", data=option_form())
    assert response.status_code == 302
    saved = db.session.get(SupportOption, option.id)
    db.session.refresh(saved)
    assert saved.text("en").title == "Hairdressing course in Kutaisi"
    assert saved.service_area == ["Imereti", "Racha"]
    assert saved.capacity_places == 5
    detail = client.get(f"/marketplace/options/{option.id}")
    assert "პარიკმახერის კურსი".encode() in detail.data
    assert b'data-testid="edit-option"' in detail.data


def test_counsellors_read_listed_options_but_cannot_edit(app: Flask, login) -> None:
    option = SupportOptionFactory()
    draft = SupportOptionFactory(status=OptionStatus.DRAFT)
    client = login(UserFactory(role=Role.COUNSELLOR))
    page = client.get(f"/marketplace/options/{option.id}")
    assert page.status_code == 200
    assert b'data-testid="edit-option"' not in page.data
    assert client.get(f"/marketplace/options/{draft.id}").status_code == 404
    assert client.get(f"/marketplace/options/{option.id}/edit").status_code == 403
    assert client.get("/marketplace/partners").status_code == 200


def test_a_case_manager_creates_a_partner_and_a_draft_option(app: Flask, login) -> None:
    client = login(case_manager("GE"))
    response = client.post(
        "/marketplace/partners/new",
        data={
            "name": "Kutaisi Women's Centre",
            "focal_point_email": "ref@kwc.example.org",
            "regions": "Imereti",
            "languages": ["ka", "en"],
        },
    )
    assert response.status_code == 302
    partner = db.session.query(Partner).one()
    assert partner.vetting_status == VettingStatus.PENDING
    assert partner.languages == ["ka", "en"]
    response = client.post(f"/marketplace/partners/{partner.id}/options/new", data=option_form())
    assert response.status_code == 302
    option = db.session.query(SupportOption).one()
    assert option.status == OptionStatus.DRAFT
    assert len(option.locations) == 1
    # publishing is refused while the partner is pending vetting
    page = client.post(
        f"/marketplace/options/{option.id}/status",
        data={"status": "published"},
        follow_redirects=True,
    )
    assert b"approved partners" in page.data
    db.session.refresh(option)
    assert option.status == OptionStatus.DRAFT


def test_an_option_without_any_title_is_shown_again_with_the_problem(app: Flask, login) -> None:
    option = SupportOptionFactory()
    client = login(case_manager("GE"))
    response = client.post(
        f"/marketplace/options/{option.id}/edit",
        data=option_form(**{"texts-0-title": "", "texts-1-title": "", "texts-0-description": ""}),
    )
    assert response.status_code == 200
    assert b"Give a title in at least one language." in response.data


def test_publish_verify_and_suspend_through_the_pages(app: Flask, login) -> None:
    option = SupportOptionFactory(status=OptionStatus.DRAFT, last_verified_at=None)
    client = login(case_manager("GE"))
    client.post(f"/marketplace/options/{option.id}/status", data={"status": "published"})
    client.post(f"/marketplace/options/{option.id}/verify")
    db.session.refresh(option)
    assert option.status == OptionStatus.PUBLISHED
    assert option.last_verified_at is not None
    page = client.post(
        f"/marketplace/partners/{option.partner_id}/vetting",
        data={"vetting_status": "suspended"},
        follow_redirects=True,
    )
    assert b"Say why the partner is suspended." in page.data
    client.post(
        f"/marketplace/partners/{option.partner_id}/vetting",
        data={"vetting_status": "suspended", "reason": "Fraud alert"},
    )
    db.session.refresh(option)
    assert option.status == OptionStatus.TEMPORARILY_CLOSED
    page = client.get(f"/marketplace/partners/{option.partner_id}")
    assert b"Fraud alert" in page.data


def test_programme_managers_see_all_partners_but_get_no_edit_buttons(app: Flask, login) -> None:
    option = SupportOptionFactory()
    client = login(
        UserFactory(role=Role.PROGRAMME_MANAGER, office=OfficeFactory(kind=OfficeKind.HOME))
    )
    page = client.get(f"/marketplace/partners/{option.partner_id}")
    assert page.status_code == 200
    assert b'data-testid="edit-partner"' not in page.data
    assert client.get(f"/marketplace/partners/{option.partner_id}/edit").status_code == 403


def test_partner_pages_send_the_same_queries_for_few_or_many_options(app: Flask, login) -> None:
    manager = case_manager("GE")
    busy, quiet = PartnerFactory(office=manager.office), PartnerFactory(office=manager.office)
    for n in range(8):
        SupportOptionFactory(partner=busy, texts__title=f"Course {n}")
    SupportOptionFactory(partner=quiet)
    busy_id, quiet_id = busy.id, quiet.id  # read before counting: the test's own refreshes
    client = login(manager)
    client.get(f"/marketplace/partners/{quiet_id}")  # warm up the first request's caches
    with counted_statements() as seen:
        client.get(f"/marketplace/partners/{quiet_id}")
        one = len(seen)
        seen.clear()
        client.get(f"/marketplace/partners/{busy_id}")
        eight = len(seen)
        seen.clear()
        listing = client.get("/marketplace/partners")
        listed = len(seen)
    assert one == eight
    assert listed <= 4  # the partners and their option counts, not one query per partner (and
    # the menu's unread notices)
    assert f'data-partner="{busy_id}"' in listing.get_data(as_text=True)
