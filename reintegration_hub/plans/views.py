"""Plan pages: the plan of a case (lines, cap, review, history), the option picker, the queue."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from partners.forms import SearchForm
from partners.labels import CATEGORY_LABELS, DECLINE_REASON_LABELS, REFERRAL_STATUS_LABELS
from partners.search import query_from_params, search_options
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import error_summary, show_domain_error
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import query_page
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import (
    FLAG_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
    VISIT_MODE_LABELS,
)
from reintegration_hub.followups.services import plan_timeline
from reintegration_hub.plans import services
from reintegration_hub.plans.forms import AddLineForm, LineForm, ReviewForm, SubmitForm
from reintegration_hub.plans.labels import ACTION_LABELS, PLAN_STATUS_LABELS
from reintegration_hub.plans.models import EDITABLE_STATUSES, Plan, PlanStatus

bp = Blueprint("plans", __name__)

READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.PROGRAMME_MANAGER, Role.ADMIN)
BUILDERS = tuple(services.BUILDER_ROLES)
REVIEWERS = tuple(services.REVIEWER_ROLES | services.APPROVER_ROLES)


@bp.app_context_processor
def plan_labels() -> dict[str, Any]:
    return {
        "plan_status_label": PLAN_STATUS_LABELS.get,
        "plan_action_label": ACTION_LABELS.get,
        "referral_status_label": REFERRAL_STATUS_LABELS.get,
        "decline_reason_label": DECLINE_REASON_LABELS.get,
        "milestone_status_label": MILESTONE_STATUS_LABELS.get,
        "responsible_label": RESPONSIBLE_LABELS.get,
        "visit_mode_label": VISIT_MODE_LABELS.get,
        "flag_label": FLAG_LABELS.get,
    }


def _page(case_id: int, status: int = 200, **forms: FlaskForm) -> Any:
    """The plan page; ``forms`` replace the blank ones (a refused form keeps its input)."""
    plan = services.plan_for_case(case_id, actor=current_user)
    context: dict[str, Any] = {"case": services.get_case(case_id, actor=current_user), "plan": plan}
    if plan is not None:
        context |= {
            "cap": services.family_cap(plan.returnee),
            "waitlist": services.waitlist_positions(plan),
            "deliveries": services.deliveries_by_line(plan),
            "revisions": services.revisions(plan.id, actor=current_user),
            "timeline": plan_timeline(plan.id, case_id),
            "recheck_form": FlaskForm(formdata=None),
            "editable": plan.status in EDITABLE_STATUSES,
            "line_forms": {
                line.id: LineForm(formdata=None, obj=line, prefix=f"line-{line.id}")
                for line in plan.lines
            },
            "submit_form": forms.get("submit_form") or SubmitForm(formdata=None),
            "review_form": forms.get("review_form") or ReviewForm(formdata=None),
        }
    return render_template("plans/plan.html", **context), status


@bp.get("/cases/<int:case_id>/plan")
@roles(*READERS)
def plan(case_id: int) -> Any:
    return _page(case_id)


@bp.post("/cases/<int:case_id>/plan")
@roles(*BUILDERS)
def start(case_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        services.start_plan(case_id, actor=current_user)
        db.session.commit()
    return redirect(url_for("plans.plan", case_id=case_id))


@bp.get("/cases/<int:case_id>/plan/options")
@roles(*BUILDERS)
def options(case_id: int) -> Any:
    plan = services.plan_for_case(case_id, actor=current_user)
    if plan is None or plan.status not in EDITABLE_STATUSES:
        return redirect(url_for("plans.plan", case_id=case_id))
    form = SearchForm(request.args)
    result = None
    if form.validate():
        params = {**form.data, "eligible_only": form.eligible_only.data == "1"}
        query = query_from_params(params, display_language=str(get_locale() or "en"))
        case = plan.returnee
        query = dataclasses.replace(
            query,
            country_code=case.return_country_code,
            profile=services.returnee_profile(case),
        )
        result = search_options(query, actor=current_user)
    return render_template(
        "plans/options.html",
        case=plan.returnee,
        plan=plan,
        form=form,
        result=result,
        chosen={line.option_id for line in plan.lines},
        add_form=AddLineForm(formdata=None),
        category_labels=CATEGORY_LABELS,
        search_url=lambda **changes: url_for(
            "plans.options", case_id=case_id, **{**request.args.to_dict(), **changes}
        ),
    ), (200 if result is not None else 422)


def _plan_or_404(plan_id: int) -> Plan:
    return services.get_plan(plan_id, actor=current_user)


@bp.post("/plans/<int:plan_id>/lines")
@roles(*BUILDERS)
def add_line(plan_id: int) -> Any:
    plan = _plan_or_404(plan_id)
    form = AddLineForm()
    if not form.validate_on_submit():
        flash(error_summary(form), "danger")
        return redirect(request.referrer or url_for("plans.options", case_id=plan.returnee_id))
    try:
        services.add_line(
            plan.id,
            int(form.option_id.data or 0),
            quantity=form.quantity.data or 0,
            notes=form.notes.data or "",
            actor=current_user,
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "danger")
        return redirect(request.referrer or url_for("plans.options", case_id=plan.returnee_id))
    db.session.commit()
    flash(_("The option is added to the plan."), "success")
    return redirect(url_for("plans.plan", case_id=plan.returnee_id))


@bp.post("/plans/lines/<int:line_id>")
@roles(*BUILDERS)
def update_line(line_id: int) -> Any:
    form = LineForm(prefix=f"line-{line_id}")
    case_id = services.case_id_of_line(line_id, actor=current_user)
    if form.validate_on_submit():
        try:
            services.update_line(
                line_id,
                quantity=form.quantity.data or 0,
                notes=form.notes.data or "",
                actor=current_user,
            )
        except DomainError as error:
            db.session.rollback()
            flash(str(error.message), "danger")
        else:
            db.session.commit()
            flash(_("The line is saved."), "success")
    else:
        flash(error_summary(form), "danger")
    return redirect(url_for("plans.plan", case_id=case_id))


@bp.post("/plans/lines/<int:line_id>/remove")
@roles(*BUILDERS)
def remove_line(line_id: int) -> Any:
    case_id = services.case_id_of_line(line_id, actor=current_user)
    if FlaskForm().validate_on_submit():
        services.remove_line(line_id, actor=current_user)
        db.session.commit()
        flash(_("The line is removed."), "success")
    return redirect(url_for("plans.plan", case_id=case_id))


@bp.post("/plans/<int:plan_id>/submit")
@roles(*BUILDERS)
def submit(plan_id: int) -> Any:
    plan = _plan_or_404(plan_id)
    form = SubmitForm()
    if form.validate_on_submit():
        try:
            services.submit_plan(
                plan.id, justification=form.justification.data or "", actor=current_user
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The plan is sent to the origin office."), "success")
            return redirect(url_for("plans.plan", case_id=plan.returnee_id))
    return _page(plan.returnee_id, 422, submit_form=form)


REVIEW_DONE = {
    "return": _l("The plan is returned to the counsellor."),
    "confirm": _l("Feasibility is confirmed."),
    "approve": _l("The plan is approved and the partners are referred."),
}


@bp.post("/plans/<int:plan_id>/<any(return, confirm, approve):step>")
@roles(*REVIEWERS)
def review(plan_id: int, step: str) -> Any:
    plan = _plan_or_404(plan_id)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.REVIEW_STEPS[step](
                plan.id, comment=form.comment.data or "", actor=current_user
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(str(REVIEW_DONE[step]), "success")
            return redirect(url_for("plans.plan", case_id=plan.returnee_id))
    return _page(plan.returnee_id, 422, review_form=form)


@bp.get("/plans/review")
@roles(*REVIEWERS)
def queue() -> Any:
    """The plans waiting for this user: submitted ones for case managers, feasible ones for
    programme managers (administrators see both)."""
    waiting = services.review_queue(actor=current_user, page=query_page())
    return render_template("plans/queue.html", page=waiting, PlanStatus=PlanStatus)
