from __future__ import annotations

import datetime as dt

import pytest

from reintegration_hub.auth import services
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.clock import NOW
from tests.factories import PASSWORD, OfficeFactory, user_with_role


def test_passwords_are_hashed_with_argon2(app) -> None:
    admin = user_with_role(Role.ADMIN)
    user = services.create_user(
        email=" New.Person@Example.org ",
        full_name="New Person",
        office_id=OfficeFactory(kind=OfficeKind.HOST).id,
        role=Role.COUNSELLOR,
        password="long enough secret",
        actor=admin,
    )
    assert user.email == "new.person@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert services.authenticate("NEW.person@example.org", "long enough secret") is user


def test_wrong_password_and_unknown_email_fail_alike(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    with pytest.raises(services.InvalidCredentials) as wrong:
        services.authenticate(user.email, "not the password")
    with pytest.raises(services.InvalidCredentials) as unknown:
        services.authenticate("nobody@example.org", PASSWORD)
    assert str(wrong.value) == str(unknown.value)


def test_deactivated_users_cannot_sign_in(app) -> None:
    admin = user_with_role(Role.ADMIN)
    user = user_with_role(Role.COUNSELLOR)
    services.start_session(user)
    services.set_user_active(user.id, False, actor=admin)
    db.session.commit()
    with pytest.raises(services.InvalidCredentials):
        services.authenticate(user.email, PASSWORD)
    assert services.load_session_user(user.get_id()) is None


def test_a_role_must_fit_its_office(app) -> None:
    admin = user_with_role(Role.ADMIN)
    host = OfficeFactory(kind=OfficeKind.HOST)
    with pytest.raises(InvalidInput) as refused:
        services.create_user(
            email="cm@example.org",
            full_name="Case Manager",
            office_id=host.id,
            role=Role.CASE_MANAGER,
            password=PASSWORD,
            actor=admin,
        )
    assert "office_id" in refused.value.field_errors


def test_emails_are_unique(app) -> None:
    admin = user_with_role(Role.ADMIN)
    existing = user_with_role(Role.COUNSELLOR)
    with pytest.raises(Conflict) as refused:
        services.create_user(
            email=existing.email.upper(),
            full_name="Twin",
            office_id=existing.office_id,
            role=Role.COUNSELLOR,
            password=PASSWORD,
            actor=admin,
        )
    assert "email" in refused.value.field_errors


def test_short_passwords_are_refused(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    with pytest.raises(InvalidInput):
        services.change_password(
            user.id, current_password=PASSWORD, new_password="short", actor=user
        )


def test_changing_the_password_ends_every_session(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    keys = []
    for _browser in range(2):
        services.start_session(user)
        keys.append(user.get_id())
    db.session.commit()
    assert [services.load_session_user(key) for key in keys] == [user, user]
    services.change_password(
        user.id, current_password=PASSWORD, new_password="another long secret", actor=user
    )
    db.session.commit()
    assert [services.load_session_user(key) for key in keys] == [None, None]


def test_a_session_key_opens_only_its_own_live_session(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    services.start_session(user)
    key = user.get_id()
    db.session.commit()
    assert services.load_session_user(key) is user
    assert services.load_session_user(key[:-1]) is None
    assert services.load_session_user("x" * 10_000) is None
    services.end_session(key, actor=user)
    db.session.commit()
    assert services.load_session_user(key) is None


def test_sessions_of_a_deactivated_office_stop_working(app) -> None:
    admin, user = user_with_role(Role.ADMIN), user_with_role(Role.COUNSELLOR)
    services.start_session(user)
    services.set_office_active(user.office_id, False, actor=admin)
    db.session.commit()
    assert services.load_session_user(user.get_id()) is None


def test_nobody_changes_someone_elses_password(app) -> None:
    admin = user_with_role(Role.ADMIN)
    user = user_with_role(Role.COUNSELLOR)
    with pytest.raises(PermissionDenied):
        services.change_password(
            user.id, current_password=PASSWORD, new_password="x" * 12, actor=admin
        )


def test_an_office_with_users_of_another_kind_cannot_change_kind(app) -> None:
    admin = user_with_role(Role.ADMIN)
    counsellor = user_with_role(Role.COUNSELLOR)
    with pytest.raises(Conflict):
        services.update_office(
            counsellor.office_id,
            name="Renamed",
            kind=OfficeKind.ORIGIN,
            country_code="LV",
            city="Riga",
            languages=["lv"],
            actor=admin,
        )


def test_api_tokens_are_stored_hashed_and_can_be_revoked(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    token, raw = services.issue_api_token(name="reporting", actor=user)
    assert raw.startswith("rh_")
    assert raw not in token.token_hash
    assert services.user_for_token(raw) is user
    services.revoke_api_token(token.id, actor=user)
    assert services.user_for_token(raw) is None


def test_expired_tokens_do_not_work(app) -> None:
    user = user_with_role(Role.COUNSELLOR)
    token, raw = services.issue_api_token(name="old", actor=user)
    token.expires_at = NOW - dt.timedelta(seconds=1)
    db.session.flush()
    assert services.user_for_token(raw) is None


def test_someone_elses_token_cannot_be_revoked(app) -> None:
    owner = user_with_role(Role.COUNSELLOR)
    other = user_with_role(Role.COUNSELLOR)
    token, raw = services.issue_api_token(name="mine", actor=owner)
    with pytest.raises(Exception, match="not found"):
        services.revoke_api_token(token.id, actor=other)
    assert services.user_for_token(raw) is owner
