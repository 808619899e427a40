"""Money: integer minor units plus an ISO 4217 code; conversions record the rate they used."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import sqlalchemy as sa
from babel.numbers import get_currency_precision
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from reintegration_hub.core.db import Base, IdMixin, TimestampMixin
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.extensions import db

BASE_CURRENCY = "EUR"


class ExchangeRate(IdMixin, TimestampMixin, Base):
    """How many euros one unit of ``currency`` was worth from ``valid_on`` on."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        sa.UniqueConstraint("currency", "valid_on"),
        sa.CheckConstraint("eur_per_unit > 0", name="positive"),
    )

    currency: Mapped[str] = mapped_column(sa.String(3))
    valid_on: Mapped[dt.date]
    eur_per_unit: Mapped[Decimal] = mapped_column(sa.Numeric(18, 10))
    source: Mapped[str] = mapped_column(sa.String(120), default="")


def eur_per_unit(currency: str, on: dt.date) -> Decimal:
    """The rate in force for ``currency`` on ``on``; ``InvalidInput`` when none is recorded."""
    if currency == BASE_CURRENCY:
        return Decimal(1)
    rate = db.session.scalar(
        sa.select(ExchangeRate.eur_per_unit)
        .where(ExchangeRate.currency == currency, ExchangeRate.valid_on <= on)
        .order_by(ExchangeRate.valid_on.desc())
        .limit(1)
    )
    if rate is None:
        message = _l(
            "No exchange rate for %(currency)s on %(day)s or before is recorded: an "
            "administrator or programme manager enters it on the Exchange rates page "
            "(%(path)s).",
            currency=currency,
            day=on.isoformat(),
            path=current_app.url_map.bind("").build("programmes.rates"),
        )
        raise InvalidInput(message, field_errors={"currency": [message]})
    return Decimal(rate)


def to_eur_minor(amount_minor: int, currency: str, rate: Decimal) -> int:
    """``amount_minor`` of ``currency`` in euro cents at ``rate`` (banker's rounding)."""
    amount = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
    cents = (amount * rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(cents)
