"""Work lists of due and overdue milestones; the office calendar and private calendar feeds;
recording monitoring visits and surveys; the administrators' milestone templates and scoring
versions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from reintegration_hub.cases.models import Returnee
from reintegration_hub.cases.services import get_case, read_case
from reintegration_hub.core.authz import public, roles
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import DomainError, NotFound, PermissionDenied
from reintegration_hub.core.exports import FORMATS
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import (
    Refused,
    commit_or_roll_back,
    submit_flashed,
    submit_form,
)
from reintegration_hub.core.web import query_int, query_page, query_text
from reintegration_hub.extensions import db
from reintegration_hub.followups import (
    actions,
    calendar,
    exports,
    labels,
    ownership,
    timeline,
    visits,
    windows,
    worklist,
)
from reintegration_hub.followups import (
    templates as template_rules,
)
from reintegration_hub.followups.forms import (
    BACK_TO,
    ArrivalForm,
    DoneForm,
    MoveForm,
    NewStepForm,
    NewTemplateForm,
    NotApplicableForm,
    ReopenForm,
    SaveWorkListForm,
    ScoringForm,
    StepForm,
    SupervisorForm,
    TemplateForm,
    VisitForm,
    survey_answers,
    survey_form,
)
from reintegration_hub.followups.labels import (
    ACTION_LABELS,
    FLAG_LABELS,
    KIND_LABELS,
    MILESTONE_STATUS_LABELS,
    NOT_APPLICABLE_LABELS,
    RESPONSIBLE_LABELS,
)
from reintegration_hub.followups.models import Milestone, MilestoneKind, Responsible

bp = Blueprint("followups", __name__, url_prefix="/follow-up")


bp.add_app_template_filter(labels.milestone_name, "milestone_name")
bp.add_app_template_filter(labels.band_label, "band_label")


@bp.app_context_processor
def milestone_helpers() -> dict[str, Any]:
    """``may_act_on(milestone)``: whether the reader may act on it (to word its link)."""
    return {"may_act_on": lambda milestone: ownership.may_act(milestone, current_user)}


def _enum(enum_cls: Any, value: str | None) -> Any:
    return enum_cls(value) if value in {member.value for member in enum_cls} else None


WORK_LIST_READERS = (
    Role.COUNSELLOR,
    Role.CASE_MANAGER,
    Role.PARTNER,
    Role.PROGRAMME_MANAGER,
    Role.ADMIN,
)


def _work_list_filters() -> worklist.WorkListFilters:
    """The work list's filters from the query string (``WorkListFilters.query_args``)."""
    return worklist.WorkListFilters(
        office_id=query_int("office_id"),
        responsible=_enum(Responsible, request.args.get("responsible")),
        kind=_enum(MilestoneKind, request.args.get("kind")),
        overdue_only=request.args.get("overdue") == "1",
        mine=request.args.get("mine") == "1",
    )


def _work_list_page(save_form: SaveWorkListForm | None = None, status: int = 200) -> Any:
    filters = _work_list_filters()
    if (export := request.args.get("format")) in FORMATS:  # the same list, streamed
        return exports.work_list_export(export, asdict(filters), actor=current_user)
    page = worklist.work_list(filters, actor=current_user, page=query_page())
    return render_template(
        "followups/index.html",
        page=page,
        filters=filters,
        offices=worklist.offices_with_milestones(actor=current_user),
        saved=worklist.saved_lists(actor=current_user),
        save_form=save_form or SaveWorkListForm(formdata=None),
        button_form=FlaskForm(),
        kind_labels=KIND_LABELS,
        responsible_labels=RESPONSIBLE_LABELS,
        status_labels=MILESTONE_STATUS_LABELS,
    ), status


@bp.get("/")
@roles(*WORK_LIST_READERS)
def index() -> Any:
    return _work_list_page()


@bp.post("/lists")
@roles(*WORK_LIST_READERS)
def save_work_list() -> Any:
    """Keep the work list's present filters (in the query string) under a name."""
    form = SaveWorkListForm()
    filters = _work_list_filters()
    return submit_form(
        form,
        lambda: worklist.save_list(
            form.name.data or "", filters, shared=bool(form.shared.data), actor=current_user
        ),
        done=_("The list is kept."),
        then=lambda kept: url_for("followups.open_work_list", list_id=kept.id),
        page=lambda: _work_list_page(form, 400),
    )


@bp.get("/lists/<int:list_id>")
@roles(*WORK_LIST_READERS)
def open_work_list(list_id: int) -> Any:
    kept = worklist.saved_list(list_id, actor=current_user)
    filters = worklist.WorkListFilters.from_stored(kept.filters)
    query: dict[str, Any] = filters.query_args()
    return redirect(url_for("followups.index", **query))


