"""The per-dialect SQL gives the same answers on SQLite and PostgreSQL: date arithmetic whatever
the database session's time zone, and inserts that skip the rows already there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.core.db import UTCDateTime
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.sql import (
    days_between,
    hours_between,
    insert_ignore,
    month_start,
    utc_day,
)
from reintegration_hub.extensions import db


def value(expression: sa.ColumnElement[Any]) -> object:
    return db.session.execute(sa.select(expression)).scalar_one()


def at(text: str) -> sa.BindParameter[dt.datetime]:
    return sa.bindparam(None, dt.datetime.fromisoformat(text), type_=UTCDateTime())


def day(text: str) -> sa.BindParameter[dt.date]:
    return sa.bindparam(None, dt.date.fromisoformat(text), type_=sa.Date())


def as_date(result: object) -> dt.date:
    return result if isinstance(result, dt.date) else dt.date.fromisoformat(str(result))


def test_a_timestamp_falls_on_its_utc_day(app: Flask) -> None:
    # PostgreSQL under the session time zones furthest from UTC (+14, -10); SQLite has none
    zones = ["UTC", "Pacific/Kiritimati", "America/Adak"]
    for zone in zones if db.engine.dialect.name == "postgresql" else ["UTC"]:
        if zone != "UTC":
            db.session.execute(sa.text(f"SET TIME ZONE '{zone}'"))
        assert as_date(value(utc_day(at("2024-01-31T23:30:00+00:00")))) == dt.date(2024, 1, 31)
        assert as_date(value(utc_day(at("2024-02-01T00:30:00+00:00")))) == dt.date(2024, 2, 1)
        assert as_date(value(month_start(day("2024-02-29")))) == dt.date(2024, 2, 1)


def test_days_and_hours_between(app: Flask) -> None:
    assert value(days_between(day("2024-03-01"), day("2024-02-01"))) == 29
    assert value(days_between(day("2024-01-25"), day("2024-02-05"))) == -11
    assert value(days_between(utc_day(at("2024-01-25T23:59:00+00:00")), day("2024-01-10"))) == 15
    hours = value(hours_between(at("2024-01-02T06:30:00+00:00"), at("2024-01-01T00:00:00+00:00")))
    assert float(hours) == pytest.approx(30.5)  # type: ignore[arg-type]


def outbox_row(key: str, subject: str) -> dict[str, object]:
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    return {
        "key": key,
        "kind": "test",
        "to_address": "someone@example.org",
        "subject": subject,
        "body_text": "",
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "next_attempt_at": now,
    }


#: what an array of text must carry through as it is (PostgreSQL's text format quotes and
#: escapes these; its binary one does not need to)
AWKWARD_TEXTS = [
    'say "hi"',
    "back\\slash \\N",
    "{braces}",
    "a,b;c",
    "NULL",
    "",
    "  spaces  ",
    "ünïcode — 😀",
    "line\nbreak\ttab",
    "'quoted'",
]


def test_insert_ignore_stores_every_value_as_given(app: Flask) -> None:
    table = OutboxMessage.__table__
    rows = [
        outbox_row(f"awkward-{n}", text)
        | {
            "body_text": text * 3,
            "notice_id": [None, 2**31 - 1, 7][n % 3],
            "returnee_id": None,  # a column of no value at all
            "attempts": n,
            "daily_digest": n % 2 == 0,
            "next_attempt_at": dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.UTC),
        }
        for n, text in enumerate(AWKWARD_TEXTS)
    ]
    inserted = insert_ignore(table, rows, ["key"], returning=[table.c.key])
    assert sorted(row.key for row in inserted) == sorted(str(row["key"]) for row in rows)
    columns = [
        "key",
        "subject",
        "body_text",
        "notice_id",
        "returnee_id",
        "attempts",
        "daily_digest",
    ]
    stored = db.session.execute(
        sa.select(*(table.c[name] for name in columns), table.c.next_attempt_at).where(
            table.c.key.like("awkward-%")
        )
    ).all()
    assert sorted(tuple(row[:-1]) for row in stored) == sorted(
        tuple(row[name] for name in columns) for row in rows
    )
    assert {row.next_attempt_at for row in stored} == {rows[0]["next_attempt_at"]}


def test_insert_ignore_skips_the_rows_whose_key_is_taken(app: Flask) -> None:
    table = OutboxMessage.__table__
    first = insert_ignore(table, [outbox_row("a", "first a")], ["key"], returning=[table.c.key])
    assert [row.key for row in first] == ["a"]
    # a key already stored, and a key twice in one call: the first row given of each stays
    again = insert_ignore(
        table,
        [outbox_row("a", "second a"), outbox_row("b", "first b"), outbox_row("b", "second b")],
        ["key"],
        returning=[table.c.key],
    )
    assert [row.key for row in again] == ["b"]
    assert insert_ignore(table, [outbox_row("c", "only c")], ["key"]) == []
    assert insert_ignore(table, [], ["key"], returning=[table.c.key]) == []
    stored = db.session.execute(
        sa.select(OutboxMessage.key, OutboxMessage.subject)
        .where(OutboxMessage.key.in_(["a", "b", "c"]))
        .order_by(OutboxMessage.key)
    ).all()
    assert [tuple(row) for row in stored] == [("a", "first a"), ("b", "first b"), ("c", "only c")]
