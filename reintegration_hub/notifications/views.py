from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.core.authz import roles, signed_in
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.inbox import is_app_path
from reintegration_hub.core.outbox import OutboxStatus
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import (
    Refused,
    commit_or_roll_back,
    submit_flashed,
    submit_form,
)
from reintegration_hub.core.web import query_page
from reintegration_hub.extensions import db
from reintegration_hub.notifications import inbox, services
from reintegration_hub.notifications.forms import (
    MarkReadForm,
    RetryForm,
    choices_form,
    field_name,
)

# the administrators' e-mail delivery under /admin/notifications; each user's inbox and e-mail
# choices under /inbox and /account/notifications
bp = Blueprint("notifications", __name__)

STATUS_LABELS = {
    OutboxStatus.QUEUED: _l("Queued"),
    OutboxStatus.SENT: _l("Sent"),
    OutboxStatus.FAILED: _l("Failed"),
    OutboxStatus.WITHDRAWN: _l("Withdrawn"),
}


@bp.get("/admin/notifications")
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


@bp.post("/admin/notifications/<int:message_id>/retry")
@roles(Role.ADMIN)
def retry(message_id: int) -> Any:
    if RetryForm().validate_on_submit():
        services.retry_failed(message_id, actor=current_user)
        db.session.commit()
        flash(_("The message is queued again; the next delivery run sends it."), "success")
    return redirect(url_for("notifications.index"))


# --- each user's inbox ---------------------------------------------------------------------


@bp.get("/inbox")
@signed_in
def inbox_page() -> Any:
    return render_template(
        "notifications/inbox.html",
        page=inbox.inbox_page(
            actor=current_user,
            page=query_page(),
            per_page=int(current_app.config["PAGE_SIZE"]),
        ),
        form=MarkReadForm(formdata=None),
    )


@bp.get("/inbox/<int:notice_id>")
@signed_in
def open_notice(notice_id: int) -> Any:
    """Follow a notice's link: it is read once opened."""
    notice = commit_or_roll_back(
        lambda: inbox.mark_read(notice_id, actor=current_user), passes=(DomainError,)
    )
    assert not isinstance(notice, Refused)
    if notice.link and is_app_path(notice.link):
        return redirect(request.script_root + notice.link)
    return redirect(url_for("notifications.inbox_page"))


@bp.post("/inbox/<int:notice_id>/read")
@signed_in
def mark_read(notice_id: int) -> Any:
    inbox.get_notice(notice_id, actor=current_user)  # another user's: 404, as if none
    return submit_flashed(
        MarkReadForm(),
        lambda: inbox.mark_read(notice_id, actor=current_user),
        back=_back(),
        done=_("Marked read."),
    )


@bp.post("/inbox/read")
@signed_in
def mark_all_read() -> Any:
    return submit_flashed(
        MarkReadForm(),
        lambda: inbox.mark_all_read(actor=current_user),
        back=_back(),
        done=_("Every notification is marked read."),
    )


def _back() -> str:
    """The inbox page the button was on (``?page=``)."""
    return url_for("notifications.inbox_page", page=query_page())


@bp.route("/account/notifications", methods=["GET", "POST"])
@signed_in
def email_choices() -> Any:
    kinds = inbox.kinds_for(current_user)
    form = choices_form(kinds, inbox.email_choices(actor=current_user))
    return submit_form(
        form,
        lambda: inbox.set_email_choices(form.chosen(kinds), actor=current_user),
        done=_("Your e-mail choices are saved."),
        then=url_for("notifications.email_choices"),
        page=lambda: render_template(
            "notifications/email_choices.html", form=form, kinds=kinds, field_name=field_name
        ),
    )
