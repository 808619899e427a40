"""The API's pages: no count unless asked, ``after`` cursors that follow on, hostile cursors 400."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask.testing import FlaskClient

from reintegration_hub.core.inbox import InboxNotice
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db
from tests.cases.helpers import counsellor, register
from tests.factories import OfficeFactory, bearer, user_with_role


def _pages(client: FlaskClient, url: str, headers: dict[str, str]) -> list[list[Any]]:
    """Every page of a list, following its ``Link: rel=next`` from ``url`` to the end."""
    pages = []
    next_url: str | None = url
    while next_url is not None:
        answer = client.get(next_url, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        pages.append(answer.get_json())
        link = answer.headers.get("Link")
        if link is None:
            assert "next_after" not in json.loads(answer.headers["X-Pagination"])
            next_url = None
        else:
            found = re.fullmatch(r'<http://[^/]+(/[^>]+)>; rel="next"', link)
            assert found is not None, link
            next_url = found.group(1)
        assert len(pages) < 20
    return pages


def test_following_next_gives_every_case_once_in_order(client) -> None:
    user = counsellor()
    ids = [register(user).id for _ in range(7)]
    pages = _pages(client, "/api/v1/cases?page_size=3", bearer(user))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [case["id"] for page in pages for case in page] == sorted(ids, reverse=True)


def test_keyset_pages_over_an_order_of_several_keys(client) -> None:
    user = user_with_role(Role.COUNSELLOR)
    for n, kind in enumerate([OfficeKind.ORIGIN, OfficeKind.HOST] * 3):  # kind, then name
        OfficeFactory(kind=kind, country_code="GE", name=f"Office {9 - n}")
    headers = bearer(user)
    whole = client.get("/api/v1/offices?page_size=100", headers=headers).get_json()
    pages = _pages(client, "/api/v1/offices?page_size=2", headers)
    paged = [office["id"] for page in pages for office in page]
    assert paged == [office["id"] for office in whole]
    assert len(set(paged)) == len(paged) >= 7


def test_a_row_added_meanwhile_neither_repeats_nor_hides_a_row(client) -> None:
    user = counsellor()
    ids = [register(user).id for _ in range(4)]
    headers = bearer(user)
    first = client.get("/api/v1/cases?page_size=2", headers=headers)
    cursor = json.loads(first.headers["X-Pagination"])["next_after"]
    register(user)  # newest first: it goes before the first page, not into the second
    second = client.get(f"/api/v1/cases?page_size=2&after={cursor}", headers=headers)
    seen = [c["id"] for c in first.get_json()] + [c["id"] for c in second.get_json()]
    assert seen == sorted(ids, reverse=True)


def test_the_total_is_counted_only_when_asked_or_known(client) -> None:
    user = counsellor()
    for _ in range(3):
        register(user)
    headers = bearer(user)
    first = json.loads(
        client.get("/api/v1/cases?page_size=2", headers=headers).headers["X-Pagination"]
    )
    assert "total" not in first
    assert first["next_page"] == 2
    last = json.loads(
        client.get("/api/v1/cases?page_size=2&page=2", headers=headers).headers["X-Pagination"]
    )
    assert last["total"] == 3  # the last page tells it
    asked = client.get("/api/v1/cases?page_size=2&count=exact", headers=headers)
    assert json.loads(asked.headers["X-Pagination"])["total"] == 3


def test_tampered_foreign_or_strange_cursors_are_refused_with_400(client) -> None:
    user = counsellor()
    for _ in range(3):
        register(user)
    headers = bearer(user)
    cases = client.get("/api/v1/cases?page_size=1", headers=headers)
    cursor = json.loads(cases.headers["X-Pagination"])["next_after"]
    offices = client.get("/api/v1/offices?page_size=1", headers=headers)
    office_cursor = json.loads(offices.headers["X-Pagination"]).get("next_after")
    payload, _, signature = cursor.rpartition(".")
    strange = [
        payload + "." + signature[::-1],  # signature tampered
        payload[:-2] + "." + signature,  # payload cut
        "WzEsMl0.abc",
        "x" * 900,
    ]
    if office_cursor is not None:
        strange.append(office_cursor)  # another list's
    for after in strange:
        answer = client.get("/api/v1/cases", query_string={"after": after}, headers=headers)
        assert answer.status_code == 400, after
        assert "cursor" in answer.get_json()["message"]
    for hostile in ("x" * 5000, "\x00"):  # refused by the text rule, as any text parameter
        answer = client.get("/api/v1/cases", query_string={"after": hostile}, headers=headers)
        assert answer.status_code == 422
        assert "after" in answer.get_json()["errors"]["query"]
    both = client.get(f"/api/v1/cases?page=2&after={cursor}", headers=headers)
    assert both.status_code == 400
    assert "not both" in both.get_json()["message"]
    assert client.get("/api/v1/cases?count=all", headers=headers).status_code == 422


def test_keyset_pages_over_times_that_repeat(client) -> None:
    """Notices run newest first by creation time, then id: equal times are split by the id,
    and the time in the cursor compares as the column's own (UTC) time."""
    user = counsellor()
    start = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    for n in range(7):
        db.session.add(
            InboxNotice(
                key=f"test:{n}",
                kind="test",
                user_id=user.id,
                subject=f"Notice {n}",
                created_at=start + dt.timedelta(minutes=n // 2),  # two at each time
            )
        )
    db.session.flush()
    headers = bearer(user)
    whole = client.get("/api/v1/me/notifications?page_size=100", headers=headers).get_json()
    pages = _pages(client, "/api/v1/me/notifications?page_size=2", headers)
    assert [n["id"] for page in pages for n in page] == [n["id"] for n in whole]
    assert len(whole) == 7