@bp.post("/lists/<int:list_id>/delete")
@roles(*WORK_LIST_READERS)
def delete_work_list(list_id: int) -> Any:
    return submit_flashed(
        FlaskForm(),
        lambda: worklist.delete_list(list_id, actor=current_user),
        back=url_for("followups.index"),
        done=_("The list is deleted."),
    )


CALENDAR_READERS = (
    Role.COUNSELLOR,
    Role.CASE_MANAGER,
    Role.PARTNER,
    Role.PROGRAMME_MANAGER,
    Role.ADMIN,
)


@bp.get("/calendar")
@roles(*CALENDAR_READERS)
def calendar_month() -> Any:
    """The milestones and visits of a month by day (``?month=2026-12``; one office's with
    ``office_id`` for those who see every office), and the reader's private feed."""
    first = calendar.parse_month(query_text("month", max_length=7), now_utc().date())
    office_id = query_int("office_id")
    return render_template(
        "followups/calendar.html",
        month=calendar.office_month(first, actor=current_user, office_id=office_id),
        office_id=office_id,
        offices=worklist.offices_with_milestones(actor=current_user),
        has_feed=calendar.feed_of(current_user.id) is not None,
        feed_url=session.pop("calendar_feed_url", None),
        button_form=FlaskForm(),
    )


@bp.post("/calendar/feed")
@roles(*CALENDAR_READERS)
def issue_calendar_feed() -> Any:
    """A new private address for the reader's calendar feed, shown once; the old one stops."""
    if FlaskForm().validate_on_submit():
        token = calendar.issue_feed(actor=current_user)
        db.session.commit()
        session["calendar_feed_url"] = url_for(
            "followups.calendar_feed", token=token, _external=True
        )
    return redirect(url_for("followups.calendar_month"))


@bp.post("/calendar/feed/stop")
@roles(*CALENDAR_READERS)
def revoke_calendar_feed() -> Any:
    return submit_flashed(
        FlaskForm(),
        lambda: calendar.revoke_feed(actor=current_user),
        back=url_for("followups.calendar_month"),
        done=_("Your calendar feed is stopped: its address no longer works."),
    )


@bp.get("/calendar/<token>.ics")
@public
def calendar_feed(token: str) -> Any:
    """The private iCalendar feed the token opens (a calendar program reads it, no session)."""
    user = calendar.feed_user(token[:100])
    document = calendar.feed_calendar(user, now_utc().date())
    db.session.commit()
    return Response(
        document,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'inline; filename="reintegration-hub.ics"'},
    )


def _plan_url(case_id: int) -> str:
    return url_for("plans.plan", case_id=case_id) + "#follow-up"


def _plan_page(case_id: int) -> Any:
    return redirect(_plan_url(case_id))


def _closes(milestone: Milestone | None) -> str:
    """Which milestone a visit or survey just recorded closed, for the flash message."""
    if milestone is None:
        return cast(str, _("It falls in no open milestone's window: no milestone is closed."))
    return cast(
        str,
        _(
            "It closes %(milestone)s (due %(date)s).",
            milestone=labels.milestone_name(milestone.name),
            date=format_date(milestone.due_on, "medium"),
        ),
    )


def _case(case_id: int, read: str) -> Returnee:
    """The case of a visit or survey form: shown (GET), an audited read (``read``); sent, the
    recording audits itself."""
    if request.method == "GET":
        case = read_case(case_id, action=read, actor=current_user)
        db.session.commit()
        return case
    return get_case(case_id, actor=current_user)


@bp.route("/cases/<int:case_id>/visit", methods=["GET", "POST"])
@roles(*visits.RECORDER_ROLES)
def record_visit(case_id: int) -> Any:
    case = _case(case_id, "visit.view")
    form = VisitForm()
    return submit_form(
        form,
        lambda: _closes(
            visits.record_visit(case.id, form.visit_input(), actor=current_user).milestone
        ),
        done=lambda closes: _("The visit is recorded.") + " " + closes,
        then=_plan_url(case.id),
        page=lambda: (
            render_template("followups/visit.html", case=case, form=form),
            422 if form.errors else 200,
        ),
    )


