"""Plan pages: the plan of a case (lines, cap, review, amendments, history), its printout for
the returnee to sign, the option picker (to add support or to replace a line), the review
queue."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from partners.forms import SearchForm
from partners.labels import CATEGORY_LABELS, DECLINE_REASON_LABELS, REFERRAL_STATUS_LABELS
from partners.search import query_from_params, search_options
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.cases.services import get_case
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import submit_flashed, submit_form
from reintegration_hub.core.web import query_links, query_page
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import (
    FLAG_LABELS,
    MILESTONE_STATUS_LABELS,
    RESPONSIBLE_LABELS,
    VISIT_MODE_LABELS,
)
from reintegration_hub.followups.timeline import plan_timeline
from reintegration_hub.plans import amendments, printout, services
from reintegration_hub.plans.forms import (
    AddLineForm,
    AmendmentForm,
    LineForm,
    ReplaceForm,
    ReviewForm,
    SubmitForm,
    TakeOutForm,
    VersionedForm,
)
from reintegration_hub.plans.labels import (
    ACTION_LABELS,
    AMENDMENT_STATUS_LABELS,
    LINE_STATUS_LABELS,
    PLAN_STATUS_LABELS,
)
from reintegration_hub.plans.models import EDITABLE_STATUSES, Plan, PlanLine, PlanStatus

bp = Blueprint("plans", __name__)

READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.PROGRAMME_MANAGER, Role.ADMIN)
BUILDERS = tuple(services.BUILDER_ROLES)
REVIEWERS = tuple(services.REVIEWER_ROLES | services.APPROVER_ROLES)


@bp.app_context_processor
def plan_labels() -> dict[str, Any]:
    return {
        "plan_status_label": PLAN_STATUS_LABELS.get,
        "plan_action_label": ACTION_LABELS.get,
        "line_status_label": LINE_STATUS_LABELS.get,
        "amendment_status_label": AMENDMENT_STATUS_LABELS.get,
        "referral_status_label": REFERRAL_STATUS_LABELS.get,
        "decline_reason_label": DECLINE_REASON_LABELS.get,
        "milestone_status_label": MILESTONE_STATUS_LABELS.get,
        "responsible_label": RESPONSIBLE_LABELS.get,
        "visit_mode_label": VISIT_MODE_LABELS.get,
        "flag_label": FLAG_LABELS.get,
    }


def _page(case_id: int, status: int = 200, **forms: FlaskForm) -> Any:
    """The plan page, its read audited; ``forms`` replace the blank ones (a refused form keeps
    its input)."""
    plan = services.view_plan(case_id, actor=current_user)
    case = plan.returnee if plan is not None else get_case(case_id, actor=current_user)
    context: dict[str, Any] = {"case": case, "plan": plan}
    if plan is not None:
        amendment = plan.open_amendment
        version = {"version": plan.version}
        context |= {
            "cap": services.family_cap(plan.returnee),
            "waitlist": services.waitlist_positions(plan),
            "deliveries": services.deliveries_by_line(plan),
            "revisions": services.revisions(plan, actor=current_user),
            "timeline": plan_timeline(plan.id, case_id),
            "recheck_form": FlaskForm(formdata=None),
            "editable": plan.status in EDITABLE_STATUSES,
            "amendable": _amendable(plan),
            "amendment": amendment,
            "changes": amendments.pending_changes(plan),
            "replacements": amendments.replacements(plan),
            "proposed_total": amendments.proposed_total(plan, amendment) if amendment else None,
            "needs_approval": amendments.needs_approval(plan, amendment) if amendment else None,
            "line_forms": {
                line.id: LineForm(formdata=None, obj=line, prefix=f"line-{line.id}", **version)
                for line in plan.lines
            },
            "version_form": VersionedForm(formdata=None, **version),
            "take_out_form": TakeOutForm(formdata=None, **version),
        }
        blank = {"amendment_form": AmendmentForm, "submit_form": SubmitForm}
        for name, form_class in {**blank, "review_form": ReviewForm}.items():
            context[name] = forms.get(name) or form_class(formdata=None, **version)
    page = render_template("plans/plan.html", **context)
    db.session.commit()  # the audited read, once the page has what it shows
    return page, status


def _amendable(plan: Plan) -> bool:
    """Whether the counsellor may propose changes of the approved plan now."""
    amendment = plan.open_amendment
    return (
        plan.status == PlanStatus.APPROVED
        and plan.returnee.status != CaseStatus.CLOSED
        and (amendment is None or amendment.editable)
    )


@bp.get("/cases/<int:case_id>/plan")
@roles(*READERS)
def plan(case_id: int) -> Any:
    return _page(case_id)


@bp.get("/cases/<int:case_id>/plan/print")
@roles(*READERS)
def print_plan(case_id: int) -> Any:
    """The plan to print or save as PDF for the returnee's and the counsellor's signatures, in
    the returnee's language where the catalogue has it (``?lang=`` chooses another)."""
    languages = current_app.config["LANGUAGES"]
    found = printout.printout(
        case_id, languages=languages, asked=request.args.get("lang"), actor=current_user
    )
    db.session.commit()
    case = found.plan.returnee
    with force_locale(found.language):
        return render_template(
            "plans/print.html",
            printout=found,
            plan=found.plan,
            case=case,
            cap=services.family_cap(case),
            languages=languages,
            text_of=lambda option: printout.option_text(option, case, found.language),
        )


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
    """The marketplace from the plan: to add support (to a draft, or proposed in an
    amendment of the approved plan) or, with ``replace=<line id>``, to replace a line."""
    plan = services.plan_for_case(case_id, actor=current_user)
    if plan is None:
        return redirect(url_for("plans.plan", case_id=case_id))
    if plan.status not in EDITABLE_STATUSES and not _amendable(plan):
        flash(_("The plan cannot change now: it is under review, or its amendment is."), "warning")
        return redirect(url_for("plans.plan", case_id=case_id))
    replacing = _line_to_replace(plan, request.args.get("replace", type=int))
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
        chosen={line.option_id for line in plan.lines if not line.closed},
        add_form=AddLineForm(formdata=None),
        replacing=replacing,
        add_action=url_for("plans.replace_line", line_id=replacing.id)
        if replacing
        else url_for("plans.add_line", plan_id=plan.id),
        add_label=_("Replace with this") if replacing else _("Add to plan"),
        category_labels=CATEGORY_LABELS,
        search_url=query_links("plans.options", case_id=case_id),
    ), (200 if result is not None else 422)


