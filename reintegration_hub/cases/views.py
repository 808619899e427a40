"""Case pages: the list (case numbers only), registration, the case page (names), edit, the
case's documents."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from reintegration_hub.cases import (
    access_log,
    assignment,
    documents,
    exports,
    notes,
    search,
    services,
    sms,
)
from reintegration_hub.cases.drill import CaseDrill
from reintegration_hub.cases.forms import (
    AssignForm,
    BulkAssignForm,
    ConsentForm,
    DocumentForm,
    FollowUpDoneForm,
    NoteForm,
    RegisterCaseForm,
    SmsOptOutForm,
    StatusForm,
)
from reintegration_hub.cases.forms import CaseForm as EditCaseForm
from reintegration_hub.cases.labels import (
    ACCESS_ACTION_LABELS,
    CLOSURE_LABELS,
    DOCUMENT_KIND_LABELS,
    LEGAL_STATUS_LABELS,
    NOTE_KIND_LABELS,
    RELATION_LABELS,
    STATUS_LABELS,
)
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.core import i18n
from reintegration_hub.core.authz import public, roles, sees_all_offices
from reintegration_hub.core.errors import DomainError, NotFound
from reintegration_hub.core.exports import FORMATS
from reintegration_hub.core.forms import Form, error_summary, show_domain_error
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.outbox import public_url
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import (
    Refused,
    commit_or_roll_back,
    submit_flashed,
    submit_form,
)
from reintegration_hub.core.web import attachment, query_int, query_page, query_text
from reintegration_hub.extensions import csrf, db
from reintegration_hub.feedback import services as feedback
from reintegration_hub.notifications.sms import reply_gateway

bp = Blueprint("cases", __name__, url_prefix="/cases")

READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)
#: Who may open the reassignment forms; the service admits office supervisors among them.
ASSIGNERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
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
        "note_kind_label": NOTE_KIND_LABELS.get,
        "document_kind_label": DOCUMENT_KIND_LABELS.get,
    }


def _list_filters(args: Any) -> dict[str, Any]:
    """The case list's filters from a query string (or the reassignment form's copy of it)."""
    status = args.get("status", "")
    return {
        "status": CaseStatus(status) if status in set(CaseStatus) else None,
        "return_country_code": query_text("country", max_length=2, args=args).upper() or None,
        "host_office_id": query_int("office_id", args=args),
        "number": query_text("number", max_length=20, args=args) or None,
        "q": query_text("q", max_length=search.MAX_QUERY_LENGTH, args=args) or None,
        "counsellor_id": query_int("counsellor_id", args=args),
        "case_manager_id": query_int("case_manager_id", args=args),
    }


def _list_page(args: Any, assign_form: BulkAssignForm | None = None, status: int = 200) -> Any:
    filters = _list_filters(args)
    drill = CaseDrill.from_args(args)  # a monitoring figure's filters
    page = services.list_cases(
        actor=current_user,
        page=query_page(),
        page_size=PAGE_SIZE,
        drill=None if drill.is_empty else drill,
        **filters,
    )
    staff = assignment.assignable_staff(actor=current_user)
    if assign_form is None and staff:
        assign_form = BulkAssignForm(formdata=None, staff=staff)
    return render_template(
        "cases/list.html",
        page=page,
        filters=filters,
        drill=drill,
        offices=services.host_offices() if sees_all_offices(current_user) else [],
        countries=i18n.country_choices(),
        people=services.people_filter(actor=current_user),
        assign_form=assign_form,
        filter_args=_filter_args(args),
        max_cases=assignment.MAX_CASES,
    ), status


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    if (export := request.args.get("format")) in FORMATS:  # the same cases, streamed
        drill = CaseDrill.from_args(request.args)
        return exports.case_list_export(
            export,
            _list_filters(request.args),
            drill=None if drill.is_empty else drill,
            actor=current_user,
        )
    return _list_page(request.args)


@bp.post("/reassign")
@roles(*ASSIGNERS)
def reassign() -> Any:
    """The case list's reassignment: the ticked cases, or all that match the list's filters
    (the form carries them), to one counsellor or case manager."""
    form = BulkAssignForm(staff=assignment.assignable_staff(actor=current_user))
    if form.validate_on_submit():
        ids = form.case_ids.data or []
        if form.all_matching.data:
            drill = CaseDrill.from_args(request.form)
            ids = services.matching_case_ids(
                actor=current_user,
                drill=None if drill.is_empty else drill,
                limit=assignment.MAX_CASES + 1,
                **_list_filters(request.form),
            )
        if _assigned(form, ids):
            return redirect(url_for("cases.index", **_filter_args(request.form)))
    return _list_page(request.form, form, 422)


def _filter_args(values: Any) -> dict[str, Any]:
    """The list's query arguments kept in the reassignment form, to go back to the list."""
    kept = ("q", "status", "country", "office_id", "number", "counsellor_id", "case_manager_id")
    drill = CaseDrill.from_args(values).query_args()
    return {name: values[name] for name in kept if values.get(name)} | drill


