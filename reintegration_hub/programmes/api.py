"""``/api/v1/grants``: grants with co-financing and targets."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.programmes import services
from reintegration_hub.programmes.schemas import GrantSchema

bp = Blueprint("programmes_api", __name__, url_prefix="/grants", description="Grants")


@bp.get("")
@bp.response(200, GrantSchema(many=True))
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER)
def list_grants() -> Any:
    """Every grant with its co-financing split and targets."""
    return services.list_grants(actor=current_user)
