from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from reintegration_hub.core.roles import Role
from tests.factories import PASSWORD, user_with_role


def test_pages_send_a_csp_without_inline_script(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"<script>" not in response.data  # every script has a src


#: What the CSP (script-src and style-src 'self') blocks in a browser: style and event-handler
#: attributes, and inline <script> or <style> elements.
INLINE = re.compile(r"""\s(style|on[a-z]+)=["']|<script>|<style""")


def test_no_template_writes_what_the_csp_blocks(repo_root: Path) -> None:
    found = [
        f"{path.relative_to(repo_root)}:{number}: {line.strip()}"
        for path in sorted((repo_root / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE.search(line)
    ]
    assert found == []


def test_session_cookie_is_httponly_and_samesite(make_app) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development over plain http


def test_production_cookies_are_secure(make_app, production_config) -> None:
    app = make_app(**production_config, WTF_CSRF_ENABLED=True)
    with app.app_context():
        cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "; Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_forms_refuse_a_post_without_csrf_token(make_app) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = user_with_role(Role.COUNSELLOR)
        response = app.test_client().post(
            "/login", data={"email": user.email, "password": PASSWORD}
        )
    assert response.status_code == 400
    assert b"could not be understood" in response.data


def test_api_with_a_session_cookie_needs_csrf_but_a_bearer_token_does_not(make_app) -> None:
    from reintegration_hub.auth import services
    from reintegration_hub.extensions import db

    app: Flask = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = user_with_role(Role.COUNSELLOR)
        _, raw = services.issue_api_token(name="ci", actor=user)
        services.start_session(user)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
        by_cookie = client.post("/api/v1/me/tokens", json={"name": "x"})
        assert by_cookie.status_code == 400
        assert "CSRF" in by_cookie.json["message"]
        by_token = app.test_client().post(
            "/api/v1/me/tokens", json={"name": "x"}, headers={"Authorization": f"Bearer {raw}"}
        )
        assert by_token.status_code == 201


def test_login_is_rate_limited_with_a_clear_message(make_app) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        client = app.test_client()
        for _ in range(3):
            assert (
                client.post("/login", data={"email": "a@b.org", "password": "wrong"}).status_code
                == 200
            )
        blocked = client.post("/login", data={"email": "a@b.org", "password": "wrong"})
    assert blocked.status_code == 429
    assert b"Too many sign-in attempts" in blocked.data
    assert "Retry-After" in blocked.headers


def test_signed_in_pages_are_not_cached_but_static_files_may_be(client, login) -> None:
    login(user_with_role(Role.COUNSELLOR))
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/static/css/hub.css").headers.get("Cache-Control") != "no-store"