@bp.route("/cases/<int:case_id>/survey", methods=["GET", "POST"])
@roles(*visits.RECORDER_ROLES)
def record_survey(case_id: int) -> Any:
    case = _case(case_id, "survey.view")
    version = visits.current_scoring_version()
    form = survey_form(version)
    return submit_form(
        form,
        lambda: _closes(
            visits.record_survey(
                case.id, form.taken_on.data, survey_answers(form, version), actor=current_user
            ).milestone
        ),
        done=lambda closes: _("The survey is recorded and scored.") + " " + closes,
        then=_plan_url(case.id),
        page=lambda: (
            render_template("followups/survey.html", case=case, form=form, version=version),
            422 if form.errors else 200,
        ),
    )


@bp.get("/field/")
@roles(*visits.RECORDER_ROLES)
def field() -> Any:
    """The case manager's visits and surveys to make, on a page that works offline once opened
    (``static/js/field.js`` and its service worker): the list comes from the API
    (``/api/v1/follow-up/field``), answers are kept in the browser and sent through the API
    with their key when the connection returns. The forms are the visit and survey forms."""
    version = visits.scoring_version_in_force()
    survey = survey_form(version, prefix="survey", meta={"csrf": False}) if version else None
    return render_template(
        "followups/field.html",
        visit_form=VisitForm(prefix="visit", meta={"csrf": False}),
        survey_form=survey,
        version=version,
    )


@bp.get("/field/sw.js")
@roles(*visits.RECORDER_ROLES)
def field_worker() -> Any:
    """The field page's service worker, a static file served at the page's own path: a
    worker's scope is at most the folder of its script, and this one's must cover the page."""
    response = send_from_directory(
        cast(str, current_app.static_folder), "js/field-sw.js", mimetype="text/javascript"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/plans/<int:plan_id>/recheck")
@roles(*timeline.RECHECK_ROLES)
def recheck_plan(plan_id: int) -> Any:
    """ "Re-check now": the sweep for this one plan, in this request (one small transaction;
    the ``track_plan`` flow runs the same service: a page never starts a flow)."""
    if not FlaskForm().validate_on_submit():
        return redirect(request.referrer or url_for("followups.index"))
    counts = timeline.recheck_plan(plan_id, actor=current_user)
    case_id = timeline.plan_case_id(plan_id)
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


# --- a milestone's actions and the arrival ---------------------------------------------------

#: Who may open a milestone's page and act on it (the service decides per milestone).
ACTORS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)


def _milestone_page(
    milestone_id: int, status: int = 200, back: str = "plan", **failed: FlaskForm
) -> Any:
    """The milestone, its history and the forms ``current_user`` may use (``failed``: one
    refused, shown with its errors)."""
    milestone = actions.get_milestone(milestone_id, actor=current_user)
    allowed = actions.available_actions(milestone, current_user)
    forms: dict[str, FlaskForm] = {
        "done": DoneForm(formdata=None, prefix="done", back=back),
        "not_applicable": NotApplicableForm(formdata=None, prefix="na", back=back),
        "move": MoveForm(formdata=None, prefix="move", back=back),
        "reopen": ReopenForm(formdata=None, prefix="reopen", back=back),
    } | failed
    if milestone.kind == MilestoneKind.ARRIVAL_CONFIRMED:
        forms["done"].done_on.label.text = _("Arrived on")
    return render_template(
        "followups/milestone.html",
        milestone=milestone,
        history=actions.milestone_history(milestone.id),
        allowed=allowed,
        forms=forms,
        back=back,
        window_opens=windows.opens_on(milestone.returnee, milestone),
        record_instead=actions.RECORD_INSTEAD.get(milestone.kind),
        kind_labels=KIND_LABELS,
        responsible_labels=RESPONSIBLE_LABELS,
        status_labels=MILESTONE_STATUS_LABELS,
        reason_labels=NOT_APPLICABLE_LABELS,
        action_labels=ACTION_LABELS,
    ), status


def _after_action(milestone_id: int, back: str | None) -> str:
    if back == "work":
        return url_for("followups.index")
    return _plan_url(timeline.milestone_case_id(milestone_id))


@bp.get("/milestones/<int:milestone_id>")
@roles(*ACTORS, Role.PROGRAMME_MANAGER)
def milestone(milestone_id: int) -> Any:
    back = request.args.get("back", "plan")
    return _milestone_page(milestone_id, back=back if back in BACK_TO else "plan")


def _act(milestone_id: int, name: str, form: FlaskForm, run: Any, done: str) -> Any:
    """Validate ``form``, call ``run(form)`` (one service), commit; the page again with the
    errors at the fields when refused (the error pages answer 404 and 403)."""
    return submit_form(
        form,
        lambda: run(form),
        done=done,
        then=lambda _result: _after_action(milestone_id, form.back.data),
        page=lambda: _milestone_page(
            milestone_id,
            422,
            back=form.back.data if form.back.data in BACK_TO else "plan",
            **{name: form},
        ),
        passes=(NotFound, PermissionDenied),
    )


