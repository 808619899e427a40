from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user

from reintegration_hub.audit import services
from reintegration_hub.audit.forms import AuditFilterForm
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import query_int

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE = 50


@bp.get("")
@roles(Role.ADMIN)
def index() -> Any:
    form = AuditFilterForm(request.args)
    filters = form.data if form.validate() else {}
    rows = services.search_audit(
        actor=current_user,
        actor_id=filters.get("actor_id"),
        action=filters.get("action"),
        object_type=filters.get("object_type"),
        object_id=filters.get("object_id"),
        since=filters.get("since"),
        until=filters.get("until"),
        before_id=query_int("before_id"),
        limit=PAGE,
    )
    next_args = {k: v for k, v in request.args.items() if k != "before_id"}
    if len(rows) == PAGE:
        next_args["before_id"] = str(rows[-1][0].id)
    return render_template(
        "audit/index.html", form=form, rows=rows, next_args=next_args, has_more=len(rows) == PAGE
    )