def _assigned(form: AssignForm, case_ids: list[int]) -> bool:
    """Give ``case_ids`` to the form's choice and commit; ``False`` with the refusal at the
    form's fields. A case out of scope is the 404 page, as for any case."""
    result = commit_or_roll_back(
        lambda: assignment.assign_cases(
            case_ids,
            user_id=form.user_id.data,
            transfer=bool(form.transfer.data),
            note=form.note.data or "",
            actor=current_user,
        ),
        passes=(NotFound,),
    )
    if isinstance(result, Refused):
        show_domain_error(form, result.error)
        return False
    if result.changed:
        flash(
            ngettext(
                "%(num)d case is now with %(name)s, who is told by e-mail.",
                "%(num)d cases are now with %(name)s, who is told by e-mail.",
                len(result.changed),
                name=result.owner.full_name,
            ),
            "success",
        )
    if result.unchanged:
        flash(
            ngettext(
                "%(num)d case was theirs already.",
                "%(num)d cases were theirs already.",
                len(result.unchanged),
            ),
            "info",
        )
    return True


@bp.route("/<int:case_id>/assign", methods=["GET", "POST"])
@roles(*ASSIGNERS)
def assign(case_id: int) -> Any:
    """Reassign one case, or transfer it to another host office."""
    case = services.get_case(case_id, actor=current_user)
    form = AssignForm(staff=assignment.assignable_staff(actor=current_user))
    if form.validate_on_submit() and _assigned(form, [case.id]):
        return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/assign.html", case=case, form=form), (
        422 if form.errors or form.form_errors else 200
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(Role.COUNSELLOR)
def register() -> Any:
    form = RegisterCaseForm()
    duplicates: list[services.DuplicateMatch] = []

    def show(error: DomainError) -> None:
        if isinstance(error, services.PossibleDuplicate):  # a warning: confirm to go on
            duplicates.extend(error.matches)
        else:
            show_domain_error(form, error)

    return submit_form(
        form,
        lambda: services.register_case(
            form.case_details(),
            dependants=form.dependant_inputs(),
            vulnerabilities=form.vulnerability_notes(),
            consent=form.consent_input(),
            confirm_duplicate=bool(form.confirm_duplicate.data),
            actor=current_user,
        ),
        done=lambda case: _("Case %(number)s is registered.", number=case.case_number),
        then=lambda case: url_for("cases.show", case_id=case.id),
        page=lambda: (
            render_template("cases/form.html", form=form, case=None, duplicates=duplicates),
            409 if duplicates else (422 if form.errors else 200),
        ),
        show=show,
    )


NOTES_PAGE_SIZE = 10


def _case_page(case_id: int, note_form: NoteForm | None = None, status: int = 200) -> Any:
    """The case page, its read audited; with its notes (a page of them, ``notes_page``) and,
    for the case's supervisors and administrators, its access log (``log_page``)."""
    case = services.view_case(case_id, actor=current_user)
    db.session.commit()  # the audited view
    targets = [t for t in services.ALLOWED_TRANSITIONS[case.status] if t in services.MANUAL_TARGETS]
    may_see_log = access_log.may_see_access_log(case, current_user)
    return render_template(
        "cases/case.html",
        case=case,
        days_left=services.days_to_deadline(case),
        deadline_near=services.deadline_is_near(case),
        status_form=StatusForm(formdata=None, targets=targets) if targets else None,
        consent_form=ConsentForm.starting_from(case.consent),
        sms_opt_out_form=SmsOptOutForm(formdata=None),
        may_reassign=assignment.may_reassign(current_user),
        notes=notes.case_notes(
            case.id, actor=current_user, page=query_page("notes_page"), page_size=NOTES_PAGE_SIZE
        ),
        note_form=note_form or NoteForm(formdata=None),
        may_write_notes=current_user.role in notes.WRITER_ROLES and not case.anonymised_at,
        may_correct=lambda row: notes.may_correct(row, current_user),
        log=access_log.access_log(case.id, actor=current_user, page=query_page("log_page"))
        if may_see_log
        else None,
        access_label=lambda action: ACCESS_ACTION_LABELS.get(action, action),
        feedback=feedback.case_feedback(case.id, actor=current_user),
        feedback_status=feedback.request_status,
        invitation=feedback.invitation,
        hands_over_links=current_user.role in {Role.CASE_MANAGER, Role.ADMIN},
    ), status


@bp.get("/<int:case_id>")
@roles(*READERS)
def show(case_id: int) -> Any:
    return _case_page(case_id)


@bp.post("/<int:case_id>/notes")
@roles(*notes.WRITER_ROLES)
def add_note(case_id: int) -> Any:
    """A note written on the case page; refused, the page again with the form's errors."""
    form = NoteForm()
    return submit_form(
        form,
        lambda: notes.add_note(case_id, form.note_input(), actor=current_user),
        done=_("The note is saved."),
        then=url_for("cases.show", case_id=case_id) + "#notes",
        page=lambda: _case_page(case_id, form, 422),
        passes=(NotFound,),
    )


