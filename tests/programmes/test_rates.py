"""Exchange rates by hand and from a file of daily rates (all or none), and the missing-rate
message that names the page where a rate is entered."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.money import ExchangeRate, eur_per_unit
from reintegration_hub.core.roles import Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.programmes import rates
from tests.cases.helpers import counsellor
from tests.factories import user_with_role

DAY = dt.date(2026, 3, 2)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(ExchangeRate.id))) or 0


def test_a_rate_is_entered_either_way_round(app) -> None:
    manager = user_with_role(Role.PROGRAMME_MANAGER)
    lari = rates.record_rate("gel", DAY, Decimal("2.5"), units_per_eur=True, actor=manager)
    dram = rates.record_rate("AMD", DAY, Decimal("0.0023"), source="CBA", actor=manager)

    assert (lari.currency, lari.eur_per_unit) == ("GEL", Decimal("0.4"))
    assert (dram.eur_per_unit, dram.source) == (Decimal("0.0023"), "CBA")
    assert eur_per_unit("GEL", DAY + dt.timedelta(days=30)) == Decimal("0.4")
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "exchange_rate.create")
    ).first()
    assert entry is not None
    assert entry.actor_id == manager.id


def test_one_rate_per_currency_and_day_which_can_be_corrected_or_removed(app) -> None:
    admin = user_with_role(Role.ADMIN)
    row = rates.record_rate("GEL", DAY, Decimal("0.34"), actor=admin)
    with pytest.raises(Conflict) as refused:
        rates.record_rate("GEL", DAY, Decimal("0.35"), actor=admin)
    assert "valid_on" in refused.value.field_errors

    rates.update_rate(row.id, Decimal("2.9"), units_per_eur=True, source="NBG", actor=admin)
    assert row.eur_per_unit == Decimal("0.3448275862")
    rates.delete_rate(row.id, actor=admin)
    assert _count() == 0
    actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["exchange_rate.update", "exchange_rate.delete"]


@pytest.mark.parametrize(
    ("currency", "day", "rate", "field"),
    [
        ("EUR", DAY, Decimal(1), "currency"),
        ("XYZ", DAY, Decimal(1), "currency"),
        ("GEL", dt.date(9999, 12, 31), Decimal(1), "valid_on"),
        ("GEL", dt.date(1800, 1, 1), Decimal(1), "valid_on"),
        ("GEL", DAY, Decimal(0), "eur_per_unit"),
        ("GEL", DAY, Decimal("-1"), "eur_per_unit"),
        ("GEL", DAY, Decimal("1e400"), "eur_per_unit"),
        ("GEL", DAY, Decimal("NaN"), "eur_per_unit"),
        ("GEL", DAY, Decimal("sNaN"), "eur_per_unit"),
        ("GEL", DAY, Decimal("Infinity"), "eur_per_unit"),
        ("GEL", DAY, Decimal("1e-12"), "eur_per_unit"),
    ],
)
def test_implausible_rates_are_refused_at_their_field(
    app, currency: str, day: dt.date, rate: Decimal, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        rates.record_rate(currency, day, rate, actor=user_with_role(Role.ADMIN))
    assert field in refused.value.field_errors
    assert _count() == 0


def test_counsellors_cannot_enter_rates(app) -> None:
    with pytest.raises(PermissionDenied):
        rates.record_rate("GEL", DAY, Decimal("0.34"), actor=counsellor())


def test_a_missing_rate_names_the_page_where_it_is_entered(app) -> None:
    with pytest.raises(InvalidInput) as refused:
        eur_per_unit("GEL", DAY)
    message = str(refused.value)
    assert "/programmes/rates" in message
    assert "2026-03-02" in message


# --- import -----------------------------------------------------------------------------------

GOOD = b"""currency,date,units_per_eur,source
GEL,2026-03-02,2.9312,NBG
GEL,2026-03-03,2.9287,NBG
AMD,2026-03-02,430.5,CBA
"""


def test_a_file_of_daily_rates_is_imported(app) -> None:
    admin = user_with_role(Role.ADMIN)
    result = rates.import_rates("rates.csv", GOOD, actor=admin)

    assert (result.added, result.changed, result.unchanged) == (3, 0, 0)
    assert eur_per_unit("GEL", dt.date(2026, 3, 3)) == Decimal("0.3414484242")
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "exchange_rate.import")
    ).one()
    assert entry.changes["added"] == [None, 3]
    assert entry.changes["currencies"] == [None, ["AMD", "GEL"]]


def test_importing_again_changes_only_the_days_that_differ(app) -> None:
    admin = user_with_role(Role.ADMIN)
    rates.import_rates("rates.csv", GOOD, actor=admin)
    again = GOOD.replace(b"2.9287", b"2.9300") + b"GEL,2026-03-04,2.93,NBG\n"
    result = rates.import_rates("rates.csv", again, actor=admin)
    assert (result.added, result.changed, result.unchanged) == (1, 1, 2)
    assert _count() == 4


def test_a_file_with_errors_imports_nothing_and_names_each_line(app) -> None:
    bad = (
        b"currency,date,eur_per_unit\n"
        b"GEL,2026-03-02,0.34\n"
        b"XYZ,2026-03-03,0.34\n"
        b"GEL,03/04/2026,0.34\n"
        b"GEL,2026-03-05,-1\n"
        b"GEL,2026-03-02,0.35\n"
        b"AMD,9999-01-01,nan\n"
    )
    with pytest.raises(rates.RatesRejected) as refused:
        rates.import_rates("rates.csv", bad, actor=user_with_role(Role.ADMIN))
    problems = [(e.line, e.column) for e in refused.value.rows]
    assert problems == [
        (3, "currency"),
        (4, "date"),
        (5, "eur_per_unit"),
        (6, "date"),
        (7, "date"),
        (7, "eur_per_unit"),
    ]
    assert "line 2" in refused.value.rows[3].message
    assert _count() == 0


@pytest.mark.parametrize(
    "content",
    [
        b"currency,date\nGEL,2026-03-02\n",
        b"currency,date,eur_per_unit,units_per_eur\nGEL,2026-03-02,1,1\n",
        b"currency,day,eur_per_unit\nGEL,2026-03-02,1\n",
        b"currency,date,eur_per_unit,\x00\nGEL,2026-03-02,1,x\n",
    ],
)
def test_a_file_without_the_columns_imports_nothing(app, content: bytes) -> None:
    with pytest.raises(rates.RatesRejected) as refused:
        rates.import_rates("rates.csv", content, actor=user_with_role(Role.ADMIN))
    assert {e.line for e in refused.value.rows} == {1}
    assert _count() == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe not utf-8", b"currency,date,eur_per_unit\n", b"x" * (5 * 1024 * 1024)],
)
def test_an_unreadable_file_is_refused_as_a_whole(app, content: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        rates.import_rates("rates.csv", content, actor=SystemActor("test"))
    assert "file" in refused.value.field_errors
    assert _count() == 0


def test_a_nul_byte_in_a_cell_is_refused_not_stored(app) -> None:
    content = b"currency,date,eur_per_unit,source\nGEL,2026-03-02,0.34,N\x00BG\n"
    with pytest.raises(rates.RatesRejected) as refused:
        rates.import_rates("rates.csv", content, actor=SystemActor("test"))
    assert [(e.line, e.column) for e in refused.value.rows] == [(2, "source")]


def test_the_extreme_plausible_rates_fit_the_column(app) -> None:
    admin = user_with_role(Role.ADMIN)
    dear = rates.record_rate("KWD", DAY, rates.MAX_RATE, actor=admin)
    cheap = rates.record_rate("IRR", DAY, rates.MAX_RATE, units_per_eur=True, actor=admin)
    db.session.flush()
    db.session.expire_all()
    assert (dear.eur_per_unit, cheap.eur_per_unit) == (rates.MAX_RATE, rates.MIN_RATE)
