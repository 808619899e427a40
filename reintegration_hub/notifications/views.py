from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.outbox import OutboxStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.notifications import services
from reintegration_hub.notifications.forms import RetryForm

bp = Blueprint("notifications", __name__, url_prefix="/admin/notifications")

STATUS_LABELS = {
    OutboxStatus.QUEUED: _l("Queued"),
    OutboxStatus.SENT: _l("Sent"),
    OutboxStatus.FAILED: _l("Failed"),
}


@bp.get("")
@roles(Role.ADMIN)
def index() -> Any:
    return render_template(
        "notifications/index.html",
        counts=services.count_by_status(actor=current_user),
        failed=services.failed_messages(actor=current_user),
        recent=services.recent_messages(actor=current_user, limit=20),
        status_labels=STATUS_LABELS,
        retry_form=RetryForm(),
        prefect_ui_url=current_app.config["PREFECT_UI_URL"],
    )


@bp.post("/<int:message_id>/retry")
@roles(Role.ADMIN)
def retry(message_id: int) -> Any:
    if RetryForm().validate_on_submit():
        services.retry_failed(message_id, actor=current_user)
        db.session.commit()
        flash(_("The message is queued again; the next delivery run sends it."), "success")
    return redirect(url_for("notifications.index"))
