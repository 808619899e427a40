"""A delivered plan line and its feedback request, through the real recording service."""

from __future__ import annotations

import sqlalchemy as sa

from reintegration_hub.deliveries.services import record_delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackRequest
from reintegration_hub.feedback.services import Invitation, invitation
from tests.deliveries.helpers import World, build_world, delivery_input, upload


def delivered(world: World | None = None, *, languages: list[str] | None = None) -> Invitation:
    """The world's line delivered whole (2 units, 500 GEL) by its case manager, and the
    feedback request that wrote."""
    world = world or build_world()
    if languages is not None:
        world.case.languages = languages
    delivery = record_delivery(
        world.line.id,
        delivery_input(amount_minor=50000, quantity=2),
        upload(),
        actor=world.case_manager,
    )
    request = db.session.scalars(
        sa.select(FeedbackRequest).where(FeedbackRequest.delivery_id == delivery.id)
    ).one()
    return invitation(request)


def code_of(link: str) -> str:
    return link.rsplit("/f/", 1)[1]
