"""Work lists of due and overdue milestones; recording monitoring visits and surveys; the
administrators' milestone templates and scoring versions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm

from reintegration_hub.cases.services import get_case
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import query_int, query_page
from reintegration_hub.extensions import db
from reintegration_hub.followups import services
from reintegration_hub.followups.forms import (
    NewStepForm,
    NewTemplateForm,
    ScoringForm,
    StepForm,
    TemplateForm,
    VisitForm,
    survey_answers,
    survey_form,
)
from reintegration_hub.followups.labels import (
    FLAG_LABELS,
    KIND_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
)
from reintegration_hub.followups.models import MilestoneKind, Responsible
from reintegration_hub.monitoring import exports

bp = Blueprint("followups", __name__, url_prefix="/follow-up")


def _enum(enum_cls: Any, value: str | None) -> Any:
    return enum_cls(value) if value in {member.value for member in enum_cls} else None


@bp.get("/")
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER, Role.PROGRAMME_MANAGER, Role.ADMIN)
def index() -> Any:
    filters = services.WorkListFilters(
        office_id=query_int("office_id"),
        responsible=_enum(Responsible, request.args.get("responsible")),
        kind=_enum(MilestoneKind, request.args.get("kind")),
        overdue_only=request.args.get("overdue") == "1",
    )
    if (export := request.args.get("format")) in exports.FORMATS:  # the same list, streamed
        return exports.work_list_export(export, asdict(filters), actor=current_user)
    page = services.work_list(filters, actor=current_user, page=query_page())
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


@bp.post("/plans/<int:plan_id>/recheck")
@roles(*services.RECHECK_ROLES)
def recheck_plan(plan_id: int) -> Any:
    """ "Re-check now": the sweep for this one plan, in this request (one small transaction;
    the ``track_plan`` flow runs the same service: a page never starts a flow)."""
    if not FlaskForm().validate_on_submit():
        return redirect(request.referrer or url_for("followups.index"))
    counts = services.recheck_plan(plan_id, actor=current_user)
    case_id = services.plan_case_id(plan_id)
    db.session.commit()
    changed = counts.as_dict()
    if any(changed.values()):
        flash(
            _(
                "Checked: %(due)d due, %(overdue)d overdue, %(escalated)d escalated, "
                "%(messages)d e-mails queued.",
                due=changed["due"],
                overdue=changed["overdue"],
                escalated=changed["escalated"],
                messages=changed["messages"],
            ),
            "success",
        )
    else:
        flash(_("Checked: nothing has changed since the last check."), "info")
    return _plan_page(case_id)


# --- milestone templates (administrators) ----------------------------------------------------


def _show_errors(form: Any, error: DomainError) -> None:
    """The refusal next to the fields it names; what names no field of ``form`` above it."""
    show_domain_error(form, error)
    unplaced = [name for name in error.field_errors if getattr(form, name, None) is None]
    if unplaced:
        form.form_errors.extend(str(m) for name in unplaced for m in error.field_errors[name])


@bp.get("/templates")
@roles(Role.ADMIN)
def templates() -> Any:
    rows, grants = services.milestone_templates(actor=current_user)
    form = NewTemplateForm(formdata=None)
    form.grant_id.choices = [(grant.id, f"{grant.number} · {grant.title}") for grant in grants]
    return render_template("followups/templates.html", rows=rows, form=form)


@bp.post("/templates")
@roles(Role.ADMIN)
def create_template() -> Any:
    form = NewTemplateForm()
    _rows, grants = services.milestone_templates(actor=current_user)
    form.grant_id.choices = [(grant.id, grant.number) for grant in grants]
    if not form.validate_on_submit():
        flash(_("Choose a grant without a template of its own."), "danger")
        return redirect(url_for("followups.templates"))
    template = services.create_grant_template(form.grant_id.data, actor=current_user)
    db.session.commit()
    flash(_("The grant has its own template now, a copy of the default one."), "success")
    return redirect(url_for("followups.template", template_id=template.id))


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def template(template_id: int) -> Any:
    template = services.get_template(template_id, actor=current_user)
    form = TemplateForm(obj=template)
    if form.validate_on_submit():
        try:
            services.update_template(
                template.id,
                name=form.name.data or "",
                grace_days=int(form.grace_days.data or 0),
                actor=current_user,
            )
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
            template = services.get_template(template_id, actor=current_user)
        else:
            db.session.commit()
            flash(_("The template is saved."), "success")
            return redirect(url_for("followups.template", template_id=template.id))
    return render_template(
        "followups/template.html",
        template=template,
        form=form,
        remove_form=FlaskForm(formdata=None),
        steps_by_key={step.key: step for step in template.steps},
        kind_labels=KIND_LABELS,
        responsible_labels=RESPONSIBLE_LABELS,
    ), (422 if form.errors or form.form_errors else 200)


def _step_page(template_id: int, step_id: int | None) -> Any:
    template = services.get_template(template_id, actor=current_user)
    step = services.template_step(template, step_id) if step_id is not None else None
    form: StepForm = StepForm(obj=step) if step is not None else NewStepForm()
    form.after_step.choices = [("", _("The return date"))] + [
        (other.key, other.name) for other in template.steps if other is not step
    ]
    if step is not None and request.method == "GET":
        form.after_step.data = step.after_step or ""
    if form.validate_on_submit():
        try:
            if step is None:
                services.add_step(
                    template.id, form.step_input(key=form.key.data or ""), actor=current_user
                )
            else:
                services.update_step(template.id, step.id, form.step_input(), actor=current_user)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(_("The step is saved."), "success")
            return redirect(url_for("followups.template", template_id=template.id))
    return render_template("followups/step.html", template=template, step=step, form=form), (
        422 if form.errors or form.form_errors else 200
    )


@bp.route("/templates/<int:template_id>/steps/new", methods=["GET", "POST"])
@roles(Role.ADMIN)
def new_step(template_id: int) -> Any:
    return _step_page(template_id, None)


@bp.route("/templates/<int:template_id>/steps/<int:step_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_step(template_id: int, step_id: int) -> Any:
    return _step_page(template_id, step_id)


@bp.post("/templates/<int:template_id>/steps/<int:step_id>/remove")
@roles(Role.ADMIN)
def remove_step(template_id: int, step_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        services.remove_step(template_id, step_id, actor=current_user)
        db.session.commit()
        flash(_("The step is removed."), "success")
    return redirect(url_for("followups.template", template_id=template_id))


# --- scoring versions (administrators) -------------------------------------------------------


def _rescored(count: int) -> str:
    return ngettext(
        "%(num)d stored survey was scored again.",
        "%(num)d stored surveys were scored again.",
        count,
    )


def _scoring_page(form: ScoringForm, status: int = 200) -> Any:
    return render_template(
        "followups/scoring.html",
        rows=services.scoring_versions(actor=current_user),
        form=form,
        rescore_form=FlaskForm(formdata=None),
        flag_labels=FLAG_LABELS,
    ), status


@bp.get("/scoring")
@roles(Role.ADMIN)
def scoring() -> Any:
    form = ScoringForm(formdata=None)
    form.fill_from(services.current_scoring_version())
    return _scoring_page(form)


@bp.post("/scoring")
@roles(Role.ADMIN)
def load_scoring() -> Any:
    form = ScoringForm()
    if form.validate_on_submit():
        try:
            version = services.load_scoring_version(**form.version_input(), actor=current_user)
            rescored = (
                services.rescore_surveys(version.id, actor=current_user)
                if form.rescore.data
                else None
            )
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            flash(_("Version %(num)d is in force.", num=version.version), "success")
            if rescored is not None:
                flash(_rescored(rescored), "success")
            return redirect(url_for("followups.scoring"))
    return _scoring_page(form, 422)


@bp.post("/scoring/<int:version_id>/rescore")
@roles(Role.ADMIN)
def rescore(version_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        rescored = services.rescore_surveys(version_id, actor=current_user)
        db.session.commit()
        flash(_rescored(rescored), "success")
    return redirect(url_for("followups.scoring"))