def _line_to_replace(plan: Plan, line_id: int | None) -> PlanLine | None:
    if line_id is None:
        return None
    return next((line for line in plan.lines if line.id == line_id and line.closed), None)


def _plan_or_404(plan_id: int) -> Plan:
    return services.get_plan(plan_id, actor=current_user)


@bp.post("/plans/<int:plan_id>/lines")
@roles(*BUILDERS)
def add_line(plan_id: int) -> Any:
    plan = _plan_or_404(plan_id)
    form = AddLineForm()
    return submit_flashed(
        form,
        lambda: amendments.add_support(
            plan.id,
            _int(form.option_id.data),
            quantity=form.quantity.data or 0,
            notes=form.notes.data or "",
            expected_version=form.version.data,
            actor=current_user,
        ),
        done=lambda line: (
            _("The option is proposed in the plan's amendment.")
            if line.amendment_id is not None
            else _("The option is added to the plan.")
        ),
        back=request.referrer or url_for("plans.options", case_id=plan.returnee_id),
        then=url_for("plans.plan", case_id=plan.returnee_id),
    )


def _int(value: Any) -> int:
    """A form's id as an int (0, never found, when it is not one)."""
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return number if 0 < number < 2**31 else 0


def _line_action(line_id: int, form: FlaskForm, act: Any, done: Any) -> Any:
    """Run a line action (``act()``) from the plan page: commit and say ``done``, or roll back
    and show the refusal; back to the plan page either way."""
    case_id = services.case_id_of_line(line_id, actor=current_user)
    return submit_flashed(form, act, done=done, back=url_for("plans.plan", case_id=case_id))


@bp.post("/plans/lines/<int:line_id>")
@roles(*BUILDERS)
def update_line(line_id: int) -> Any:
    """Save a draft's line, or propose the change of an approved plan's line."""
    form = LineForm(prefix=f"line-{line_id}")
    return _line_action(
        line_id,
        form,
        lambda: amendments.change_line(
            line_id,
            quantity=form.quantity.data or 0,
            notes=form.notes.data or "",
            reason=form.reason.data or "",
            expected_version=form.version.data,
            actor=current_user,
        ),
        _l("The line is saved."),
    )


@bp.post("/plans/lines/<int:line_id>/remove")
@roles(*BUILDERS)
def remove_line(line_id: int) -> Any:
    """Remove a draft's line; propose the cancellation of an approved plan's line."""
    form = TakeOutForm()
    return _line_action(
        line_id,
        form,
        lambda: amendments.take_out_line(
            line_id,
            reason=form.reason.data or "",
            expected_version=form.version.data,
            actor=current_user,
        ),
        _l("The line is taken out."),
    )


@bp.post("/plans/lines/<int:line_id>/keep")
@roles(*BUILDERS)
def keep_line(line_id: int) -> Any:
    """Undo what the amendment proposes for a line: it stays as approved."""
    form = VersionedForm()
    return _line_action(
        line_id,
        form,
        lambda: amendments.keep_line(
            line_id, expected_version=form.version.data, actor=current_user
        ),
        _l("The line stays as approved."),
    )


