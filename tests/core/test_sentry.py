from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from reintegration_hub.core.authz import public
from reintegration_hub.core.roles import Role
from reintegration_hub.core.sentry import init_sentry, scrub_text
from tests.factories import user_with_role


class CapturingTransport(Transport):
    def __init__(self, options: dict | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event"
        ]


@pytest.fixture
def sentry_app(make_fresh_app) -> Iterator[tuple[object, CapturingTransport]]:
    app = make_fresh_app(SENTRY_DSN="https://public@sentry.invalid/1", PROPAGATE_EXCEPTIONS=False)
    transport = CapturingTransport()
    init_sentry(app, transport=transport)

    def leak() -> str:
        from flask import request

        raise RuntimeError(f"could not match {request.form['note']} <{request.args['email']}>")

    leak.hub_access = frozenset(Role)  # type: ignore[attr-defined]
    app.add_url_rule("/leak", "leak", leak, methods=["GET", "POST"])
    yield app, transport
    sentry_sdk.init()  # no DSN: nothing is sent by later tests


def test_a_failing_request_is_reported_without_personal_data(sentry_app, login) -> None:
    app, transport = sentry_app
    with app.app_context():
        user = user_with_role(
            Role.COUNSELLOR, full_name="Jana Kowalska", email="jana.kowalska@example.org"
        )
        client = app.test_client()
        from reintegration_hub.auth.services import start_session
        from reintegration_hub.extensions import db

        start_session(user)
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
        response = client.post(
            "/leak?email=jana.kowalska@example.org",
            data={"note": "Jana Kowalska, born 1990-02-03"},
            headers={"Cookie": "session=abc", "Authorization": "Bearer rh_secret"},
        )
    assert response.status_code == 500
    sentry_sdk.flush()
    events = transport.events()
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    assert event["request"]["url"].endswith("/leak")
    text = json.dumps(event)
    for secret in ("Kowalska", "jana.kowalska", "1990-02-03", "rh_secret", "session=abc"):
        assert secret not in text
    assert event.get("user", {}).keys() <= {"id"}


def test_sentry_collects_no_personal_data_by_default(sentry_app) -> None:
    options = sentry_sdk.get_client().options
    assert not options["send_default_pii"]
    assert options["data_collection"]["user_info"] is False
    assert options["include_local_variables"] is False


# far from the view below, whose lines the event quotes
SPOKEN_NUMBER = "+995 555 12 34 56"
COMMENT = "the kit broke, call +995555123456"
LINK = "/answer/1a.secretsignature"


def test_a_phone_number_a_comment_and_a_links_code_are_not_reported(make_fresh_app) -> None:
    app = make_fresh_app(SENTRY_DSN="https://public@sentry.invalid/1", PROPAGATE_EXCEPTIONS=False)
    transport = CapturingTransport()
    init_sentry(app, transport=transport)

    def answer(code: str) -> str:
        from flask import request

        logging.getLogger("reintegration_hub.test").warning(
            "reply from %s: %s", SPOKEN_NUMBER, request.form["comment"]
        )
        raise RuntimeError(f"could not store {request.form['comment']}")

    app.add_url_rule("/answer/<code>", "answer", public(answer), methods=["POST"])
    try:
        response = app.test_client().post(
            LINK,
            data={"comment": COMMENT},
        )
        assert response.status_code == 500
        sentry_sdk.flush()
    finally:
        sentry_sdk.init()
    (event,) = transport.events()
    assert event["request"]["url"].endswith("/answer/<code>")
    assert event["breadcrumbs"]["values"]  # the log line was there to search
    text = json.dumps(event)
    for secret in ("555 12 34 56", "995555123456", "kit broke", "secretsignature"):
        assert secret not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +995 555 12 34 56 now", "call [Filtered] now"),
        ("from 995555123456.", "from [Filtered]."),
        ("ring (0)555.123456 or 8 612 34567", "ring [Filtered] or [Filtered]"),
        ("as of 2026-06-01 03:45:00 and 01.06.2026", "as of 2026-06-01 03:45:00 and 01.06.2026"),
        ("run 1f2e3d4c-9123-4567-89ab-0123456789ab", "run 1f2e3d4c-9123-4567-89ab-0123456789ab"),
        ("messages [101, 102] took 1234.5678 ms", "messages [101, 102] took 1234.5678 ms"),
        ("nino@example.org", "[Filtered]"),
    ],
)
def test_scrubbing_masks_phone_numbers_and_keeps_dates_ids_and_counts(
    text: str, expected: str
) -> None:
    assert scrub_text(text) == expected


def test_a_secret_in_the_path_is_scrubbed_as_its_rule(make_fresh_app) -> None:
    app = make_fresh_app()
    app.add_url_rule("/answer/<code>", "answer", public(lambda code: code))
    with app.test_request_context("/answer/1a.secretsignature"):
        app.preprocess_request()  # match the rule
        text = scrub_text("Exception on /answer/1a.secretsignature [POST]")
    assert text == "Exception on /answer/<code> [POST]"
