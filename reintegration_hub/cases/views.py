"""Case pages: the list (case numbers only), registration, the case page (names), edit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from reintegration_hub.cases import services
from reintegration_hub.cases.drill import CaseDrill
from reintegration_hub.cases.forms import CaseForm as EditCaseForm
from reintegration_hub.cases.forms import ConsentForm, RegisterCaseForm, StatusForm
from reintegration_hub.cases.labels import (
    CLOSURE_LABELS,
    LEGAL_STATUS_LABELS,
    RELATION_LABELS,
    STATUS_LABELS,
)
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core import i18n
from reintegration_hub.core.authz import roles, sees_all_offices
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import error_summary, show_domain_error
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import query_int, query_page, query_text
from reintegration_hub.extensions import db
from reintegration_hub.monitoring import exports

bp = Blueprint("cases", __name__, url_prefix="/cases")

READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)
PAGE_SIZE = 25


@bp.app_context_processor
def case_labels() -> dict[str, Any]:
    return {
        "status_label": STATUS_LABELS.get,
        "status_labels": STATUS_LABELS,
        "closure_label": CLOSURE_LABELS.get,
        "legal_status_label": LEGAL_STATUS_LABELS.get,
        "sex_label": SEX_LABELS.get,
        "relation_label": RELATION_LABELS.get,
        "vulnerability_label": VULNERABILITY_LABELS.get,
    }


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    status = request.args.get("status", "")
    filters: dict[str, Any] = {
        "status": CaseStatus(status) if status in set(CaseStatus) else None,
        "return_country_code": query_text("country", max_length=2).upper() or None,
        "host_office_id": query_int("office_id"),
        "number": query_text("number", max_length=20) or None,
    }
    drill = CaseDrill.from_args(request.args)  # a monitoring figure's filters
    if (export := request.args.get("format")) in exports.FORMATS:  # the same cases, streamed
        return exports.case_list_export(
            export, filters, drill=None if drill.is_empty else drill, actor=current_user
        )
    page = services.list_cases(
        actor=current_user,
        page=query_page(),
        page_size=PAGE_SIZE,
        drill=None if drill.is_empty else drill,
        **filters,
    )
    return render_template(
        "cases/list.html",
        page=page,
        filters=filters,
        drill=drill,
        offices=services.host_offices() if sees_all_offices(current_user) else [],
        countries=i18n.country_choices(),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(Role.COUNSELLOR)
def register() -> Any:
    form = RegisterCaseForm()
    duplicates: list[services.DuplicateMatch] = []
    if form.validate_on_submit():
        try:
            case = services.register_case(
                form.case_details(),
                dependants=form.dependant_inputs(),
                vulnerabilities=form.vulnerability_notes(),
                consent=form.consent_input(),
                confirm_duplicate=bool(form.confirm_duplicate.data),
                actor=current_user,
            )
        except services.PossibleDuplicate as warning:
            duplicates = warning.matches
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("Case %(number)s is registered.", number=case.case_number), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    status = 409 if duplicates else (422 if form.errors else 200)
    return render_template("cases/form.html", form=form, case=None, duplicates=duplicates), status


@bp.get("/<int:case_id>")
@roles(*READERS)
def show(case_id: int) -> Any:
    case = services.view_case(case_id, actor=current_user)
    db.session.commit()  # the audited view
    targets = [t for t in services.ALLOWED_TRANSITIONS[case.status] if t in services.MANUAL_TARGETS]
    return render_template(
        "cases/case.html",
        case=case,
        days_left=services.days_to_deadline(case),
        deadline_near=services.deadline_is_near(case),
        status_form=StatusForm(formdata=None, targets=targets) if targets else None,
        consent_form=ConsentForm(formdata=None),
    )


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
@roles(Role.COUNSELLOR, Role.ADMIN)
def edit(case_id: int) -> Any:
    if request.method == "GET":  # the form shows names: an audited view of the case
        case = services.view_case(case_id, actor=current_user)
        db.session.commit()
    else:  # the change itself is audited
        case = services.get_case(case_id, actor=current_user)
    form = EditCaseForm.for_case(case)
    if form.validate_on_submit():
        try:
            services.update_case(
                case.id,
                form.case_details(),
                dependants=form.dependant_inputs(),
                vulnerabilities=form.vulnerability_notes(),
                actor=current_user,
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The case is saved."), "success")
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/form.html", form=form, case=case, duplicates=[]), (
        422 if form.errors else 200
    )


@bp.post("/<int:case_id>/status")
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
def change_status(case_id: int) -> Any:
    form = StatusForm()
    if form.validate_on_submit():
        services.change_case_status(
            case_id, form.target(), reason=form.closure_reason(), actor=current_user
        )
        db.session.commit()
        flash(_("The status is changed."), "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/<int:case_id>/consent")
@roles(Role.COUNSELLOR, Role.ADMIN)
def record_consent(case_id: int) -> Any:
    form = ConsentForm()
    if form.validate_on_submit():
        services.record_consent(case_id, form.consent_input(), actor=current_user)
        db.session.commit()
        flash(_("The consent is recorded."), "success")
    else:
        flash(error_summary(form), "danger")
    return redirect(url_for("cases.show", case_id=case_id))
