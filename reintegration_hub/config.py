"""Configuration: defaults, then ``HUB_*`` environment variables, then a mapping (tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from limits import parse_many

from reintegration_hub.core.files import parse_keys

DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - refused outside development, see validate()

DEFAULTS: dict[str, Any] = {
    "ENV": "development",  # development | production | testing
    "SECRET_KEY": DEV_SECRET_KEY,
    "DATABASE_URL": None,  # None: an SQLite file under instance/
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "LANGUAGES": ["en", "lt", "lv", "cs", "ru"],
    "BABEL_DEFAULT_LOCALE": "en",
    "BABEL_DEFAULT_TIMEZONE": "UTC",
    # failed sign-ins allowed (auth.views says why three): per account and address, per
    # address, and a much looser ceiling per account
    "LOGIN_RATE_LIMIT": "5 per minute;20 per hour",
    "LOGIN_ADDRESS_RATE_LIMIT": "20 per minute;100 per hour",
    "LOGIN_ACCOUNT_RATE_LIMIT": "100 per hour",
    # reverse proxies in front of the app: their X-Forwarded-For and X-Forwarded-Proto are
    # believed for that many hops (0: the connecting address is the client's)
    "TRUSTED_PROXIES": 0,
    "RATELIMIT_ENABLED": True,  # set on every app: Flask-Limiter would carry it over otherwise
    # production: the Redis all web processes share (redis://host:6379/0); if it stops
    # answering, each process counts in memory until it answers again
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_HEADERS_ENABLED": True,
    "SENTRY_DSN": None,
    "SENTRY_TRACES_SAMPLE_RATE": 0.0,
    "BOOTSTRAP_SERVE_LOCAL": True,
    # the API's OpenAPI document and docs page; a flow run's process serves no request and
    # builds its app without them (workflows.app): 0.3 s of CPU less in every run
    "API_DOCUMENT": True,
    "API_TITLE": "Reintegration Hub API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            }
        },
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
    },
    "API_TOKEN_DAYS": 365,
    "PAGE_SIZE": 50,
    # closed cases lose their personal data this many days after closure (about five years)
    "CASE_RETENTION_DAYS": 1826,
    "CASE_RETENTION_BATCH_SIZE": 500,
    # records of the engine's flow runs (admin page) are kept this many days
    "FLOW_RUN_KEEP_DAYS": 90,
    # marketplace freshness: days without re-verification before an option is flagged stale,
    # then days of grace before counsellors no longer see it
    "LISTING_STALE_DAYS": 180,
    "LISTING_STALE_GRACE_DAYS": 30,
    # referrals: days a partner has to answer before the referral expires and its place is freed
    # (the e-mailed link's answer window); then days the link still says how the referral ended,
    # without personal data, before it shows nothing at all
    "REFERRAL_EXPIRY_DAYS": 7,
    "REFERRAL_LINK_STATUS_DAYS": 30,
    # handover certificates: kept outside the web root; None = instance/certificates
    "CERTIFICATE_DIR": None,
    "CERTIFICATE_MAX_BYTES": 5 * 1024 * 1024,
    # case documents: kept outside the web root (None = instance/documents), encrypted at rest
    # with DOCUMENT_KEYS (Fernet keys, comma-separated: the first encrypts, all decrypt; see
    # the README on rotation). Without keys, production refuses to store documents and
    # development and testing use a key of their own instance (cases.documents).
    "DOCUMENT_DIR": None,
    "DOCUMENT_MAX_BYTES": 10 * 1024 * 1024,
    "DOCUMENT_KEYS": None,
    # the address links in e-mails start with (no request exists when a flow writes them);
    # a path is kept (https://example.org/hub); `make run` sets it from its PORT
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    # returnee feedback (feedback.services): days a link stays open, and days the case
    # manager has to follow up a low score
    "FEEDBACK_LINK_DAYS": 30,
    "FEEDBACK_TASK_DAYS": 3,
    "MAIL_FROM": "Reintegration Hub <no-reply@reintegration-hub.invalid>",
    # the SMTP server the deliver_notifications flow sends the outbox through
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "SMTP_TIMEOUT_SECONDS": 30,
    # messages per task of the flow; a message failing transiently waits RETRY_SECONDS, then
    # twice as long each time (at most RETRY_MAX_SECONDS), and fails for good after MAX_ATTEMPTS
    "OUTBOX_BATCH_SIZE": 100,
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_RETRY_SECONDS": 60,
    "OUTBOX_RETRY_MAX_SECONDS": 6 * 3600,
    # a recipient with more than this many due messages of one kind gets one digest instead
    "OUTBOX_DIGEST_AFTER": 5,
    # the hour (UTC) the daily digest goes out to users who chose it for a kind of message
    "OUTBOX_DIGEST_HOUR": 6,
    # text messages to returnees (cases.sms, notifications.sms): SMS_GATEWAY "twilio" sends
    # them through a Twilio-compatible Messages API at SMS_API_URL; "log" (development only,
    # `make run`) writes them to the log instead; "" sends none (they wait, queued); the
    # credentials come from the environment (HUB_SMS_ACCOUNT_SID, ...)
    "SMS_GATEWAY": "",
    "SMS_API_URL": "https://api.twilio.com",
    "SMS_ACCOUNT_SID": None,
    "SMS_AUTH_TOKEN": None,
    # the sender: a number or alphanumeric sender id, or a messaging service of the provider
    "SMS_FROM": None,
    "SMS_MESSAGING_SERVICE_SID": None,
    "SMS_TIMEOUT_SECONDS": 15,
    # the Prefect server's UI (flow runs, schedules), linked from the admin pages; `make run`
    # sets it from its PREFECT_PORT
    "PREFECT_UI_URL": "http://127.0.0.1:4200",
    # the Prefect server's API (http://host:4200/api); /readyz checks it when it is set
    "PREFECT_API_URL": None,
    # logs (core.observability): "json" (one JSON object a line) or "text"; None: json in
    # production, text otherwise. Records below LOG_LEVEL are dropped.
    "LOG_FORMAT": None,
    "LOG_LEVEL": "INFO",
    # the request header whose id (when well-formed) names the request in the logs; "" ignores
    # any incoming id and makes one for each request
    "REQUEST_ID_HEADER": "X-Request-ID",
    # GET /metrics (Prometheus) answers a bearer METRICS_TOKEN, or the addresses and networks
    # of METRICS_ALLOW_FROM (comma-separated); with neither, it is not served (404)
    "METRICS_TOKEN": None,
    "METRICS_ALLOW_FROM": "",
    # reads whose inputs do not change under their key (the dashboard's figures from an outcome
    # snapshot) are remembered this many seconds in each process (core.memo); 0: never
    "MEMO_SECONDS": 300,
}


class ConfigError(RuntimeError):
    """The configuration cannot run the application; the message says which key to set."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("HUB")
    # Sentry's own convention is the bare SENTRY_DSN variable; HUB_SENTRY_DSN wins over it.
    app.config["SENTRY_DSN"] = app.config["SENTRY_DSN"] or os.environ.get("SENTRY_DSN")
    if overrides:
        app.config.from_mapping(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(
        app.config["DATABASE_URL"], Path(app.instance_path)
    )
    # the pages append /runs/flow-run/<id> to it
    app.config["PREFECT_UI_URL"] = str(app.config["PREFECT_UI_URL"]).rstrip("/")
    app.config["TESTING"] = app.config["ENV"] == "testing" or app.config.get("TESTING", False)
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    validate(app.config)


def database_uri(url: str | None, instance_path: Path) -> str:
    """The SQLAlchemy URI for ``url``; PostgreSQL goes through psycopg 3."""
    if not url:
        return f"sqlite:///{instance_path / 'hub.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


LIMIT_KEYS = ("LOGIN_RATE_LIMIT", "LOGIN_ADDRESS_RATE_LIMIT", "LOGIN_ACCOUNT_RATE_LIMIT")


def validate(config: Mapping[str, Any]) -> None:
    if config["ENV"] not in {"development", "production", "testing"}:
        raise ConfigError(
            f"HUB_ENV must be development, production or testing, not {config['ENV']!r}"
        )
    for key in LIMIT_KEYS:
        try:
            parse_many(str(config[key]))
        except ValueError:
            raise ConfigError(
                f'HUB_{key} must be rate limits such as "5 per minute;20 per hour", '
                f"not {config[key]!r}"
            ) from None
    hour = config["OUTBOX_DIGEST_HOUR"]
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ConfigError(f"HUB_OUTBOX_DIGEST_HOUR must be an hour from 0 to 23, not {hour!r}")
    proxies = config["TRUSTED_PROXIES"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ConfigError(
            "HUB_TRUSTED_PROXIES must be the number of reverse proxies in front of the "
            f"application (0 or more), not {proxies!r}"
        )
    base = urlsplit(str(config["PUBLIC_BASE_URL"]))
    if base.scheme not in {"http", "https"} or not base.hostname or base.query or base.fragment:
        raise ConfigError(
            "HUB_PUBLIC_BASE_URL must be the address users open, e.g. https://hub.example.org"
        )
    try:
        parse_keys(config.get("DOCUMENT_KEYS"))
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"HUB_DOCUMENT_KEYS must be Fernet keys separated by commas ({error}); make one "
            'with python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None
    if config["SMS_GATEWAY"] not in {"", "twilio", "log"}:
        raise ConfigError(
            'HUB_SMS_GATEWAY must be "twilio", "log" (development only) or empty (no SMS), '
            f"not {config['SMS_GATEWAY']!r}"
        )
    if config["SMS_GATEWAY"] == "log" and config["ENV"] not in {"development", "testing"}:
        raise ConfigError(
            'HUB_SMS_GATEWAY "log" writes returnees\' numbers and texts to the log: it is for '
            "development only"
        )
    if config["SMS_GATEWAY"] == "twilio":
        missing = [
            f"HUB_{key}" for key in ("SMS_ACCOUNT_SID", "SMS_AUTH_TOKEN") if not config.get(key)
        ]
        if not (config.get("SMS_FROM") or config.get("SMS_MESSAGING_SERVICE_SID")):
            missing.append("HUB_SMS_FROM (or HUB_SMS_MESSAGING_SERVICE_SID)")
        sms_api = urlsplit(str(config["SMS_API_URL"]))
        if sms_api.scheme not in {"http", "https"} or not sms_api.hostname:
            missing.append("HUB_SMS_API_URL (an http or https address)")
        if missing:
            raise ConfigError("SMS_GATEWAY is set, but these are missing: " + ", ".join(missing))
    prefect_ui = urlsplit(str(config["PREFECT_UI_URL"]))
    if prefect_ui.scheme not in {"http", "https"} or not prefect_ui.hostname or prefect_ui.query:
        raise ConfigError(
            "HUB_PREFECT_UI_URL must be the address of the Prefect UI, e.g. http://127.0.0.1:4200"
        )
    prefect_api = config.get("PREFECT_API_URL")
    if prefect_api and urlsplit(str(prefect_api)).scheme not in {"http", "https"}:
        raise ConfigError(
            "HUB_PREFECT_API_URL must be the Prefect server's API, e.g. http://127.0.0.1:4200/api"
        )
    if config["ENV"] == "production" and (problems := production_problems(config)):
        raise ConfigError(refusal(problems))


def refusal(problems: list[str]) -> str:
    return "Production cannot start; set in the environment:\n" + "\n".join(
        f"  - {problem}" for problem in problems
    )


def production_problems(config: Mapping[str, Any]) -> list[str]:
    """What production lacks, every item named at once: secrets come from the environment,
    the data from PostgreSQL, the sign-in limits from a store all web processes share."""
    problems = []
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY:
        problems.append(
            "HUB_SECRET_KEY: a long random value "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
        )
    url = str(config.get("DATABASE_URL") or "")
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        problems.append(
            "HUB_DATABASE_URL: the production PostgreSQL database "
            "(postgresql://user@host:5432/hub), "
            + ("not SQLite" if url.startswith("sqlite") or not url else f"not {url.split(':')[0]}")
        )
    if not str(config["RATELIMIT_STORAGE_URI"]).startswith(("redis://", "rediss://")):
        problems.append(
            "HUB_RATELIMIT_STORAGE_URI: the Redis all web processes count sign-in attempts in "
            "(redis://127.0.0.1:6379/0); in memory, each process would count its own"
        )
    if not config.get("DOCUMENT_KEYS"):
        problems.append(
            "HUB_DOCUMENT_KEYS: the key that encrypts case documents "
            '(python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"); keep it apart from the backups'
        )
    if urlsplit(str(config["PUBLIC_BASE_URL"])).hostname in {"localhost", "127.0.0.1", "::1"}:
        problems.append("HUB_PUBLIC_BASE_URL: the public address of the Hub, used in e-mails")
    return problems
