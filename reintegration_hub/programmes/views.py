from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.programmes import services
from reintegration_hub.programmes.models import TargetIndicator

TARGET_LABELS = {
    TargetIndicator.RETURNS: _l("Returns"),
    TargetIndicator.REINTEGRATION: _l("Reintegration beneficiaries"),
    TargetIndicator.SHORT_STAYS: _l("Short stays before departure"),
    TargetIndicator.CAPACITY_EVENTS: _l("Capacity-building events"),
}

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


@bp.get("/grants")
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER)
def grants() -> Any:
    return render_template(
        "programmes/grants.html",
        grants=services.list_grants(actor=current_user),
        target_labels=TARGET_LABELS,
    )
