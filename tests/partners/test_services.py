"""Marketplace rules: ownership by country, vetting, publishing, audit, freshness, EUR cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask

from partners import access, capacity, services
from partners.models import (
    OptionStatus,
    SupportOption,
    VettingStatus,
)
from partners.services import PartnerInput, TextInput
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.factories import OfficeFactory, PartnerFactory, SupportOptionFactory, UserFactory
from tests.partners.helpers import case_manager, kutaisi_course


@pytest.fixture
def gel_rate(app: Flask) -> None:
    db.session.add(
        ExchangeRate(currency="GEL", valid_on=dt.date(2020, 1, 1), eur_per_unit=Decimal("0.34"))
    )
    db.session.flush()


def partner_input(name: str = "Imereti Training Centre") -> PartnerInput:
    return PartnerInput(
        name=name,
        focal_point_email="Referrals@Centre.example.org",
        regions=["Imereti"],
        languages=["ka", "en"],
    )


def test_a_case_manager_creates_a_pending_partner_of_their_own_office(app: Flask) -> None:
    manager = case_manager()
    partner = services.create_partner(partner_input(), actor=manager)
    assert partner.office_id == manager.office_id
    assert partner.country_code == "GE"
    assert partner.vetting_status == VettingStatus.PENDING
    assert partner.focal_point_email == "referrals@centre.example.org"


def test_a_case_manager_cannot_create_a_partner_for_another_country(app: Flask) -> None:
    other = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="AM")
    with pytest.raises(InvalidInput) as error:
        services.create_partner(partner_input(), office_id=other.id, actor=case_manager())
    assert "office_id" in error.value.field_errors


def test_partner_names_are_unique_per_office(app: Flask) -> None:
    manager = case_manager()
    services.create_partner(partner_input(), actor=manager)
    with pytest.raises(Conflict):
        services.create_partner(partner_input("imereti training centre"), actor=manager)


def test_counsellors_cannot_maintain_partners(app: Flask) -> None:
    counsellor = UserFactory(role=Role.COUNSELLOR)
    with pytest.raises(PermissionDenied):
        services.create_partner(partner_input(), actor=counsellor)


def test_tbilisi_case_manager_edits_the_kutaisi_course_and_yerevan_cannot(
    app: Flask, gel_rate: None
) -> None:
    tbilisi, yerevan = case_manager("GE"), case_manager("AM")
    option = SupportOptionFactory()
    edited = services.update_option(option.id, kutaisi_course(), actor=tbilisi)
    assert edited.text("en").title == "Sewing course in Kutaisi"
    with pytest.raises(NotFound):
        services.update_option(option.id, kutaisi_course(), actor=yerevan)
    with pytest.raises(NotFound):
        services.update_partner(option.partner_id, partner_input(), actor=yerevan)


def test_administrators_edit_everywhere_and_programme_managers_only_read(
    app: Flask, gel_rate: None
) -> None:
    option = SupportOptionFactory()
    admin = UserFactory(role=Role.ADMIN, office=OfficeFactory(kind=OfficeKind.HOME))
    services.update_option(option.id, kutaisi_course(), actor=admin)
    manager = UserFactory(role=Role.PROGRAMME_MANAGER, office=OfficeFactory(kind=OfficeKind.HOME))
    assert access.get_option(option.id, actor=manager) is option
    with pytest.raises(PermissionDenied):
        services.update_option(option.id, kutaisi_course(), actor=manager)


def test_creating_an_option_stores_texts_locations_and_the_eur_cost_at_the_rate_used(
    app: Flask, gel_rate: None
) -> None:
    partner = PartnerFactory()
    option = services.create_option(partner.id, kutaisi_course(), actor=case_manager())
    assert option.status == OptionStatus.DRAFT
    assert {t.language for t in option.texts} == {"en", "ka"}
    assert option.text("ru").title == "Sewing course in Kutaisi"  # falls back to English
    assert option.locations[0].region == "Imereti"
    assert option.eur_rate == Decimal("0.34")
    assert option.cost_eur_minor == 408_00  # 1 200.00 GEL * 0.34
    assert option.country_code == partner.country_code


def test_an_option_in_a_currency_without_a_rate_is_refused(app: Flask) -> None:
    partner = PartnerFactory()
    with pytest.raises(InvalidInput) as error:
        services.create_option(partner.id, kutaisi_course(currency="AMD"), actor=case_manager())
    assert "currency" in error.value.field_errors


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_age": 40, "max_age": 18}, "max_age"),
        ({"sexes": ["unknown"]}, "sexes"),
        ({"vulnerabilities_served": ["tall"]}, "vulnerabilities_served"),
        ({"delivery_languages": ["xx"]}, "delivery_languages"),
        ({"texts": []}, "texts"),
        ({"currency": "XXZ"}, "currency"),
    ],
)
def test_invalid_option_details_are_refused_by_field(
    app: Flask, changes: dict[str, object], field: str
) -> None:
    partner = PartnerFactory()
    with pytest.raises(InvalidInput) as error:
        services.create_option(partner.id, kutaisi_course(**changes), actor=case_manager())
    assert field in error.value.field_errors


def test_editing_an_option_is_audited_with_before_and_after(app: Flask, gel_rate: None) -> None:
    option = SupportOptionFactory(cost_minor=0, currency="EUR")
    manager = case_manager()
    services.update_option(option.id, kutaisi_course(), actor=manager)
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "option.update")
    ).one()
    assert entry.actor_id == manager.id
    assert entry.changes["cost_minor"] == [0, 120_000]
    assert entry.changes["currency"] == ["EUR", "GEL"]
    before, after = entry.changes["texts"]
    assert before[0]["language"] == "en"
    assert before[0]["title"].startswith("Support option")
    assert {t["language"] for t in after} == {"en", "ka"}
    assert entry.changes["locations"][1][0]["city"] == "Kutaisi"


def test_publishing_needs_an_approved_partner_with_a_valid_agreement_and_an_english_title(
    app: Flask, gel_rate: None
) -> None:
    manager = case_manager()
    pending = services.create_partner(partner_input(), actor=manager)
    option = services.create_option(pending.id, kutaisi_course(), actor=manager)
    with pytest.raises(Conflict):
        services.set_option_status(option.id, OptionStatus.PUBLISHED, actor=manager)
    services.set_vetting_status(pending.id, VettingStatus.APPROVED, actor=manager)
    with pytest.raises(Conflict):  # no agreement number
        services.set_option_status(option.id, OptionStatus.PUBLISHED, actor=manager)
    expired = PartnerFactory(agreement_valid_until=dt.date(2021, 12, 31))
    old = services.create_option(expired.id, kutaisi_course(), actor=manager)
    with pytest.raises(Conflict):
        services.set_option_status(old.id, OptionStatus.PUBLISHED, actor=manager)
    valid = PartnerFactory()
    georgian_only = services.create_option(
        valid.id, kutaisi_course(texts=[TextInput("ka", "კურსი")]), actor=manager
    )
    with pytest.raises(Conflict) as error:
        services.set_option_status(georgian_only.id, OptionStatus.PUBLISHED, actor=manager)
    assert "texts" in error.value.field_errors
    good = services.create_option(valid.id, kutaisi_course(), actor=manager)
    services.set_option_status(good.id, OptionStatus.PUBLISHED, actor=manager)
    assert good.status == OptionStatus.PUBLISHED
    assert good.verified_by_id == manager.id
    assert good.last_verified_at is not None


def test_archived_is_final(app: Flask) -> None:
    option = SupportOptionFactory()
    manager = case_manager()
    services.set_option_status(option.id, OptionStatus.ARCHIVED, actor=manager)
    with pytest.raises(Conflict):
        services.set_option_status(option.id, OptionStatus.PUBLISHED, actor=manager)


def test_suspending_needs_a_reason_and_closes_published_options(app: Flask) -> None:
    option = SupportOptionFactory()
    manager = case_manager()
    with pytest.raises(InvalidInput):
        services.set_vetting_status(option.partner_id, VettingStatus.SUSPENDED, actor=manager)
    partner = services.set_vetting_status(
        option.partner_id, VettingStatus.SUSPENDED, reason="Invoices not delivered", actor=manager
    )
    assert partner.suspension_reason == "Invoices not delivered"
    assert option.status == OptionStatus.TEMPORARILY_CLOSED
    services.set_vetting_status(option.partner_id, VettingStatus.APPROVED, actor=manager)
    assert partner.suspension_reason == ""
    assert (
        option.status == OptionStatus.TEMPORARILY_CLOSED
    )  # republished by hand, not automatically


def visible_ids(actor) -> set[int]:
    return {o.id for o in services.list_options(actor=actor)}


def test_counsellors_see_only_listed_options(app: Flask) -> None:
    listed = SupportOptionFactory()
    draft = SupportOptionFactory(status=OptionStatus.DRAFT)
    pending_partner = SupportOptionFactory(partner__vetting_status=VettingStatus.PENDING)
    expired_agreement = SupportOptionFactory(partner__agreement_valid_until=dt.date(2021, 1, 1))
    ended = SupportOptionFactory(valid_until=dt.date(2021, 1, 1))
    counsellor = UserFactory(role=Role.COUNSELLOR)
    assert visible_ids(counsellor) == {listed.id}
    assert visible_ids(case_manager("GE")) == {
        listed.id,
        draft.id,
        pending_partner.id,
        expired_agreement.id,
        ended.id,
    }
    assert visible_ids(case_manager("AM")) == set()


def test_stale_options_are_flagged_then_hidden_from_counsellors_after_the_grace(app: Flask) -> None:
    now = now_utc()
    fresh = SupportOptionFactory(last_verified_at=now - dt.timedelta(days=10))
    stale = SupportOptionFactory(last_verified_at=now - dt.timedelta(days=200))
    hidden = SupportOptionFactory(last_verified_at=now - dt.timedelta(days=211))
    SupportOptionFactory(status=OptionStatus.DRAFT, last_verified_at=now - dt.timedelta(days=400))
    counts = services.flag_stale_options(now)
    assert (counts.flagged, counts.stale, counts.hidden) == (2, 2, 1)
    assert services.flag_stale_options(now).flagged == 0  # idempotent
    db.session.refresh(stale)
    assert stale.stale_since is not None
    assert fresh.stale_since is None
    counsellor = UserFactory(role=Role.COUNSELLOR)
    assert visible_ids(counsellor) == {fresh.id, stale.id}
    with pytest.raises(NotFound):
        access.get_option(hidden.id, actor=counsellor)
    assert hidden.id in visible_ids(case_manager())  # they must re-verify it
    manager = case_manager()
    services.verify_option(hidden.id, actor=manager)
    assert hidden.stale_since is None
    assert hidden.verified_by_id == manager.id
    assert visible_ids(counsellor) == {fresh.id, stale.id, hidden.id}


def test_stale_days_come_from_the_configuration(make_app) -> None:
    app = make_app(LISTING_STALE_DAYS=5, LISTING_STALE_GRACE_DAYS=1)
    with app.app_context():
        option = SupportOptionFactory(last_verified_at=now_utc() - dt.timedelta(days=7))
        assert services.is_stale(option)
        assert services.is_hidden_as_stale(option)
        assert services.flag_stale_options().flagged == 1
        db.session.rollback()


def test_listed_for_hides_stale_options_from_counsellors_but_not_case_managers(app: Flask) -> None:
    old = SupportOptionFactory(last_verified_at=now_utc() - dt.timedelta(days=365))
    new = SupportOptionFactory()

    def ids(actor):
        return set(
            db.session.scalars(sa.select(SupportOption.id).where(services.listed_for(actor)))
        )

    assert ids(UserFactory(role=Role.COUNSELLOR)) == {new.id}
    assert ids(case_manager()) == {old.id, new.id}
    a_year_ago = now_utc() - dt.timedelta(days=300)
    assert ids(UserFactory(role=Role.COUNSELLOR)) != set()
    assert old.id in set(
        db.session.scalars(
            sa.select(SupportOption.id).where(
                services.listed_for(UserFactory(role=Role.COUNSELLOR), a_year_ago)
            )
        )
    )


def test_changing_capacity_never_drops_below_the_places_taken(app: Flask, gel_rate: None) -> None:
    option = SupportOptionFactory(capacity_places=3)
    for n in range(3):
        capacity.hold_place(option.id, f"line-{n}", actor=case_manager())
    services.update_option(option.id, kutaisi_course(capacity_places=1), actor=case_manager())
    assert capacity.free_places(option.id) == 0
    services.update_option(option.id, kutaisi_course(capacity_places=5), actor=case_manager())
    assert capacity.free_places(option.id) == 2
