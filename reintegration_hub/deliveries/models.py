"""A delivery: one instalment of a plan line handed over, with what was paid, the invoice and
the certificate.

A line is delivered in one or more instalments, numbered from 1 per line; together they never
exceed the line's planned quantity and amount. ``amount_line_minor`` is what an instalment
counts against the line's planned amount (in the line's currency, whatever it was paid in);
the instalment that completes the line is its ``final`` one (at most one per line, an index
says so on both databases, as the numbering does for two racing instalments).

The handover certificate is a file kept outside the web root (``CERTIFICATE_DIR``) under a
random name; only its checked type, size and SHA-256 are in the database, and it is served
only through a scoped view.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.auth.models import User
from reintegration_hub.core.db import Base, IdMixin, now_utc
from reintegration_hub.core.sql import partial_index
from reintegration_hub.core.validation import MONEY, accepts
from reintegration_hub.plans.models import PlanLine


def _paid_amount(context: Any) -> int:
    return int(context.get_current_parameters()["amount_minor"])


class Delivery(IdMixin, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        sa.CheckConstraint("instalment >= 1", name="instalment_positive"),
        sa.UniqueConstraint("plan_line_id", "instalment"),
        partial_index("uq_deliveries_final_line", "plan_line_id", where="final", unique=True),
        sa.Index("ix_deliveries_delivered_on", "delivered_on"),
    )

    plan_line_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_lines.id", ondelete="CASCADE"))
    # 1, 2, ... per line; a row written without them is its line's whole delivery
    instalment: Mapped[int] = mapped_column(default=1)
    final: Mapped[bool] = mapped_column(default=True)  # this instalment completed the line
    delivered_on: Mapped[dt.date]
    quantity: Mapped[int] = mapped_column(default=0)  # units of the line handed over
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    currency: Mapped[str] = mapped_column(sa.String(3))
    eur_rate: Mapped[Decimal] = mapped_column(sa.Numeric(18, 10))
    amount_eur_minor: Mapped[int] = mapped_column(sa.BigInteger)
    # what it counts against the line's amount, in the line's currency (given the line's
    # currency, by default)
    amount_line_minor: Mapped[int] = mapped_column(sa.BigInteger, default=_paid_amount)
    invoice_number: Mapped[str] = mapped_column(sa.String(64), default="")
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    certificate_key: Mapped[str] = mapped_column(sa.String(64), unique=True)  # file name on disk
    certificate_name: Mapped[str] = mapped_column(sa.String(200))  # as uploaded, for download
    certificate_type: Mapped[str] = mapped_column(sa.String(40))  # detected from the content
    certificate_size: Mapped[int]
    certificate_sha256: Mapped[str] = mapped_column(sa.String(64))
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    plan_line: Mapped[PlanLine] = relationship()
    recorded_by: Mapped[User | None] = relationship()
