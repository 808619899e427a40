"""Work lists: each user's due and overdue milestones."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.followups import services
from reintegration_hub.followups.labels import (
    KIND_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
)
from reintegration_hub.followups.models import MilestoneKind, Responsible

bp = Blueprint("followups", __name__, url_prefix="/follow-up")


def _enum(enum_cls: Any, value: str | None) -> Any:
    return enum_cls(value) if value in {member.value for member in enum_cls} else None


@bp.get("/")
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER, Role.PROGRAMME_MANAGER, Role.ADMIN)
def index() -> Any:
    filters = services.WorkListFilters(
        office_id=request.args.get("office_id", type=int),
        responsible=_enum(Responsible, request.args.get("responsible")),
        kind=_enum(MilestoneKind, request.args.get("kind")),
        overdue_only=request.args.get("overdue") == "1",
    )
    page = services.work_list(
        filters, actor=current_user, page=request.args.get("page", 1, type=int)
    )
    return render_template(
        "followups/index.html",
        page=page,
        filters=filters,
        offices=services.offices_with_milestones(actor=current_user),
        kind_labels=KIND_LABELS,
        responsible_labels=RESPONSIBLE_LABELS,
        status_labels=MILESTONE_STATUS_LABELS,
    )