@bp.post("/milestones/<int:milestone_id>/done")
@roles(*ACTORS)
def mark_done(milestone_id: int) -> Any:
    return _act(
        milestone_id,
        "done",
        DoneForm(prefix="done"),
        lambda f: actions.mark_done(
            milestone_id, done_on=f.done_on.data, note=f.note.data or "", actor=current_user
        ),
        _("The milestone is done."),
    )


@bp.post("/milestones/<int:milestone_id>/not-applicable")
@roles(*ACTORS)
def mark_not_applicable(milestone_id: int) -> Any:
    return _act(
        milestone_id,
        "not_applicable",
        NotApplicableForm(prefix="na"),
        lambda f: actions.mark_not_applicable(
            milestone_id,
            reason=f.not_applicable_reason(),
            note=f.note.data or "",
            actor=current_user,
        ),
        _("The milestone is marked not applicable."),
    )


@bp.post("/milestones/<int:milestone_id>/move")
@roles(*ACTORS)
def move(milestone_id: int) -> Any:
    return _act(
        milestone_id,
        "move",
        MoveForm(prefix="move"),
        lambda f: actions.move_milestone(
            milestone_id, due_on=f.due_on.data, reason=f.reason.data or "", actor=current_user
        ),
        _("The milestone is moved; its reminders follow the new date."),
    )


@bp.post("/milestones/<int:milestone_id>/reopen")
@roles(*ACTORS)
def reopen(milestone_id: int) -> Any:
    return _act(
        milestone_id,
        "reopen",
        ReopenForm(prefix="reopen"),
        lambda f: actions.reopen_milestone(
            milestone_id, reason=f.reason.data or "", actor=current_user
        ),
        _("The milestone is open again."),
    )


@bp.route("/cases/<int:case_id>/arrival", methods=["GET", "POST"])
@roles(*actions.ARRIVAL_ROLES)
def record_arrival(case_id: int) -> Any:
    case = get_case(case_id, actor=current_user)
    form = ArrivalForm(obj=case) if request.method == "GET" else ArrivalForm()
    return submit_form(
        form,
        lambda: actions.record_arrival(
            case.id,
            arrived_on=form.arrived_on.data,  # type: ignore[arg-type]  # DataRequired
            note=form.note.data or "",
            actor=current_user,
        ),
        done=_("The arrival is recorded."),
        then=url_for("cases.show", case_id=case.id),
        page=lambda: (
            render_template("followups/arrival.html", case=case, form=form),
            422 if form.errors or form.form_errors else 200,
        ),
    )


# --- office supervisors (administrators) -----------------------------------------------------


@bp.get("/supervisors")
@roles(Role.ADMIN)
def supervisors() -> Any:
    rows = ownership.office_supervisors(actor=current_user)
    return render_template(
        "followups/supervisors.html",
        rows=rows,
        forms={row.office.id: _supervisor_form(row, formdata=None) for row in rows},
    )


def _supervisor_form(row: ownership.SupervisorRow, **kwargs: Any) -> SupervisorForm:
    form = SupervisorForm(prefix=f"office-{row.office.id}", **kwargs)
    form.supervisor_id.choices = [("", _("Nobody"))] + [
        (user.id, user.full_name) for user in row.candidates
    ]
    if kwargs.get("formdata", True) is None:
        form.supervisor_id.data = row.office.supervisor_id
    return form


@bp.post("/supervisors/<int:office_id>")
@roles(Role.ADMIN)
def set_supervisor(office_id: int) -> Any:
    rows = {row.office.id: row for row in ownership.office_supervisors(actor=current_user)}
    if office_id not in rows:
        abort(404)
    form = _supervisor_form(rows[office_id])
    if form.validate_on_submit():
        ownership.set_office_supervisor(office_id, form.supervisor_id.data, actor=current_user)
        db.session.commit()
        flash(_("The office's supervisor is saved."), "success")
    else:
        flash(_("Choose an active user of this office in the role it works in."), "danger")
    return redirect(url_for("followups.supervisors"))


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
    rows, grants = template_rules.milestone_templates(actor=current_user)
    form = NewTemplateForm(formdata=None)
    form.grant_id.choices = [(grant.id, f"{grant.number} · {grant.title}") for grant in grants]
    return render_template("followups/templates.html", rows=rows, form=form)