@bp.post("/plans/lines/<int:line_id>/replace")
@roles(*BUILDERS)
def replace_line(line_id: int) -> Any:
    """Propose a replacement for a declined, expired or cancelled line: another option (from
    the option picker), or the same one referred again."""
    form = ReplaceForm()
    return _line_action(
        line_id,
        form,
        lambda: amendments.replace_line(
            line_id,
            option_id=form.option_id.data,
            quantity=form.quantity.data,
            notes=form.notes.data if form.notes.raw_data else None,
            expected_version=form.version.data,
            actor=current_user,
        ),
        _l("The replacement is proposed in the plan's amendment."),
    )


def _step(plan_id: int, form: VersionedForm, name: str, act: Any, done: Any) -> Any:
    """Run a plan or amendment step (``act()``) once the plan is locked and still at the
    version the page showed: commit and say ``done``. A refusal that names a field of the form
    shows the page again with it there (the form called ``name``, input kept); any other is
    said above the plan page (the state changed: the form may no longer be shown)."""
    plan = _plan_or_404(plan_id)
    back = url_for("plans.plan", case_id=plan.returnee_id)

    def locked_act() -> Any:
        services.lock_plan(plan.id, actor=current_user, expected_version=form.version.data)
        return act()

    def show(error: DomainError) -> Any:
        if not any(f in form and f != "version" for f in error.field_errors):
            flash(str(error.message), "danger")
            return redirect(back)
        show_domain_error(form, error)
        return None

    return submit_form(
        form,
        locked_act,
        done=done,
        then=back,
        page=lambda: _page(plan.returnee_id, 422, **{name: form}),
        show=show,
    )


@bp.post("/plans/<int:plan_id>/submit")
@roles(*BUILDERS)
def submit(plan_id: int) -> Any:
    form = SubmitForm()
    return _step(
        plan_id,
        form,
        "submit_form",
        lambda: services.submit_plan(
            plan_id, justification=form.justification.data or "", actor=current_user
        ),
        _l("The plan is sent to the origin office."),
    )


REVIEW_DONE = {
    "return": _l("The plan is returned to the counsellor."),
    "confirm": _l("Feasibility is confirmed."),
    "approve": _l("The plan is approved and the partners are referred."),
}


@bp.post("/plans/<int:plan_id>/<any(return, confirm, approve):step>")
@roles(*REVIEWERS)
def review(plan_id: int, step: str) -> Any:
    form = ReviewForm()
    return _step(
        plan_id,
        form,
        "review_form",
        lambda: services.REVIEW_STEPS[step](
            plan_id, comment=form.comment.data or "", actor=current_user
        ),
        REVIEW_DONE[step],
    )


@bp.post("/plans/<int:plan_id>/amendment")
@roles(*BUILDERS)
def open_amendment(plan_id: int) -> Any:
    form = AmendmentForm()
    return _step(
        plan_id,
        form,
        "amendment_form",
        lambda: amendments.open_amendment(
            plan_id, reason=form.reason.data or "", actor=current_user
        ),
        _l("The amendment is open: propose the changes, then submit it."),
    )


@bp.post("/plans/<int:plan_id>/amendment/submit")
@roles(*BUILDERS)
def submit_amendment(plan_id: int) -> Any:
    form = SubmitForm()
    return _step(
        plan_id,
        form,
        "submit_form",
        lambda: amendments.submit_amendment(
            plan_id, justification=form.justification.data or "", actor=current_user
        ),
        _l("The amendment is sent to the origin office."),
    )


AMENDMENT_DONE = {
    "return": _l("The amendment is returned to the counsellor."),
    "confirm": _l("The amendment is confirmed."),
    "approve": _l("The amendment is approved and in effect."),
    "withdraw": _l("The amendment is withdrawn."),
}


@bp.post("/plans/<int:plan_id>/amendment/withdraw")
@roles(*BUILDERS)
def withdraw_amendment(plan_id: int) -> Any:
    form = ReviewForm()
    return _step(
        plan_id,
        form,
        "review_form",
        lambda: amendments.withdraw_amendment(
            plan_id, comment=form.comment.data or "", actor=current_user
        ),
        AMENDMENT_DONE["withdraw"],
    )


@bp.post("/plans/<int:plan_id>/amendment/<any(return, confirm, approve):step>")
@roles(*REVIEWERS)
def review_amendment(plan_id: int, step: str) -> Any:
    form = ReviewForm()
    return _step(
        plan_id,
        form,
        "review_form",
        lambda: amendments.AMENDMENT_STEPS[step](
            plan_id, comment=form.comment.data or "", actor=current_user
        ),
        AMENDMENT_DONE[step],
    )


@bp.get("/plans/review")
@roles(*REVIEWERS)
def queue() -> Any:
    """The plans waiting for this user: submitted ones for case managers, feasible ones for
    programme managers (administrators see both)."""
    waiting = services.review_queue(actor=current_user, page=query_page())
    return render_template("plans/queue.html", page=waiting, PlanStatus=PlanStatus)
