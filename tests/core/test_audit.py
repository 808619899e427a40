from __future__ import annotations

import sqlalchemy as sa

from reintegration_hub.auth import services
from reintegration_hub.core.audit import REDACTED, AuditEntry
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.factories import PASSWORD, OfficeFactory, user_with_role


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_change_records_actor_object_and_changed_fields(app) -> None:
    admin = user_with_role(Role.ADMIN)
    office = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE", city="Tbilisi")
    services.update_office(
        office.id,
        name=office.name,
        kind=office.kind,
        country_code="GE",
        city="Kutaisi",
        languages=["ka", "en"],
        actor=admin,
    )
    (entry,) = entries("office.update")
    assert entry.actor_id == admin.id
    assert (entry.object_type, entry.object_id) == ("Office", str(office.id))
    assert entry.changes["city"] == ["Tbilisi", "Kutaisi"]
    assert entry.changes["languages"] == [["lv", "en"], ["ka", "en"]]
    assert "name" not in entry.changes  # unchanged fields are not listed


def test_passwords_are_never_written_to_the_audit_trail(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    services.change_password(
        user.id, current_password=PASSWORD, new_password="a brand new secret", actor=user
    )
    (entry,) = entries("user.password_changed")
    assert entry.changes["password_hash"] == [REDACTED, REDACTED]
    assert "argon2" not in str(entry.changes)


def test_administrator_filters_the_audit_trail(client, login) -> None:
    admin = user_with_role(Role.ADMIN)
    services.create_office(
        name="IOM Kutaisi", kind=OfficeKind.ORIGIN, country_code="GE", actor=admin
    )
    services.set_office_active(admin.office_id, True, actor=admin)
    login(admin)
    page = client.get("/admin/audit?action=office.create").get_data(as_text=True)
    assert "office.create" in page
    assert "office.activate" not in page
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "office.activate" in everything
