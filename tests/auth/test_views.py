from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import Office, User, UserSession
from reintegration_hub.config import ConfigError
from reintegration_hub.core.db import now_utc
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


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/x", "evil"]
)
def test_next_never_redirects_off_site(client, target: str) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    response = client.post(
        "/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_next_leads_to_a_page_of_the_application(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    response = client.post("/login?next=/cases/", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/cases/"


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


# --- sessions: ended on the server --------------------------------------------------------------

NEW_PASSWORD = "a new long secret"


def _browser(app: Flask, user: User) -> FlaskClient:
    """A browser of its own that signed in through the log-in form."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def _opens_account(browser: FlaskClient) -> bool:
    return browser.get("/account").status_code == 200


def test_changing_the_password_keeps_this_browser_signed_in_and_signs_out_the_others(
    app: Flask, client: FlaskClient
) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    here, elsewhere = _browser(app, user), _browser(app, user)
    copied = here.get_cookie("session", domain="hub.test")
    assert copied is not None

    response = here.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert "Other sessions are signed out" in here.get("/account").get_data(as_text=True)
    assert not _opens_account(elsewhere)
    # whoever copied this browser's cookie before the change is signed out too
    thief = app.test_client()
    thief.set_cookie("session", copied.value, domain="hub.test")
    assert not _opens_account(thief)
    assert _opens_account(here)
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"email": user.email, "password": NEW_PASSWORD}).status_code
        == 302
    )


def test_a_session_cookie_copied_before_signing_out_no_longer_opens_the_account(
    app: Flask, client: FlaskClient
) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    browser = _browser(app, user)
    copied = browser.get_cookie("session", domain="hub.test")
    assert copied is not None

    browser.post("/logout")

    thief = app.test_client()
    thief.set_cookie("session", copied.value, domain="hub.test")
    response = thief.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert thief.get("/api/v1/me").status_code == 401


def test_deactivating_an_account_ends_its_sessions(app: Flask, client: FlaskClient) -> None:
    admin, user = user_with_role(Role.ADMIN), user_with_role(Role.COUNSELLOR)
    db.session.commit()
    browser = _browser(app, user)
    assert _opens_account(browser)
    _browser(app, admin).post(f"/admin/users/{user.id}/active", data={})
    assert not _opens_account(browser)
    assert db.session.scalar(sa.select(sa.func.count()).where(UserSession.user_id == user.id)) == 0


def test_the_account_page_lists_the_sessions_and_signs_out_the_others(
    app: Flask, client: FlaskClient
) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    here = _browser(app, user)
    phone = app.test_client()
    phone.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": "Phone browser 1.0"},
    )
    page = here.get("/account").get_data(as_text=True)
    assert page.count('data-testid="session-row"') == 2
    assert "Phone browser 1.0" in page
    assert 'data-testid="this-session"' in page

    here.post("/account/sessions/end-others")

    assert _opens_account(here)
    assert not _opens_account(phone)
    page = here.get("/account").get_data(as_text=True)
    assert page.count('data-testid="session-row"') == 1


def test_one_other_session_can_be_signed_out_but_not_someone_elses(
    app: Flask, client: FlaskClient
) -> None:
    user, other = user_with_role(Role.COUNSELLOR), user_with_role(Role.COUNSELLOR)
    db.session.commit()
    here, phone, theirs = _browser(app, user), _browser(app, user), _browser(app, other)
    ids = dict(
        db.session.execute(
            sa.select(UserSession.user_id, sa.func.max(UserSession.id)).group_by(
                UserSession.user_id
            )
        )
        .tuples()
        .all()
    )

    assert here.post(f"/account/sessions/{ids[other.id]}/end").status_code == 404
    assert _opens_account(theirs)
    assert here.post(f"/account/sessions/{ids[user.id]}/end").status_code == 302
    assert not _opens_account(phone)
    assert _opens_account(here)


def test_a_session_idle_for_longer_than_its_lifetime_ends_and_is_cleaned_up(
    app: Flask, client: FlaskClient
) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    idle, active = _browser(app, user), _browser(app, user)
    lifetime = app.permanent_session_lifetime
    first, second = db.session.scalars(sa.select(UserSession).order_by(UserSession.id)).all()
    first.last_seen_at = now_utc() - lifetime - dt.timedelta(minutes=1)
    second.last_seen_at = now_utc() - lifetime + dt.timedelta(minutes=10)
    db.session.commit()

    assert not _opens_account(idle)
    assert _opens_account(active)  # seen within the lifetime: used again, it lives on
    db.session.refresh(second)
    assert second.last_seen_at > now_utc() - dt.timedelta(minutes=1)

    ended_id = first.id
    _browser(app, user_with_role(Role.ADMIN))  # any sign-in deletes the ended sessions
    left = db.session.scalars(sa.select(UserSession.id).order_by(UserSession.id)).all()
    assert ended_id not in left
    assert len(left) == 2  # the active one and the administrator's


# --- sign-in limits: per account and address, per address, per account ----------------------

LIMITS = {
    "TRUSTED_PROXIES": 1,
    "LOGIN_RATE_LIMIT": "3 per minute",  # per account and address
    "LOGIN_ADDRESS_RATE_LIMIT": "6 per minute",
    "LOGIN_ACCOUNT_RATE_LIMIT": "10 per minute",
}
PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # the reverse proxy in front of the application


def _attempt(app: Flask, email: str, password: str, address: str) -> int:
    """One sign-in from a browser of its own at ``address``, as the proxy forwards it."""
    response = app.test_client().post(
        "/login",
        data={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
        environ_base=PROXY,
    )
    return response.status_code


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> Iterator[tuple[Flask, User]]:
    """An app behind one trusted proxy with small limits, and a user of it."""
    app = make_app(**LIMITS)
    with app.app_context():
        user = user_with_role(Role.COUNSELLOR)
        db.session.commit()
        yield app, user


def test_an_attacker_cannot_lock_a_named_user_out_from_another_address(
    limited: tuple[Flask, User],
) -> None:
    app, victim = limited
    guesses = [_attempt(app, victim.email, "guess", "203.0.113.9") for _ in range(5)]
    assert guesses == [200, 200, 200, 429, 429]
    assert _attempt(app, victim.email, PASSWORD, "198.51.100.7") == 302


def test_one_address_trying_many_accounts_is_stopped_but_not_the_others(
    limited: tuple[Flask, User],
) -> None:
    app, user = limited
    sprayed = [_attempt(app, f"person{i}@example.org", "guess", "203.0.113.9") for i in range(7)]
    assert sprayed == [200] * 6 + [429]
    assert _attempt(app, user.email, PASSWORD, "203.0.113.9") == 429  # that address waits
    assert _attempt(app, user.email, PASSWORD, "198.51.100.7") == 302


def test_guesses_at_one_account_from_many_addresses_meet_a_looser_ceiling(
    limited: tuple[Flask, User],
) -> None:
    app, user = limited
    spread = [_attempt(app, user.email, "guess", f"203.0.113.{i // 2}") for i in range(11)]
    assert spread == [200] * 10 + [429]


def test_successful_sign_ins_use_no_budget(limited: tuple[Flask, User]) -> None:
    """A whole office behind one address signs in every morning."""
    app, user = limited
    assert [_attempt(app, user.email, PASSWORD, "198.51.100.7") for _ in range(8)] == [302] * 8


def test_without_trusted_proxies_a_forwarded_address_is_not_believed(make_app) -> None:
    app = make_app(**{**LIMITS, "TRUSTED_PROXIES": 0})
    with app.app_context():
        user = user_with_role(Role.COUNSELLOR)
        db.session.commit()
        forged = [_attempt(app, user.email, "guess", f"203.0.113.{i}") for i in range(4)]
        assert forged == [200, 200, 200, 429]  # every attempt comes from the proxy's address


def test_a_limit_that_cannot_be_read_stops_the_start(make_app) -> None:
    with pytest.raises(ConfigError, match="HUB_LOGIN_ACCOUNT_RATE_LIMIT"):
        make_app(LOGIN_ACCOUNT_RATE_LIMIT="lots")
    with pytest.raises(ConfigError, match="HUB_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=-1)


def test_a_hostile_user_agent_is_stored_as_plain_text(app: Flask, client: FlaskClient) -> None:
    user = user_with_role(Role.COUNSELLOR)
    db.session.commit()
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        headers={"User-Agent": "Evil\x00\x1b[31m" + "x" * 500},
    )
    assert response.status_code == 302
    stored = db.session.scalars(sa.select(UserSession.user_agent)).one()
    assert stored.startswith("Evil[31mxxx")
    assert len(stored) == 200
