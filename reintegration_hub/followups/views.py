"""Work lists of due and overdue milestones; recording monitoring visits and surveys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from reintegration_hub.cases.services import get_case
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import services
from reintegration_hub.followups.forms import VisitForm, survey_answers, survey_form
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


def _plan_page(case_id: int) -> Any:
    return redirect(url_for("plans.plan", case_id=case_id) + "#follow-up")


@bp.route("/cases/<int:case_id>/visit", methods=["GET", "POST"])
@roles(*services.RECORDER_ROLES)
def record_visit(case_id: int) -> Any:
    case = get_case(case_id, actor=current_user)
    form = VisitForm()
    if form.validate_on_submit():
        try:
            services.record_visit(case.id, form.visit_input(), actor=current_user)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The visit is recorded."), "success")
            return _plan_page(case.id)
    return render_template("followups/visit.html", case=case, form=form), (
        422 if form.errors else 200
    )


@bp.route("/cases/<int:case_id>/survey", methods=["GET", "POST"])
@roles(*services.RECORDER_ROLES)
def record_survey(case_id: int) -> Any:
    case = get_case(case_id, actor=current_user)
    version = services.current_scoring_version()
    form = survey_form(version)
    if form.validate_on_submit():
        try:
            services.record_survey(
                case.id,
                form.taken_on.data,
                survey_answers(form, version),
                actor=current_user,
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The survey is recorded and scored."), "success")
            return _plan_page(case.id)
    return render_template("followups/survey.html", case=case, form=form, version=version), (
        422 if form.errors else 200
    )
