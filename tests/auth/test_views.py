from __future__ import annotations

import sqlalchemy as sa

from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.factories import PASSWORD, OfficeFactory, user_with_role


def test_signing_in_lands_on_the_role_home_page(client) -> None:
    user = user_with_role(Role.CASE_MANAGER)
    db.session.commit()
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Reintegration in the country of return" in response.get_data(as_text=True)


def test_wrong_password_shows_the_error_next_to_the_form(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "wrong password"})
    assert response.status_code == 200
    assert "E-mail or password is not correct." in response.get_data(as_text=True)


def test_next_never_redirects_off_site(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_sign_out_ends_the_session(client, login) -> None:
    login(user_with_role(Role.COUNSELLOR))
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_change_password_form_reports_wrong_current_password(client, login) -> None:
    login(user_with_role(Role.COUNSELLOR))
    response = client.post(
        "/account/password",
        data={
            "current_password": "nope",
            "password": "a new long secret",
            "confirm": "a new long secret",
        },
    )
    assert response.status_code == 422
    assert "The current password is not correct." in response.get_data(as_text=True)


def test_token_is_shown_once_on_the_account_page(client, login) -> None:
    login(user_with_role(Role.COUNSELLOR))
    page = client.post("/account/tokens", data={"name": "my script"}).get_data(as_text=True)
    assert 'data-testid="new-token">rh_' in page
    raw = page.split('data-testid="new-token">')[1].split("<")[0]
    again = client.get("/account").get_data(as_text=True)
    assert raw not in again  # only the prefix is listed from now on
    assert 'data-testid="new-token"' not in again


def test_admin_creates_a_user_and_sees_field_errors(client, login) -> None:
    admin = user_with_role(Role.ADMIN)
    host = OfficeFactory(kind=OfficeKind.HOST, name="IOM Riga")
    login(admin)
    bad = client.post(
        "/admin/users/new",
        data={
            "email": "not-an-email",
            "full_name": "",
            "office_id": host.id,
            "role": "counsellor",
            "preferred_language": "lv",
            "password": "short",
        },
    )
    assert bad.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    good = client.post(
        "/admin/users/new",
        data={
            "email": "liene@example.org",
            "full_name": "Liene",
            "office_id": host.id,
            "role": "counsellor",
            "preferred_language": "lv",
            "password": "long enough secret",
        },
    )
    assert good.status_code == 302
    created = db.session.scalars(sa.select(User).where(User.email == "liene@example.org")).one()
    assert created.office_id == host.id


def test_admin_cannot_put_a_counsellor_in_an_origin_office(client, login) -> None:
    admin = user_with_role(Role.ADMIN)
    origin = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE")
    login(admin)
    page = client.post(
        "/admin/users/new",
        data={
            "email": "c@example.org",
            "full_name": "C",
            "office_id": origin.id,
            "role": "counsellor",
            "preferred_language": "en",
            "password": "long enough secret",
        },
    ).get_data(as_text=True)
    assert "This role works in an office of kind: Host country office." in page


def test_admin_deactivates_a_user(client, login) -> None:
    admin = user_with_role(Role.ADMIN)
    user = user_with_role(Role.COUNSELLOR)
    login(admin)
    client.post(f"/admin/users/{user.id}/active", data={})
    db.session.refresh(user)
    assert user.is_active is False


def test_admin_creates_and_deactivates_an_office(client, login) -> None:
    login(user_with_role(Role.ADMIN))
    client.post(
        "/admin/offices/new",
        data={
            "name": "IOM Kutaisi",
            "kind": "origin",
            "country_code": "GE",
            "city": "Kutaisi",
            "languages": ["ka", "en"],
        },
    )
    office = db.session.scalars(sa.select(Office).where(Office.name == "IOM Kutaisi")).one()
    assert office.languages == ["ka", "en"]
    client.post(f"/admin/offices/{office.id}/active", data={})
    db.session.refresh(office)
    assert office.is_active is False


def test_user_language_follows_the_preference(client, login) -> None:
    login(user_with_role(Role.COUNSELLOR, preferred_language="lv"))
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="lv">' in page
