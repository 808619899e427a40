from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import query_int
from reintegration_hub.operations import services
from reintegration_hub.operations.forms import FlowRunFilterForm
from reintegration_hub.operations.models import FlowRunState

bp = Blueprint("operations", __name__, url_prefix="/admin/flow-runs")
PAGE = 50

STATE_LABELS = {
    FlowRunState.RUNNING: _l("Running"),
    FlowRunState.SUCCEEDED: _l("Succeeded"),
    FlowRunState.FAILED: _l("Failed"),
}


@bp.get("")
@roles(Role.ADMIN)
def index() -> Any:
    """Recent runs of the engine's flows, from the application database (never Prefect)."""
    form = FlowRunFilterForm(request.args)
    names = services.flow_names(actor=current_user)
    form.flow.choices = [("", _l("All flows")), *((name, name) for name in names)]
    form.state.choices = [
        ("", _l("All states")),
        *((s.value, STATE_LABELS[s]) for s in STATE_LABELS),
    ]
    valid = form.validate()
    runs = services.recent_flow_runs(
        actor=current_user,
        flow_name=(form.flow.data or None) if valid else None,
        state=FlowRunState(form.state.data) if valid and form.state.data else None,
        before_id=query_int("before_id"),
        limit=PAGE,
    )
    next_args = {k: v for k, v in request.args.items() if k != "before_id"}
    if len(runs) == PAGE:
        next_args["before_id"] = str(runs[-1].id)
    return render_template(
        "operations/flow_runs.html",
        form=form,
        runs=runs,
        last_runs=services.last_runs(actor=current_user),
        state_labels=STATE_LABELS,
        next_args=next_args,
        has_more=len(runs) == PAGE,
        prefect_ui_url=current_app.config["PREFECT_UI_URL"],
    )
