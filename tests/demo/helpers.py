"""What the demo tests look up in the demo world."""

from __future__ import annotations

import sqlalchemy as sa

from partners.models import SupportOption, SupportOptionLocation
from reintegration_hub.extensions import db


def kutaisi_course() -> SupportOption | None:
    """The demo's vocational course in Kutaisi (it suits a single mother of two)."""
    course: SupportOption | None = db.session.scalars(
        sa.select(SupportOption)
        .join(SupportOptionLocation)
        .where(
            SupportOptionLocation.city == "Kutaisi",
            SupportOption.category == "vocational_training",
        )
        .order_by(SupportOption.id)
    ).first()
    return course
