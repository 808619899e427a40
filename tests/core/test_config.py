from __future__ import annotations

from pathlib import Path

import pytest

from reintegration_hub import create_app
from reintegration_hub.config import ConfigError, database_uri


def test_environment_overrides_defaults_and_mapping_overrides_environment(monkeypatch) -> None:
    monkeypatch.setenv("HUB_PAGE_SIZE", "25")
    monkeypatch.setenv("HUB_LOGIN_RATE_LIMIT", "9 per minute")
    app = create_app({"ENV": "testing", "LOGIN_RATE_LIMIT": "1 per minute"})
    assert app.config["PAGE_SIZE"] == 25
    assert app.config["LOGIN_RATE_LIMIT"] == "1 per minute"


def test_production_without_a_secret_fails_fast(monkeypatch) -> None:
    monkeypatch.delenv("HUB_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="HUB_SECRET_KEY"):
        create_app({"ENV": "production", "DATABASE_URL": "postgresql://db/hub"})


def test_production_without_a_database_fails_fast() -> None:
    with pytest.raises(ConfigError, match="HUB_DATABASE_URL"):
        create_app({"ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": None})


@pytest.mark.parametrize(
    "url", ["hub.example.org", "ftp://hub.example.org", "https://", "https://h.org/?a=1", "x"]
)
def test_links_in_e_mails_need_an_absolute_web_address(url: str) -> None:
    with pytest.raises(ConfigError, match="HUB_PUBLIC_BASE_URL"):
        create_app({"ENV": "testing", "PUBLIC_BASE_URL": url})


#: a production configuration that starts (no connection is made by create_app)
PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://h/d",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "DOCUMENT_KEYS": "k" * 43 + "=",
    "PUBLIC_BASE_URL": "https://hub.example.org",
}


def test_production_names_everything_it_lacks_at_once(monkeypatch) -> None:
    for name in ("HUB_SECRET_KEY", "HUB_DATABASE_URL", "HUB_DOCUMENT_KEYS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError) as refused:
        create_app({"ENV": "production"})
    message = str(refused.value)
    for name in (
        "HUB_SECRET_KEY",
        "HUB_DATABASE_URL",
        "HUB_RATELIMIT_STORAGE_URI",
        "HUB_DOCUMENT_KEYS",
        "HUB_PUBLIC_BASE_URL",
    ):
        assert f"- {name}:" in message
    assert create_app(PRODUCTION).config["ENV"] == "production"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DATABASE_URL", "sqlite:///srv/hub.sqlite3"),
        ("DATABASE_URL", "mysql://h/d"),
        ("RATELIMIT_STORAGE_URI", "memory://"),
        ("DOCUMENT_KEYS", ""),
        ("SECRET_KEY", "dev-only-not-secret"),
    ],
)
def test_production_refuses_sqlite_per_process_limits_and_missing_secrets(key, value) -> None:
    with pytest.raises(ConfigError, match=f"- HUB_{key}:"):
        create_app({**PRODUCTION, key: value})


def test_production_links_in_e_mails_must_not_point_at_this_machine() -> None:
    production = {**PRODUCTION, "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}
    with pytest.raises(ConfigError, match="HUB_PUBLIC_BASE_URL"):
        create_app(production)
    app = create_app({**production, "PUBLIC_BASE_URL": "https://hub.example.org/iom"})
    assert app.config["PUBLIC_BASE_URL"] == "https://hub.example.org/iom"


def test_postgres_urls_use_psycopg3() -> None:
    assert database_uri("postgresql://u@h/db", Path("/x")) == "postgresql+psycopg://u@h/db"
    assert database_uri("postgres://u@h/db", Path("/x")) == "postgresql+psycopg://u@h/db"


def test_default_database_is_an_sqlite_file_in_instance() -> None:
    assert (
        database_uri(None, Path("/srv/hub/instance")) == "sqlite:////srv/hub/instance/hub.sqlite3"
    )


@pytest.mark.parametrize("url", ["127.0.0.1:4200", "ftp://h.org", "http://", "http://h/?a=1"])
def test_the_prefect_ui_address_must_be_a_web_address(url: str) -> None:
    with pytest.raises(ConfigError, match="HUB_PREFECT_UI_URL"):
        create_app({"ENV": "testing", "PREFECT_UI_URL": url})


def test_the_sms_log_gateway_is_refused_outside_development() -> None:
    production = {"ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://db/h"}
    with pytest.raises(ConfigError, match="development only"):
        create_app({**production, "SMS_GATEWAY": "log"})
    with pytest.raises(ConfigError, match="HUB_SMS_GATEWAY"):
        create_app({"ENV": "testing", "SMS_GATEWAY": "carrier-pigeon"})
    assert create_app({"ENV": "testing", "SMS_GATEWAY": "log"}).config["SMS_GATEWAY"] == "log"