@bp.route("/notes/<int:note_id>", methods=["GET", "POST"])
@roles(*notes.WRITER_ROLES)
def correct_note(note_id: int) -> Any:
    """Its author corrects a note on the day it was written."""
    row = notes.own_note(note_id, actor=current_user)
    form = NoteForm.for_note(row)
    return submit_form(
        form,
        lambda: notes.correct_note(row.id, form.note_input(), actor=current_user),
        done=_("The note is corrected."),
        then=url_for("cases.show", case_id=row.returnee_id) + "#notes",
        page=lambda: (
            render_template("cases/note.html", note=row, form=form),
            422 if form.errors else 200,
        ),
    )


@bp.post("/notes/<int:note_id>/done")
@roles(*notes.WRITER_ROLES)
def finish_follow_up(note_id: int) -> Any:
    """Mark a note's follow-up done, from the home page's list or the case page."""
    row = notes.own_note(note_id, actor=current_user)
    form = FollowUpDoneForm()
    back = (
        url_for("home.index")
        if form.back.data == "home"
        else url_for("cases.show", case_id=row.returnee_id) + "#notes"
    )
    return submit_flashed(
        form,
        lambda: notes.finish_follow_up(row.id, actor=current_user),
        back=back,
        done=_("The follow-up is done."),
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
    return submit_form(
        form,
        lambda: services.update_case(
            case.id,
            form.case_details(),
            dependants=form.dependant_inputs(),
            vulnerabilities=form.vulnerability_notes(),
            actor=current_user,
        ),
        done=_("The case is saved."),
        then=url_for("cases.show", case_id=case.id),
        page=lambda: (
            render_template("cases/form.html", form=form, case=case, duplicates=[]),
            422 if form.errors else 200,
        ),
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


@bp.post("/<int:case_id>/sms-opt-out")
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
def opt_out_sms(case_id: int) -> Any:
    """The returnee asked to stop the text messages: a consent with SMS off."""
    form = SmsOptOutForm()
    if form.validate_on_submit():
        try:
            sms.opt_out_sms(case_id, actor=current_user)
        except DomainError as error:
            if isinstance(error, NotFound):
                raise
            flash(str(error), "warning")
        else:
            db.session.commit()
            flash(_("Text messages are stopped; the consent is recorded."), "success")
    else:
        flash(error_summary(form), "danger")
    return redirect(url_for("cases.show", case_id=case_id))


#: the answer a Twilio-compatible gateway expects: an empty TwiML document (no reply sent)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.post("/sms/replies")
@public  # the SMS gateway calls it; its request signature is checked instead of a session
def sms_reply() -> Any:
    """A returnee's reply through the gateway: a stop word opts out (``cases.sms``); anything
    else, or an unknown number, records nothing. 403 without a valid signature, 404 with no
    gateway configured that takes replies."""
    gateway = reply_gateway(current_app.config)
    if gateway is None:
        raise NotFound(_("Not found."))
    params = {key: value for key, value in request.form.items(multi=False)}
    signature = request.headers.get("X-Twilio-Signature", "")[:200]
    if not gateway.verify(public_url("cases.sms_reply"), params, signature):
        return Response("", status=403)
    reply = gateway.inbound(params)
    sms.record_sms_reply(reply.from_number[:40], reply.text[: sms.MAX_REPLY + 1])
    db.session.commit()
    return Response(EMPTY_TWIML, mimetype="text/xml")


csrf.exempt(sms_reply)  # the gateway has no session: the signature stands for the token


# --- documents -------------------------------------------------------------------------------

DOCUMENT_WRITERS = tuple(documents.WRITER_ROLES)


@bp.route("/<int:case_id>/documents", methods=["GET", "POST"])
@roles(*READERS)
def case_documents(case_id: int) -> Any:
    case, kept = documents.case_documents(case_id, actor=current_user)
    form = DocumentForm()
    may_upload = current_user.role in documents.WRITER_ROLES and case.anonymised_at is None
    return submit_form(
        form,
        lambda: documents.upload_document(
            case.id, form.document_input(), form.document_upload(), actor=current_user
        ),
        done=_("The document is kept."),
        then=url_for("cases.case_documents", case_id=case.id),
        page=lambda: (
            render_template(
                "cases/documents.html",
                case=case,
                documents=kept,
                form=form,
                may_upload=may_upload,
                remove_form=Form(formdata=None),
            ),
            422 if form.errors else 200,
        ),
    )


@bp.get("/documents/<int:document_id>/file")
@roles(*READERS)
def document_file(document_id: int) -> Any:
    document, content = documents.document_content(document_id, actor=current_user)
    db.session.commit()  # the audited download
    return attachment(content, mimetype=document.content_type, name=document.name)


@bp.post("/documents/<int:document_id>/remove")
@roles(*DOCUMENT_WRITERS)
def remove_document(document_id: int) -> Any:
    document = documents.get_document(document_id, actor=current_user)
    return submit_flashed(
        Form(),
        lambda: documents.remove_document(document.id, actor=current_user),
        back=url_for("cases.case_documents", case_id=document.returnee_id),
        done=_("The document is removed; the record that it was kept stays."),
    )
