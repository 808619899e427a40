"""A delivery: one plan line handed over, with what was paid, the invoice and the certificate.

The handover certificate is a file kept outside the web root (``CERTIFICATE_DIR``) under a
random name; only its checked type, size and SHA-256 are in the database, and it is served
only through a scoped view.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.auth.models import User
from reintegration_hub.core.db import Base, IdMixin, now_utc
from reintegration_hub.core.validation import MONEY, accepts
from reintegration_hub.plans.models import PlanLine


class Delivery(IdMixin, Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        sa.Index("ix_deliveries_delivered_on", "delivered_on"),
    )

    plan_line_id: Mapped[int] = mapped_column(
        sa.ForeignKey("plan_lines.id", ondelete="CASCADE"), unique=True
    )
    delivered_on: Mapped[dt.date]
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger, info=accepts(MONEY))
    currency: Mapped[str] = mapped_column(sa.String(3))
    eur_rate: Mapped[Decimal] = mapped_column(sa.Numeric(18, 10))
    amount_eur_minor: Mapped[int] = mapped_column(sa.BigInteger)
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
