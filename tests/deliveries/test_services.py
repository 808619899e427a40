"""Recording deliveries: the rules, the effects on places, referrals and cases, and the
certificate checked by its content."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from partners.capacity import free_places, release_place
from partners.models import (
    DeclineReason,
    HoldStatus,
    OptionCapacity,
    PlaceHold,
    ReferralStatus,
)
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.deliveries import services
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import PlanStatus
from tests.clock import TODAY
from tests.deliveries.helpers import (
    GEL_RATE,
    JPEG,
    PDF,
    PNG,
    World,
    build_world,
    case_manager_in,
    delivery_input,
    delivery_row,
    partner_user_of,
    png_bytes,
    stored_files,
    upload,
)
from tests.factories import PartnerFactory, UserFactory, user_with_role
from tests.queries import counted_statements


def record(world, actor=None, data=None, certificate=None) -> Delivery:
    return services.record_delivery(
        world.line.id,
        data or delivery_input(),
        certificate or upload(),
        actor=actor or world.case_manager,
    )


def test_recording_stores_the_certificate_and_moves_place_referral_and_case(
    app: Flask, certificate_dir: Path
) -> None:
    world = build_world()
    capacity_id = db.session.get(PlaceHold, world.line.hold_id).capacity_id
    free_before = free_places(world.option.id)

    delivery = record(world)
    db.session.commit()

    assert delivery.amount_minor == 45000
    assert delivery.currency == "GEL"
    assert delivery.eur_rate == GEL_RATE  # the recorded rate in force
    assert delivery.amount_eur_minor == 15300  # 450 GEL x 0.34
    assert delivery.recorded_by_id == world.case_manager.id
    # the file: under a random name in the configured directory, outside the static folder
    files = stored_files(certificate_dir)
    assert [f.name for f in files] == [delivery.certificate_key]
    assert len(delivery.certificate_key) == 32
    assert files[0].read_bytes() == PNG
    assert not certificate_dir.resolve().is_relative_to(Path(app.static_folder).resolve())
    assert delivery.certificate_sha256 == hashlib.sha256(PNG).hexdigest()
    assert delivery.certificate_size == len(PNG)
    assert delivery.certificate_type == "image/png"
    assert delivery.certificate_name == "handover.png"
    # the held place is now used: free places unchanged
    capacity = db.session.get(OptionCapacity, capacity_id)
    assert (capacity.places_held, capacity.places_used) == (0, 1)
    assert free_places(world.option.id) == free_before
    assert db.session.get(PlaceHold, world.line.hold_id).status == HoldStatus.CONSUMED
    assert world.referral.status == ReferralStatus.DELIVERED
    assert world.case.status == CaseStatus.IN_DELIVERY
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"delivery.record", "place.consume", "referral.deliver", "case.status"} <= actions
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "delivery.record")
    ).one()
    assert entry.object_id == str(delivery.id)
    assert entry.office_id == world.host.id


def test_partner_users_and_administrators_record_too(app: Flask) -> None:
    first = build_world()
    delivery = record(first, actor=first.partner_user)
    assert delivery.recorded_by_id == first.partner_user.id
    second = build_world()
    assert record(second, actor=second.admin).recorded_by_id == second.admin.id


def test_a_case_already_in_delivery_stays_there(app: Flask) -> None:
    world = build_world()
    world.case.status = CaseStatus.IN_DELIVERY
    db.session.flush()
    record(world)
    assert world.case.status == CaseStatus.IN_DELIVERY
    assert not db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "case.status")
    ).all()


def test_a_given_rate_is_used_and_rounded_to_the_column(app: Flask) -> None:
    world = build_world()
    delivery = record(world, data=delivery_input(eur_rate=Decimal("0.333333333333")))
    assert delivery.eur_rate == Decimal("0.3333333333")
    assert delivery.amount_eur_minor == 15000


@pytest.mark.parametrize(
    ("content", "filename", "mime", "download_name"),
    [
        (PNG, "scan.pdf", "image/png", "scan.png"),
        (JPEG, "photo.jpeg", "image/jpeg", "photo.jpeg"),
        (PDF, "../../etc/Übergabe protokoll.PDF", "application/pdf", "etc_Ubergabe_protokoll.PDF"),
        (PDF, "", "application/pdf", "certificate.pdf"),
        (JPEG, "....", "image/jpeg", "certificate.jpg"),
    ],
)
def test_the_type_comes_from_the_content_never_the_name(
    app: Flask, content: bytes, filename: str, mime: str, download_name: str
) -> None:
    world = build_world()
    delivery = record(world, certificate=upload(content, filename))
    assert delivery.certificate_type == mime
    assert delivery.certificate_name == download_name


@pytest.mark.parametrize(
    "content",
    [
        b"Handover certificate: signed.\n",
        b"<!doctype html><html><script>alert(1)</script></html>",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,  # a ZIP (or .docx)
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"\x00" * 16 + PNG,  # the signature must be at the start
        b"%PD",
    ],
)
def test_other_content_is_refused_whatever_its_name(
    app: Flask, certificate_dir: Path, content: bytes
) -> None:
    world = build_world()
    with pytest.raises(InvalidInput) as refused:
        record(world, certificate=upload(content, "certificate.pdf"))
    assert list(refused.value.field_errors) == ["certificate"]
    assert stored_files(certificate_dir) == []
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0


def test_empty_and_oversize_certificates_are_refused(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = make_app(CERTIFICATE_DIR=str(tmp_path), CERTIFICATE_MAX_BYTES=1000)
    with app.app_context():
        world = build_world()
        for content in (b"", png_bytes(padding=1000)):
            with pytest.raises(InvalidInput) as refused:
                record(world, certificate=upload(content))
            assert "certificate" in refused.value.field_errors
        assert list(tmp_path.iterdir()) == []
        assert record(world, certificate=upload(png_bytes(padding=900))).certificate_size <= 1000


def test_each_bad_field_is_named(app: Flask) -> None:
    world = build_world()
    bad = delivery_input(
        delivered_on=now_utc().date() + dt.timedelta(days=1),
        amount_minor=-1,
        currency="XYZ",
        eur_rate=Decimal(0),
        invoice_number="  ",
        note="x" * 1001,
    )
    with pytest.raises(InvalidInput) as refused:
        record(world, data=bad, certificate=upload(b"not a file"))
    assert set(refused.value.field_errors) == {
        "delivered_on",
        "amount_minor",
        "currency",
        "eur_rate",
        "invoice_number",
        "note",
        "certificate",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delivered_on": TODAY - dt.timedelta(days=11)}, "delivered_on"),
        ({"invoice_number": "I" * 65}, "invoice_number"),
        ({"eur_rate": Decimal("NaN")}, "eur_rate"),
        ({"eur_rate": Decimal("Infinity")}, "eur_rate"),
        ({"eur_rate": Decimal(-1)}, "eur_rate"),
        ({"eur_rate": Decimal("99999999.99999999999")}, "eur_rate"),  # rounds up to 10^8
        ({"eur_rate": Decimal("1e-12")}, "eur_rate"),
        ({"eur_rate": Decimal(10) ** 9}, "eur_rate"),
        ({"amount_minor": 10**13}, "amount_minor"),
        ({"currency": "USD"}, "eur_rate"),  # no USD rate recorded and none given
    ],
)
def test_single_field_refusals(app: Flask, changes: dict, field: str) -> None:
    world = build_world(approved_days_ago=10)
    with pytest.raises(InvalidInput) as refused:
        record(world, data=delivery_input(**changes))
    assert list(refused.value.field_errors) == [field]


def test_the_approval_day_itself_and_lower_case_currency_are_accepted(app: Flask) -> None:
    world = build_world(approved_days_ago=0)
    delivery = record(world, data=delivery_input(currency="gel", amount_minor=0))
    assert (delivery.currency, delivery.amount_eur_minor) == ("GEL", 0)


def _plan_feasible(world: World) -> None:
    world.plan.status = PlanStatus.FEASIBLE


def _referral_sent(world: World) -> None:
    world.referral.status = ReferralStatus.SENT


def _referral_declined(world: World) -> None:
    world.referral.status = ReferralStatus.DECLINED
    world.referral.decline_reason = DeclineReason.NO_CAPACITY


def _case_closed(world: World) -> None:
    world.case.status = CaseStatus.CLOSED


@pytest.mark.parametrize(
    "change", [_plan_feasible, _referral_sent, _referral_declined, _case_closed]
)
def test_only_approved_plans_with_accepted_referrals_of_open_cases(
    app: Flask, certificate_dir: Path, change: Callable[[World], None]
) -> None:
    world = build_world()
    change(world)
    db.session.flush()
    with pytest.raises(Conflict):
        record(world)
    assert stored_files(certificate_dir) == []


def test_a_second_delivery_for_the_line_is_refused(app: Flask, certificate_dir: Path) -> None:
    world = build_world()
    record(world)
    db.session.commit()
    with pytest.raises(Conflict):
        record(world, actor=world.partner_user)
    assert len(stored_files(certificate_dir)) == 1


def test_a_failure_after_the_file_is_written_removes_it(app: Flask, certificate_dir: Path) -> None:
    world = build_world()
    release_place(world.line.hold_id, actor=world.case_manager)  # consume_place will refuse
    db.session.commit()
    with pytest.raises(Conflict):
        record(world)
    db.session.rollback()
    assert stored_files(certificate_dir) == []
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0


def test_scope_is_not_found_and_other_roles_are_denied(app: Flask) -> None:
    world = build_world()
    yerevan = case_manager_in("AM", "Yerevan")
    other_partner_user = partner_user_of(PartnerFactory(office=world.origin), world.origin)
    unlinked_partner_user = UserFactory(role=Role.PARTNER, office=world.origin)
    for outsider in (yerevan, other_partner_user, unlinked_partner_user):
        with pytest.raises(NotFound):
            record(world, actor=outsider)
    for role in (Role.COUNSELLOR, Role.PROGRAMME_MANAGER):
        with pytest.raises(PermissionDenied):
            record(world, actor=user_with_role(role))
    with pytest.raises(PermissionDenied):
        record(world, actor=world.counsellor)  # sees the plan, but does not record
    with pytest.raises(NotFound):
        services.record_delivery(10**6, delivery_input(), upload(), actor=world.admin)


def test_case_managers_need_the_consent_to_share(app: Flask) -> None:
    world = build_world()
    world.case.shares_with_origin = False
    db.session.flush()
    with pytest.raises(NotFound):
        record(world)


def test_reads_are_scoped(app: Flask) -> None:
    world = build_world()
    delivery = record(world)
    db.session.commit()
    readers = [
        world.case_manager,
        world.partner_user,
        world.admin,
        world.counsellor,
        user_with_role(Role.PROGRAMME_MANAGER),
    ]
    for reader in readers:
        assert services.get_delivery(delivery.id, actor=reader).id == delivery.id
        assert services.list_deliveries(actor=reader).total == 1
    outsiders = [
        case_manager_in("AM", "Yerevan"),
        partner_user_of(PartnerFactory(office=world.origin), world.origin),
        user_with_role(Role.COUNSELLOR),  # another host office
    ]
    for outsider in outsiders:
        with pytest.raises(NotFound):
            services.get_delivery(delivery.id, actor=outsider)
        with pytest.raises(NotFound):
            services.certificate_file(delivery.id, actor=outsider)
        assert services.list_deliveries(actor=outsider).total == 0


def test_certificate_reads_are_audited(app: Flask, certificate_dir: Path) -> None:
    world = build_world()
    delivery = record(world)
    found, path = services.certificate_file(delivery.id, actor=world.partner_user)
    assert found.id == delivery.id
    assert path.read_bytes() == PNG
    views = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "delivery.certificate_view")
    ).all()
    assert [(v.actor_id, v.object_id) for v in views] == [(world.partner_user.id, str(delivery.id))]
    path.unlink()
    with pytest.raises(NotFound):
        services.certificate_file(delivery.id, actor=world.partner_user)


def test_the_list_takes_the_same_queries_for_one_or_many(app: Flask) -> None:
    first = build_world()
    record(first)
    db.session.commit()
    with counted_statements() as seen:
        page = services.list_deliveries(actor=first.admin)
        [d.plan_line.option.text("en").title for d in page.items]
        [d.plan_line.plan.returnee.case_number for d in page.items]
    one = len(seen)
    for _ in range(3):
        record(build_world())
    db.session.commit()
    db.session.expire_all()
    with counted_statements() as seen:
        page = services.list_deliveries(actor=first.admin)
        [d.plan_line.option.text("en").title for d in page.items]
        [d.plan_line.plan.returnee.case_number for d in page.items]
    assert page.total == 4
    assert len(seen) == one


@pytest.mark.postgres
@pytest.mark.commits  # threads on connections of their own race for the same rows
def test_an_instalment_written_meanwhile_is_counted_before_the_next(
    app: Flask, make_app: Callable[..., Flask], certificate_dir: Path
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite lets one writer in at a time, nothing can race")
    world = build_world()
    db.session.commit()
    line_id, actor_id = world.line.id, world.case_manager.id
    workers_app = make_app(
        CERTIFICATE_DIR=str(certificate_dir), SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool}
    )

    def attempt() -> type[Exception] | None:
        with workers_app.app_context():
            try:
                actor = db.session.get(User, actor_id)
                services.record_delivery(line_id, delivery_input(), upload(), actor=actor)
                db.session.commit()
            except Conflict:
                return Conflict
            finally:
                db.session.rollback()
                db.session.remove()
        return None

    # another transaction has inserted this line's first instalment and not committed yet:
    # the service waits for the line (the insert holds it for its foreign key), then sees that
    # instalment and records the rest of the line as instalment 2
    with db.engine.connect() as other:
        other.execute(delivery_row(line_id))
        with ThreadPoolExecutor(max_workers=1) as pool:
            outcome = pool.submit(attempt)
            time.sleep(1)
            assert not outcome.done()  # waiting for the line
            other.commit()
            assert outcome.result(timeout=30) is None
    assert len(stored_files(certificate_dir)) == 1
    recorded = db.session.execute(
        sa.select(Delivery.instalment, Delivery.quantity, Delivery.final).order_by(Delivery.id)
    ).all()
    assert [tuple(row) for row in recorded] == [(1, 1, False), (2, 1, True)]