@bp.post("/templates")
@roles(Role.ADMIN)
def create_template() -> Any:
    form = NewTemplateForm()
    _rows, grants = template_rules.milestone_templates(actor=current_user)
    form.grant_id.choices = [(grant.id, grant.number) for grant in grants]
    if not form.validate_on_submit():
        flash(_("Choose a grant without a template of its own."), "danger")
        return redirect(url_for("followups.templates"))
    template = template_rules.create_grant_template(form.grant_id.data, actor=current_user)
    db.session.commit()
    flash(_("The grant has its own template now, a copy of the default one."), "success")
    return redirect(url_for("followups.template", template_id=template.id))


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def template(template_id: int) -> Any:
    template = template_rules.get_template(template_id, actor=current_user)
    form = TemplateForm(obj=template)
    return submit_form(
        form,
        lambda: template_rules.update_template(
            template.id,
            name=form.name.data or "",
            grace_days=int(form.grace_days.data or 0),
            actor=current_user,
        ),
        done=_("The template is saved."),
        then=url_for("followups.template", template_id=template.id),
        page=lambda: (
            render_template(
                "followups/template.html",
                template=template,  # as stored: a refusal rolled back the change
                form=form,
                remove_form=FlaskForm(formdata=None),
                steps_by_key={step.key: step for step in template.steps},
                kind_labels=KIND_LABELS,
                responsible_labels=RESPONSIBLE_LABELS,
            ),
            422 if form.errors or form.form_errors else 200,
        ),
        show=lambda error: _show_errors(form, error),
    )


def _step_page(template_id: int, step_id: int | None) -> Any:
    template = template_rules.get_template(template_id, actor=current_user)
    step = template_rules.template_step(template, step_id) if step_id is not None else None
    form: StepForm = StepForm(obj=step) if step is not None else NewStepForm()
    form.after_step.choices = [("", _("The return date"))] + [
        (other.key, other.name) for other in template.steps if other is not step
    ]
    if step is not None and request.method == "GET":
        form.after_step.data = step.after_step or ""

    def save() -> object:
        if step is None:
            return template_rules.add_step(
                template.id, form.step_input(key=form.key.data or ""), actor=current_user
            )
        return template_rules.update_step(
            template.id, step.id, form.step_input(), actor=current_user
        )

    return submit_form(
        form,
        save,
        done=_("The step is saved."),
        then=url_for("followups.template", template_id=template.id),
        page=lambda: (
            render_template("followups/step.html", template=template, step=step, form=form),
            422 if form.errors or form.form_errors else 200,
        ),
        show=lambda error: _show_errors(form, error),
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
        template_rules.remove_step(template_id, step_id, actor=current_user)
        db.session.commit()
        flash(_("The step is removed."), "success")
    return redirect(url_for("followups.template", template_id=template_id))


# --- scoring versions (administrators) -------------------------------------------------------


def _rescored(count: int) -> str:
    return cast(
        str,
        ngettext(
            "%(num)d stored survey was scored again.",
            "%(num)d stored surveys were scored again.",
            count,
        ),
    )


def _scoring_page(form: ScoringForm, status: int = 200) -> Any:
    return render_template(
        "followups/scoring.html",
        rows=visits.scoring_versions(actor=current_user),
        form=form,
        rescore_form=FlaskForm(formdata=None),
        flag_labels=FLAG_LABELS,
    ), status


@bp.get("/scoring")
@roles(Role.ADMIN)
def scoring() -> Any:
    form = ScoringForm(formdata=None)
    form.fill_from(visits.current_scoring_version())
    return _scoring_page(form)


@bp.post("/scoring")
@roles(Role.ADMIN)
def load_scoring() -> Any:
    form = ScoringForm()

    def load() -> tuple[int, int | None]:
        version = visits.load_scoring_version(**form.version_input(), actor=current_user)
        rescored = (
            visits.rescore_surveys(version.id, actor=current_user) if form.rescore.data else None
        )
        return version.version, rescored

    if form.validate_on_submit():
        loaded = commit_or_roll_back(load)
        if isinstance(loaded, Refused):
            _show_errors(form, loaded.error)
        else:
            number, rescored = loaded
            flash(_("Version %(num)d is in force.", num=number), "success")
            if rescored is not None:
                flash(_rescored(rescored), "success")
            return redirect(url_for("followups.scoring"))
    return _scoring_page(form, 422)


@bp.post("/scoring/<int:version_id>/rescore")
@roles(Role.ADMIN)
def rescore(version_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        rescored = visits.rescore_surveys(version_id, actor=current_user)
        db.session.commit()
        flash(_rescored(rescored), "success")
    return redirect(url_for("followups.scoring"))
