"""The returnee's feedback page: in their language, answered once, refusing tampered and
expired links and hostile input with a page, never a server error; the case page's link."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.core.observability import configure_logging
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackScore
from tests.clock import TODAY, travel
from tests.deliveries.helpers import build_world
from tests.feedback.helpers import code_of, delivered


def answers() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackScore)) or 0)


def test_the_form_is_in_georgian_and_answered_once(app: Flask, client: FlaskClient) -> None:
    invited = delivered(languages=["ka", "ru"])
    url = f"/f/{code_of(invited.link)}"
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'lang="ka"' in text
    assert "როგორ შეაფასებდით მიღებულ დახმარებას?" in text
    assert invited.request.returnee.last_name not in text  # no personal data
    field = f"score_{invited.request.plan_line_id}"
    sent = client.post(url, data={field: "5", "comment": "მადლობა"})
    assert sent.status_code == 302
    assert "გმადლობთ" in client.get(url).get_data(as_text=True)
    again = client.post(url, data={field: "1", "comment": ""})
    assert again.status_code == 409
    assert answers() == 1


def test_a_tampered_link_is_refused_with_a_page(app: Flask, client: FlaskClient) -> None:
    code = code_of(delivered().link)
    for bad in (code[:-1] + ("a" if code[-1] != "a" else "b"), "x", "1." + "a" * 12, "%00"):
        page = client.get(f"/f/{bad}")
        assert page.status_code == 404
        assert 'data-testid="invalid-link"' in page.get_data(as_text=True)


def test_an_expired_link_is_refused_with_a_page(
    app: Flask, client: FlaskClient, time_machine: Any
) -> None:
    invited = delivered()
    travel(time_machine, TODAY + dt.timedelta(days=40))
    url = f"/f/{code_of(invited.link)}"
    assert client.get(url).status_code == 410
    field = f"score_{invited.request.plan_line_id}"
    assert client.post(url, data={field: "4"}).status_code == 410
    assert answers() == 0


@pytest.mark.parametrize(
    ("score", "comment", "field"),
    [
        ("0", "", "score"),
        ("6", "", "score"),
        ("abc", "", "score"),
        ("9" * 40, "", "score"),
        ("", "", "score"),
        ("\x00", "", "score"),
        ("3", "bad\x00byte", "comment"),
        ("3", "\x00", "comment"),
        ("3", "x" * 1001, "comment"),
    ],
)
def test_hostile_input_is_refused_at_the_field(
    app: Flask, client: FlaskClient, score: str, comment: str, field: str
) -> None:
    invited = delivered()
    db.session.commit()  # as the delivery's page did: a refusal rolls back the answer only
    name = f"score_{invited.request.plan_line_id}"
    page = client.post(f"/f/{code_of(invited.link)}", data={name: score, "comment": comment})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    marked = name if field == "score" else "comment"
    assert any("is-invalid" in tag for tag in text.split("<") if f'name="{marked}"' in tag)
    assert answers() == 0


def test_the_form_refuses_a_post_without_its_csrf_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        invited = delivered()
        client = app.test_client()
        field = f"score_{invited.request.plan_line_id}"
        page = client.post(f"/f/{code_of(invited.link)}", data={field: "5"})
        assert page.status_code in {400, 422}
        assert answers() == 0


def test_the_case_page_gives_the_case_manager_the_link(
    app: Flask, client: FlaskClient, login: Callable[..., FlaskClient]
) -> None:
    world = build_world()
    invited = delivered(world)
    login(world.case_manager)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert invited.link in page
    assert 'data-testid="feedback-status">not sent yet' in page
    client.post(f"/feedback/{invited.request.id}/sent", data={"back": f"/cases/{world.case.id}"})
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert 'data-testid="feedback-status">sent' in page


def test_an_expired_link_gets_a_new_one_from_the_case_page(
    app: Flask, client: FlaskClient, login: Callable[..., FlaskClient], time_machine: Any
) -> None:
    world = build_world()
    invited = delivered(world)
    travel(time_machine, TODAY + dt.timedelta(days=31))
    login(world.case_manager)
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert 'data-testid="feedback-status">expired' in page
    assert 'data-testid="feedback-renew"' in page
    client.post(f"/feedback/{invited.request.id}/renew", data={"back": f"/cases/{world.case.id}"})
    page = client.get(f"/cases/{world.case.id}").get_data(as_text=True)
    assert 'data-testid="feedback-status">not sent yet' in page
    assert invited.link not in page  # the old link stays refused
    assert client.get("/f/" + code_of(invited.link)).status_code == 404
    new_link = re.findall(r'value="([^"]*/f/[^"]+)"', page)[0]
    assert client.get("/f/" + code_of(new_link)).status_code == 200


def test_no_comment_phone_number_or_link_code_reaches_the_logs(
    make_app: Callable[..., Flask], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(LOG_FORMAT="json", CERTIFICATE_DIR=str(tmp_path / "certificates"))
    configure_logging(app)  # the process's logging is the last app built's: this one's
    with app.app_context():
        world = build_world()
        world.case.mobile_number = "+995555123456"
        invited = delivered(world)
        code = code_of(invited.link)
        field = f"score_{invited.request.plan_line_id}"
        capsys.readouterr()
        comment = "The kit broke. Nino Beridze, +995 555 12 34 56, nino@example.org"
        client = app.test_client()
        assert client.post(f"/f/{code}", data={field: "1", "comment": comment}).status_code == 302
        assert client.post(f"/f/{code}", data={field: "1", "comment": comment}).status_code == 409
        logged = capsys.readouterr().err
    assert "/f/<code>" in logged  # the lines were there to search
    for secret in ("kit broke", "Beridze", "555 12 34 56", "555123456", "nino@", code):
        assert secret not in logged
