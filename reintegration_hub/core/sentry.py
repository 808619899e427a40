"""Sentry error reporting that never carries personal data."""

from __future__ import annotations

import logging
import re
from typing import Any

import sentry_sdk
from flask import Flask, has_request_context, request
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
#: a run of digits written as a phone number is (``+995 555 12-34-56``, ``(0)555.123456``),
#: never part of a word, an id or a version; ``_is_phone`` decides on the digits it holds
PHONE = re.compile(r"(?<![\w.+-])\+?\(?\d[\d ()./-]{5,}\d(?![\w-])")
#: dates, times and decimal numbers, which the phone pattern would take
_NOT_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2})?|\d{2}[./]\d{2}[./]\d{4}|\d+\.\d+")
#: the fewest digits of a phone number worth masking (national numbers of the Baltic states
#: have 8, E.164 numbers up to 15)
PHONE_DIGITS = 8
FILTERED = "[Filtered]"
#: a route variable that may carry free text or a secret (``<code>``, ``<token>``): the address
#: of such a route is reported and logged as its rule
FREE_TEXT_VARIABLE = re.compile(r"<(?:string(?:\([^)]*\))?:)?\w+>")
# request parts that may hold names, e-mails or free text
_REQUEST_KEYS_KEPT = {"method", "url", "env"}


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    return digits >= PHONE_DIGITS and not _NOT_PHONE.fullmatch(candidate)


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked (log lines and Sentry messages:
    a returnee's number, or a comment quoting one, never leaves the process), and, during a
    request to a route with a secret in its path, that path as its rule (Flask's "Exception on
    /f/<code>")."""
    text = EMAIL.sub(FILTERED, text)
    text = PHONE.sub(lambda m: FILTERED if _is_phone(m.group()) else m.group(), text)
    secret = _secret_route()
    if secret is not None and secret[0] in text:
        text = text.replace(*secret)
    return text


def _secret_route() -> tuple[str, str] | None:
    """During a request to a route with a secret in its path (a feedback link's code, a
    calendar token): that path and the route's rule, to write instead of it."""
    if has_request_context() and request.url_rule is not None:
        rule = request.url_rule.rule
        if FREE_TEXT_VARIABLE.search(rule):
            return request.path, rule
    return None


def _reported_url(url: str) -> str:
    """The address without its query, and a route with a secret in its path as its rule."""
    url = url.split("?", 1)[0]
    secret = _secret_route()
    if secret is None:
        return url
    path, rule = secret
    return url[: len(url) - len(path)] + rule if url.endswith(path) else rule


def before_send(event: Event, hint: Hint) -> Event | None:
    """Keep what locates a fault (type, stack, route); drop what could name a person.

    Exception messages and log messages may quote input, so they are reduced to their type or
    template; request bodies, query strings, cookies and headers are dropped; the user is kept
    only as an id.
    """
    reported = event.get("request")
    if isinstance(reported, dict):
        event["request"] = {k: v for k, v in reported.items() if k in _REQUEST_KEYS_KEPT}
        if "url" in event["request"]:
            event["request"]["url"] = _reported_url(str(event["request"]["url"]))
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    for exception in (event.get("exception") or {}).get("values", []):
        if exception.get("value"):
            exception["value"] = FILTERED
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
        if "message" in logentry:
            logentry["message"] = scrub_text(str(logentry["message"]))
        logentry.pop("formatted", None)
    if "message" in event:
        event["message"] = scrub_text(str(event["message"]))
    event.pop("extra", None)
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict):
        for crumb in breadcrumbs.get("values", []):
            crumb.pop("data", None)
            if crumb.get("message"):
                crumb["message"] = scrub_text(str(crumb["message"]))
    return event


def before_breadcrumb(crumb: dict[str, Any], hint: Hint) -> dict[str, Any] | None:
    """A log line's breadcrumb keeps its template, never the values put into it (a number, a
    returnee's comment: free text cannot be told from a count by a pattern)."""
    record = hint.get("log_record") if hint else None
    if isinstance(record, logging.LogRecord):
        crumb["message"] = scrub_text(str(record.msg))
    return crumb


def init_sentry(app: Flask, **options: Any) -> None:
    """Start Sentry when ``SENTRY_DSN`` is configured; ``options`` are for tests (transport)."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        environment=app.config["ENV"],
        # send_default_pii stays False by leaving it at its default: sentry-sdk 2.75 deprecates
        # passing it at all (tests/core/test_sentry.py checks the resolved setting)
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=app.config["SENTRY_TRACES_SAMPLE_RATE"],
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[FlaskIntegration(), LoggingIntegration(event_level=None)],
        **options,
    )
