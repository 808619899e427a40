"""Marketplace pages: partners, support options, search, import."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from partners import access, capacity, imports, referrals, services
from partners.forms import (
    AcceptReferralForm,
    ButtonForm,
    DeclineReferralForm,
    ImportForm,
    OptionForm,
    SearchForm,
    StatusForm,
    VettingForm,
    partner_form,
    referral_answer_forms,
)
from partners.labels import (
    CATEGORY_LABELS,
    COST_BASIS_LABELS,
    DECLINE_REASON_LABELS,
    DELIVERY_MODE_LABELS,
    PAYMENT_SCHEDULE_LABELS,
    PERIOD_LABELS,
    REFERRAL_STATUS_LABELS,
    STATUS_LABELS,
    VETTING_LABELS,
)
from partners.models import (
    DeclineReason,
    OptionStatus,
    Referral,
    ReferralStatus,
    SupportOption,
    VettingStatus,
)
from partners.search import PERFORMANCE_SORTS, query_from_params, search_options
from reintegration_hub.core.authz import public, roles, signed_in
from reintegration_hub.core.errors import DomainError, InvalidInput, NotFound
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.submit import Refused, commit_or_roll_back, submit_flashed, submit_form
from reintegration_hub.core.web import query_links, query_page
from reintegration_hub.extensions import db, limiter

bp = Blueprint("partners", __name__, url_prefix="/marketplace")


# --- search (helper B: partners/search.py) ---------------------------------------------------


@bp.get("/search")
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER, Role.COUNSELLOR, Role.CASE_MANAGER)
def search() -> Any:
    form = SearchForm(request.args)
    result = None
    if form.validate():
        params = {**form.data, "eligible_only": form.eligible_only.data == "1"}
        query = query_from_params(params, display_language=str(get_locale() or "en"))
        result = search_options(query, actor=current_user)
    performance: dict[int, Any] = {}
    if result is not None and result.query.sort in PERFORMANCE_SORTS:  # what the order is by
        performance = services.partners_performance(h.option.partner_id for h in result.items)
    return render_template(
        "partners/search.html",
        form=form,
        result=result,
        search_url=query_links("partners.search"),
        category_labels=CATEGORY_LABELS,
        performance=performance,
    ), (200 if result is not None else 422)


# --- partners, options, vetting, freshness, import (helper A: partners/services.py) ---------

MANAGERS = (Role.ADMIN, Role.CASE_MANAGER)


def _origin_offices() -> list[tuple[int, str]] | None:
    """Administrators choose the partner's office; case managers use their own."""
    if current_user.role != Role.ADMIN:
        return None
    return services.origin_offices()


@bp.get("/partners")
@signed_in
def partners() -> Any:
    status = request.args.get("vetting_status")
    listed = services.list_partners(
        actor=current_user,
        vetting_status=VettingStatus(status) if status in set(VettingStatus) else None,
    )
    counts = services.count_options([p.id for p in listed], actor=current_user)
    return render_template(
        "partners/partners.html", partners=listed, option_counts=counts, vetting_status=status
    )


