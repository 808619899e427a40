"""Web plumbing shared by every page: access checks, errors, security headers, locale."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Flask,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from reintegration_hub.core import i18n, validation
from reintegration_hub.core.authz import can_access, enforce_access, is_static_endpoint
from reintegration_hub.core.errors import BadQuery, DomainError
from reintegration_hub.core.labels import LANGUAGE_LABELS, OFFICE_KIND_LABELS, ROLE_LABELS
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def select_locale() -> str | None:
    if not has_request_context():
        return None  # the default locale, e.g. for a CLI command or a flow
    languages = current_app.config["LANGUAGES"]
    if current_user.is_authenticated and current_user.preferred_language in languages:
        return str(current_user.preferred_language)
    if session.get("language") in languages:
        return str(session["language"])
    return request.accept_languages.best_match(languages)


def handle_http_error(error: HTTPException) -> Any:
    if wants_json():
        from reintegration_hub.extensions import api

        payload, code, headers = api.handle_http_exception(error)
        if "message" not in payload and code != 500:  # never echo an internal error's text
            payload["message"] = error.description
        elif code == 500:
            payload["message"] = "Internal error; it has been recorded."
        kept = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return payload, code, {**kept, **(headers or {})}
    status = error.code or 500
    if status >= 500:  # a failed statement leaves the session unusable, even to show the page
        db.session.rollback()
    return render_template("errors/error.html", status=status, error=error), status


def handle_domain_error(error: DomainError) -> Any:
    """A rule refused something nobody caught closer: JSON for the API, a page otherwise."""
    if wants_json():
        return error.as_json(), error.status_code
    if error.status_code in {400, 403, 404}:
        status = error.status_code
        return render_template("errors/error.html", status=status, error=error), status
    flash(str(error.message), "danger")
    return redirect(request.referrer or url_for("home.index"))


def unauthorized() -> Any:
    if wants_json():
        return {
            "code": 401,
            "status": "Unauthorized",
            "message": "Sign in or send a bearer token.",
        }, 401
    flash(_("Please sign in to see that page."), "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def attachment(content: bytes | Path, *, mimetype: str, name: str) -> Response:
    """A stored file (certificate, document) as a download of its checked type: never
    cached, never sniffed as another type, never shown inline."""
    response = send_file(
        io.BytesIO(content) if isinstance(content, bytes) else content,
        mimetype=mimetype,
        as_attachment=True,
        download_name=name,
        conditional=False,
        etag=False,
        max_age=None,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def no_store(response: Response) -> Response:
    """Pages with personal data must not sit in shared caches or the back-button history."""
    endpoint = request.endpoint
    if endpoint is None or is_static_endpoint(endpoint):
        return response
    if current_user.is_authenticated and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def template_globals() -> dict[str, Any]:
    return {
        "Role": Role,
        "get_locale": get_locale,
        "can_access": can_access,
        "role_label": ROLE_LABELS.get,
        "office_kind_label": OFFICE_KIND_LABELS.get,
        "language_labels": LANGUAGE_LABELS,
        "country_name": i18n.country_name,
        "language_name": i18n.language_name,
        "currency_name": i18n.currency_name,
        "format_money": i18n.format_money,
        "format_share": i18n.format_share,
    }


# --- query strings: every page reads its parameters through these ------------------------------


def _query(name: str, parse: Any, rule: Any, args: Any) -> Any:
    raw = (request.args if args is None else args).get(name, "")
    if not raw.strip():
        return None
    try:
        return parse(raw, rule)
    except validation.Refused as refused:
        raise BadQuery(refused.message, field_errors={name: [refused.message]}) from None


def query_int(
    name: str,
    default: int | None = None,
    *,
    rule: validation.NumberRule = validation.ID,
    args: Any = None,
) -> int | None:
    """The query parameter ``name`` (of ``args``, by default the request's query string) as a
    whole number within ``rule`` (an id unless told); ``default`` when missing or empty;
    ``BadQuery`` (400, naming it) when it is not one."""
    value = _query(name, validation.to_int, rule, args)
    return default if value is None else int(value)


def query_page(name: str = "page") -> int:
    """A page number, 1 when missing; ``BadQuery`` beyond ``validation.MAX_PAGE``."""
    return query_int(name, 1, rule=validation.PAGE) or 1


def query_text(name: str, *, max_length: int = 200, args: Any = None) -> str:
    """The query parameter ``name`` (of ``args``, by default the request's query string) as
    text without surrounding blanks ("" when missing); ``BadQuery`` for control characters or
    more than ``max_length`` characters."""
    return str(_query(name, validation.to_text, validation.TextRule(max_length), args) or "")


def query_links(endpoint: str, **values: Any) -> Callable[..., str]:
    """Links to this page (``endpoint`` with ``values``) with some query parameters changed
    (``None`` or "" drops one), back to page 1 unless the page is what changes: facet links,
    the pager. The request's own query is encoded once, not once a link: a search page has
    hundreds of facet links, and a ``url_for`` each was a fifth of its cost."""
    path = url_for(endpoint, **values)
    parts = {name: urlencode([(name, v) for v in found]) for name, found in request.args.lists()}
    parts["page"] = "page=1"

    def link(**changes: Any) -> str:
        query = dict(parts)
        for name, value in changes.items():
            query[name] = "" if value in (None, "") else urlencode({name: value})
        return "?".join((path, "&".join(part for part in query.values() if part)))

    return link


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id fits the database's 32-bit integer columns, so a
    longer number is a 404 rather than an overflow in PostgreSQL."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", validation.MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_web(app: Flask) -> None:
    from reintegration_hub.extensions import babel, login, talisman

    app.url_map.converters["int"] = IdConverter

    production = app.config["ENV"] == "production"
    talisman.init_app(
        app,
        force_https=False,  # TLS ends at the reverse proxy; HSTS still tells browsers
        strict_transport_security=production,
        session_cookie_secure=production,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        content_security_policy=CSP,
        referrer_policy="same-origin",
        frame_options="DENY",
    )
    babel.init_app(app, locale_selector=select_locale)
    login.unauthorized_handler(unauthorized)
    app.before_request(enforce_access)
    app.after_request(no_store)
    app.context_processor(template_globals)


def register_error_handlers(app: Flask) -> None:
    """Last, so that these replace the handler flask-smorest installs for every HTTP error."""
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DomainError, handle_domain_error)
