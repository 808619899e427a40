"""Delivery pages: a plan line's instalments and what is due, recording the next one, one
delivery and its certificate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import Refused, commit_or_roll_back
from reintegration_hub.core.web import attachment, query_page
from reintegration_hub.deliveries import services
from reintegration_hub.deliveries.forms import DeliveryForm
from reintegration_hub.extensions import db

bp = Blueprint("deliveries", __name__, url_prefix="/deliveries")

RECORDERS = (Role.CASE_MANAGER, Role.PARTNER, Role.ADMIN)
READERS = (*RECORDERS, Role.COUNSELLOR, Role.PROGRAMME_MANAGER)
PAGE_SIZE = 25


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    page = services.list_deliveries(actor=current_user, page=query_page(), page_size=PAGE_SIZE)
    return render_template("deliveries/list.html", page=page)


@bp.get("/lines/<int:line_id>")
@roles(*READERS)
def line(line_id: int) -> Any:
    state = services.line_state(line_id, actor=current_user)
    return render_template("deliveries/line.html", state=state)


@bp.route("/lines/<int:line_id>/new", methods=["GET", "POST"])
@roles(*RECORDERS)
def record(line_id: int) -> Any:
    state = services.recording_state(line_id, actor=current_user)
    form = DeliveryForm(progress=state.progress)
    if state.refusal is None and form.validate_on_submit():
        delivery = commit_or_roll_back(
            lambda: services.record_delivery(
                line_id, form.delivery_input(), form.certificate_upload(), actor=current_user
            )
        )
        if not isinstance(delivery, Refused):
            flash(_("The delivery is recorded."), "success")
            return redirect(url_for("deliveries.delivery", delivery_id=delivery.id))
        form.show_error(delivery.error)
        state = services.recording_state(line_id, actor=current_user)  # what refused it
    failed = form.is_submitted() and (state.refusal is not None or bool(form.errors))
    status = (409 if state.refusal is not None else 422) if failed else 200
    return render_template("deliveries/form.html", form=form, state=state), status


@bp.get("/<int:delivery_id>")
@roles(*READERS)
def delivery(delivery_id: int) -> Any:
    return render_template(
        "deliveries/delivery.html",
        delivery=services.get_delivery(delivery_id, actor=current_user),
    )


@bp.get("/<int:delivery_id>/certificate")
@roles(*READERS)
def certificate(delivery_id: int) -> Any:
    delivery, path = services.certificate_file(delivery_id, actor=current_user)
    db.session.commit()  # the audited download
    return attachment(path, mimetype=delivery.certificate_type, name=delivery.certificate_name)


@bp.app_context_processor
def delivery_progress() -> dict[str, Any]:
    """For pages of other areas that show what is due of a line (the referral inbox)."""
    return {"referral_deliveries": services.progress_by_referral}
