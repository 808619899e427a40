"""Marketplace pages: partners, support options, search, import."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from partners import imports, services
from partners.forms import (
    ButtonForm,
    ImportForm,
    OptionForm,
    SearchForm,
    StatusForm,
    VettingForm,
    partner_form,
)
from partners.labels import (
    CATEGORY_LABELS,
    COST_BASIS_LABELS,
    DELIVERY_MODE_LABELS,
    PERIOD_LABELS,
    STATUS_LABELS,
    VETTING_LABELS,
)
from partners.models import OptionStatus, VettingStatus
from partners.search import query_from_params, search_options
from reintegration_hub.core.authz import roles, signed_in
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db

bp = Blueprint("partners", __name__, url_prefix="/marketplace")


# --- search (helper B: partners/search.py) ---------------------------------------------------


def _search_url(**changes: Any) -> str:
    """This search with some parameters changed (facet links, pages); back to page 1 unless
    the page is what changes."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["page"] = ["1"]
    for name, value in changes.items():
        args[name] = [] if value in (None, "") else [str(value)]
    return url_for("partners.search", **args)


@bp.get("/search")
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER, Role.COUNSELLOR, Role.CASE_MANAGER)
def search() -> Any:
    form = SearchForm(request.args)
    result = None
    if form.validate():
        params = {**form.data, "eligible_only": form.eligible_only.data == "1"}
        query = query_from_params(params, display_language=str(get_locale() or "en"))
        result = search_options(query, actor=current_user)
    return render_template(
        "partners/search.html",
        form=form,
        result=result,
        search_url=_search_url,
        category_labels=CATEGORY_LABELS,
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
    if form.validate_on_submit():
        office_id = form.office_id.data if "office_id" in form else None
        try:
            partner = services.create_partner(
                form.to_input(), office_id=office_id, actor=current_user
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The partner is saved. It is pending vetting."), "success")
            return redirect(url_for("partners.partner", partner_id=partner.id))
    return render_template("partners/partner_form.html", form=form, partner=None)


@bp.get("/partners/<int:partner_id>")
@signed_in
def partner(partner_id: int) -> Any:
    found = services.get_partner(partner_id, actor=current_user)
    return render_template(
        "partners/partner.html",
        partner=found,
        options=services.list_options(actor=current_user, partner_id=found.id),
        can_manage=services.can_manage(found, current_user),
        vetting_form=VettingForm(vetting_status=found.vetting_status.value),
    )


@bp.route("/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_partner(partner_id: int) -> Any:
    found = services.get_partner(partner_id, actor=current_user)
    form = partner_form(found, None)
    if form.validate_on_submit():
        try:
            services.update_partner(found.id, form.to_input(), actor=current_user)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The partner is saved."), "success")
            return redirect(url_for("partners.partner", partner_id=found.id))
    return render_template("partners/partner_form.html", form=form, partner=found)


@bp.post("/partners/<int:partner_id>/vetting")
@roles(*MANAGERS)
def set_vetting(partner_id: int) -> Any:
    form = VettingForm()
    if form.validate_on_submit():
        try:
            services.set_vetting_status(
                partner_id,
                VettingStatus(form.vetting_status.data),
                reason=form.reason.data or "",
                actor=current_user,
            )
        except DomainError as error:
            flash(str(error), "danger")
        else:
            db.session.commit()
            flash(_("The vetting status is saved."), "success")
    return redirect(url_for("partners.partner", partner_id=partner_id))


@bp.route("/partners/<int:partner_id>/options/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def new_option(partner_id: int) -> Any:
    found = services.get_partner(partner_id, actor=current_user)
    form = OptionForm()
    if form.validate_on_submit():
        try:
            option = services.create_option(found.id, form.to_input(), actor=current_user)
        except DomainError as error:
            form.show_error(error)
        else:
            db.session.commit()
            flash(_("The support option is saved as a draft."), "success")
            return redirect(url_for("partners.option", option_id=option.id))
    return render_template("partners/option_form.html", form=form, partner=found, option=None)


@bp.get("/options/<int:option_id>")
@signed_in
def option(option_id: int) -> Any:
    found = services.get_option(option_id, actor=current_user)
    return render_template(
        "partners/option.html",
        option=found,
        text=found.text(str(get_locale() or "en")),
        free_places=services.free_places(found.id),
        is_stale=services.is_stale(found),
        hidden_as_stale=services.is_hidden_as_stale(found),
        can_manage=services.can_manage(found, current_user),
        next_statuses=sorted(services.STATUS_TRANSITIONS[found.status]),
        button_form=ButtonForm(),
    )


@bp.route("/options/<int:option_id>/edit", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_option(option_id: int) -> Any:
    found = services.get_option(option_id, actor=current_user)
    form = OptionForm(data=None if request.method == "POST" else OptionForm.data_of(found))
    if form.validate_on_submit():
        try:
            services.update_option(found.id, form.to_input(), actor=current_user)
        except DomainError as error:
            form.show_error(error)
        else:
            db.session.commit()
            flash(_("The support option is saved."), "success")
            return redirect(url_for("partners.option", option_id=found.id))
    return render_template(
        "partners/option_form.html", form=form, partner=found.partner, option=found
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
    if form.validate_on_submit():
        try:
            services.set_option_status(
                option_id, OptionStatus(form.status.data), actor=current_user
            )
        except DomainError as error:
            flash(str(error), "danger")
        else:
            db.session.commit()
            flash(_("The status is changed."), "success")
    return redirect(url_for("partners.option", option_id=option_id))


@bp.route("/import", methods=["GET", "POST"])
@roles(*MANAGERS)
def import_options() -> Any:
    form = ImportForm(offices=_origin_offices())
    problems: list[imports.RowError] = []
    if form.validate_on_submit():
        upload = form.file.data
        office_id = form.office_id.data if "office_id" in form else None
        try:
            created = imports.import_options(
                upload.filename or "", upload.read(), office_id=office_id, actor=current_user
            )
        except imports.ImportRejected as error:
            problems = error.rows
            form.form_errors.append(str(error.message))
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(
                _("%(count)d support options are imported as drafts.", count=len(created)),
                "success",
            )
            return redirect(url_for("partners.partners"))
    return render_template(
        "partners/import.html", form=form, problems=problems, columns=imports.COLUMNS
    ), (422 if form.is_submitted() and (problems or form.errors or form.form_errors) else 200)


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
            "sex": SEX_LABELS,
            "vulnerability": VULNERABILITY_LABELS,
        }
    }