@bp.route("/partners/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def new_partner() -> Any:
    form = partner_form(None, _origin_offices())
    return submit_form(
        form,
        lambda: services.create_partner(
            form.to_input(),
            office_id=form.office_id.data if "office_id" in form else None,
            actor=current_user,
        ),
        done=_("The partner is saved. It is pending vetting."),
        then=lambda partner: url_for("partners.partner", partner_id=partner.id),
        page=lambda: render_template("partners/partner_form.html", form=form, partner=None),
    )


@bp.get("/partners/<int:partner_id>")
@signed_in
def partner(partner_id: int) -> Any:
    found = access.get_partner(partner_id, actor=current_user)
    return render_template(
        "partners/partner.html",
        partner=found,
        options=services.list_options(actor=current_user, partner_id=found.id),
        can_manage=access.can_manage(found, current_user),
        vetting_form=VettingForm(vetting_status=found.vetting_status.value),
        performance=services.partner_performance(found.id),
    )


@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_partner(partner_id: int) -> Any:
    found = access.get_partner(partner_id, actor=current_user)
    form = partner_form(found, None)
    return submit_form(
        form,
        lambda: services.update_partner(found.id, form.to_input(), actor=current_user),
        done=_("The partner is saved."),
        then=url_for("partners.partner", partner_id=found.id),
        page=lambda: render_template("partners/partner_form.html", form=form, partner=found),
    )


@bp.post("/partners/<int:partner_id>/vetting")
@roles(*MANAGERS)
def set_vetting(partner_id: int) -> Any:
    form = VettingForm()
    return submit_flashed(
        form,
        lambda: services.set_vetting_status(
            partner_id,
            VettingStatus(form.vetting_status.data),
            reason=form.reason.data or "",
            actor=current_user,
        ),
        done=_("The vetting status is saved."),
        back=url_for("partners.partner", partner_id=partner_id),
    )


@bp.route("/partners/<int:partner_id>/options/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def new_option(partner_id: int) -> Any:
    found = access.get_partner(partner_id, actor=current_user)
    form = OptionForm()
    return submit_form(
        form,
        lambda: services.create_option(found.id, form.to_input(), actor=current_user),
        done=_("The support option is saved as a draft."),
        then=lambda option: url_for("partners.option", option_id=option.id),
        page=lambda: render_template(
            "partners/option_form.html", form=form, partner=found, option=None
        ),
        show=form.show_error,
    )


@bp.get("/options/<int:option_id>")
@signed_in
def option(option_id: int) -> Any:
    found = access.get_option(option_id, actor=current_user)
    return render_template(
        "partners/option.html",
        option=found,
        text=found.text(str(get_locale() or "en")),
        free_places=capacity.free_places(found.id),
        is_stale=services.is_stale(found),
        hidden_as_stale=services.is_hidden_as_stale(found),
        can_manage=access.can_manage(found, current_user),
        next_statuses=sorted(services.STATUS_TRANSITIONS[found.status]),
        button_form=ButtonForm(),
    )


@bp.route("/options/<int:option_id>/edit", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_option(option_id: int) -> Any:
    found = access.get_option(option_id, actor=current_user)
    form = OptionForm(data=None if request.method == "POST" else OptionForm.data_of(found))
    return submit_form(
        form,
        lambda: services.update_option(found.id, form.to_input(), actor=current_user),
        done=_("The support option is saved."),
        then=url_for("partners.option", option_id=found.id),
        page=lambda: render_template(
            "partners/option_form.html", form=form, partner=found.partner, option=found
        ),
        show=form.show_error,
    )


@bp.post("/options/<int:option_id>/verify")
@roles(*MANAGERS)
def verify_option(option_id: int) -> Any:
    if ButtonForm().validate_on_submit():
        services.verify_option(option_id, actor=current_user)
        db.session.commit()
        flash(_("Recorded: you verified this option today."), "success")
    return redirect(url_for("partners.option", option_id=option_id))


@bp.post("/options/<int:option_id>/status")
@roles(*MANAGERS)
def set_option_status(option_id: int) -> Any:
    form = StatusForm()
    return submit_flashed(
        form,
        lambda: services.set_option_status(
            option_id, OptionStatus(form.status.data), actor=current_user
        ),
        done=_("The status is changed."),
        back=url_for("partners.option", option_id=option_id),
    )


@bp.route("/import", methods=["GET", "POST"])
@roles(*MANAGERS)
def import_options() -> Any:
    form = ImportForm(offices=_origin_offices())
    problems: list[imports.RowError] = []

    def import_file() -> list[SupportOption]:
        upload = form.file.data
        office_id = form.office_id.data if "office_id" in form else None
        return imports.import_options(
            upload.filename or "", upload.read(), office_id=office_id, actor=current_user
        )

    def show(error: DomainError) -> None:
        if isinstance(error, imports.ImportRejected):  # line by line, above the table
            problems.extend(error.rows)
            form.form_errors.append(str(error.message))
        else:
            show_domain_error(form, error)

    return submit_form(
        form,
        import_file,
        done=lambda created: _(
            "%(count)d support options are imported as drafts.", count=len(created)
        ),
        then=url_for("partners.partners"),
        page=lambda: (
            render_template(
                "partners/import.html", form=form, problems=problems, columns=imports.COLUMNS
            ),
            422 if form.is_submitted() and (problems or form.errors or form.form_errors) else 200,
        ),
        show=show,
    )


@bp.get("/import/template.<any(csv, xlsx):fmt>")
@roles(*MANAGERS)
def import_template(fmt: str) -> Any:
    content, mimetype = (
        (imports.template_csv(), "text/csv")
        if fmt == "csv"
        else (imports.template_xlsx(), imports.XLSX_MIMETYPE)
    )
    response = make_response(content)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = (
        f'attachment; filename="support-options-template.{fmt}"'
    )
    return response


# --- referrals (partners/referrals.py) -------------------------------------------------------

REFERRAL_READERS = (Role.PARTNER, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)
ANSWER_RATE_LIMIT = "30 per minute"
#: The answer page carries its token in the URL: never cached. (The app-wide Referrer-Policy,
#: same-origin, already keeps the URL from other sites.)
LINK_PAGE_HEADERS = {"Cache-Control": "no-store"}


def _submit_answer(
    referral_id: int, accept: AcceptReferralForm, decline: DeclineReferralForm, actor: Actor
) -> int | None:
    """Accept or decline with the form whose button was pressed and commit; None once done,
    else the status to render the page with (its errors are on the forms or flashed)."""
    if not (accept.submit.data or decline.submit.data):
        flash(_("Choose to accept or to decline the referral."), "warning")
        return 422
    form: AcceptReferralForm | DeclineReferralForm = decline if decline.submit.data else accept
    if not form.validate_on_submit():
        return 422

    def answer() -> None:
        if form is decline:
            referrals.decline_referral(
                referral_id,
                DeclineReason(decline.reason.data),
                note=decline.note.data or "",
                actor=actor,
            )
        else:
            referrals.accept_referral(referral_id, note=accept.note.data or "", actor=actor)

    answered = commit_or_roll_back(answer)
    if isinstance(answered, Refused):
        if isinstance(answered.error, InvalidInput):
            show_domain_error(form, answered.error)
        else:
            flash(str(answered.error.message), "warning")
        return answered.error.status_code
    if form is decline:
        flash(_("The referral is declined. IOM is told; thank you for answering."), "success")
    else:
        flash(_("The referral is accepted. Thank you."), "success")
    return None


def _referral_page(
    template: str,
    found: Referral,
    actor: Actor,
    forms: tuple[AcceptReferralForm, DeclineReferralForm],
    packet: bool = True,
) -> str:
    return render_template(
        template,
        referral=found,
        packet=packet,
        service=referrals.service_title(found.option),
        overdue=referrals.is_overdue(found),
        can_answer=referrals.can_answer(found, actor),
        shows_person=packet and referrals.shows_person(found, actor),
        accept_form=forms[0],
        decline_form=forms[1],
    )


@bp.route("/referrals/answer/<token>", methods=["GET", "POST"])
@public
@limiter.limit(ANSWER_RATE_LIMIT)
def answer_referral(token: str) -> Any:
    """The page the partner's e-mail links to: the referral, and its answer forms while open;
    what it shows as time passes is ``referrals.link_state``'s."""
    try:
        found = referrals.referral_for_token(token)
    except NotFound:
        page = render_template("partners/referral_answer.html", referral=None)
        return page, 404, LINK_PAGE_HEADERS
    state = referrals.link_state(found)
    if state == referrals.LinkState.GONE:
        page = render_template("partners/referral_answer.html", referral=None, gone=True)
        return page, 410, LINK_PAGE_HEADERS
    forms = referral_answer_forms()
    status = 200
    if request.method == "GET":
        referrals.record_view(found, actor=referrals.LINK_ACTOR)
        db.session.commit()  # the audited read
    if request.method == "POST":
        if state != referrals.LinkState.PACKET:
            status = 409  # over: nothing to answer, and no packet to show again
        elif (result := _submit_answer(found.id, *forms, actor=referrals.LINK_ACTOR)) is None:
            return redirect(url_for("partners.answer_referral", token=token))
        else:
            status = result
    page = _referral_page(
        "partners/referral_answer.html",
        found,
        referrals.LINK_ACTOR,
        forms=forms,
        packet=state == referrals.LinkState.PACKET,
    )
    return page, status, LINK_PAGE_HEADERS


@bp.get("/referrals")
@roles(*REFERRAL_READERS)
def referral_inbox() -> Any:
    status = request.args.get("status", "")
    page = referrals.partner_inbox(
        current_user,
        ReferralStatus(status) if status in set(ReferralStatus) else None,
        page=query_page(),
        page_size=int(current_app.config["PAGE_SIZE"]),
    )
    return render_template(
        "partners/referrals.html",
        page=page,
        status=status,
        service_title=referrals.service_title,
        is_overdue=referrals.is_overdue,
    )


@bp.route("/referrals/<int:referral_id>", methods=["GET", "POST"])
@roles(*REFERRAL_READERS)
def referral(referral_id: int) -> Any:
    """One referral; its partner's users answer it here too."""
    found = referrals.get_referral(referral_id, actor=current_user)
    forms = referral_answer_forms()
    status = 200
    if request.method == "GET":
        referrals.record_view(found, actor=current_user)
        db.session.commit()  # the audited read
    if request.method == "POST":
        result = _submit_answer(found.id, *forms, actor=current_user)
        if result is None:
            return redirect(url_for("partners.referral", referral_id=found.id))
        status = result
    return _referral_page("partners/referral.html", found, current_user, forms), status


@bp.context_processor
def marketplace_labels() -> dict[str, Any]:
    return {
        "labels": {
            "vetting": VETTING_LABELS,
            "status": STATUS_LABELS,
            "category": CATEGORY_LABELS,
            "cost_basis": COST_BASIS_LABELS,
            "delivery_mode": DELIVERY_MODE_LABELS,
            "period": PERIOD_LABELS,
            "payment_schedule": PAYMENT_SCHEDULE_LABELS,
            "sex": SEX_LABELS,
            "vulnerability": VULNERABILITY_LABELS,
            "referral_status": REFERRAL_STATUS_LABELS,
            "decline_reason": DECLINE_REASON_LABELS,
        }
    }
