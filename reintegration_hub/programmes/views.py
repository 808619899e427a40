"""Programme set-up pages: grants and their priority lists, budget cap rules, exchange rates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import submit_form
from reintegration_hub.extensions import db
from reintegration_hub.programmes import caps, places, services
from reintegration_hub.programmes import rates as exchange
from reintegration_hub.programmes.forms import (
    CapRuleForm,
    GrantForm,
    RateChangeForm,
    RateForm,
    RateImportForm,
)
from reintegration_hub.programmes.labels import APPROVER_LABELS, TARGET_LABELS
from reintegration_hub.programmes.models import BudgetCapRule, Grant

__all__ = ["TARGET_LABELS", "bp"]

bp = Blueprint("programmes", __name__, url_prefix="/programmes")

MANAGERS = (Role.ADMIN, Role.PROGRAMME_MANAGER)
RATES_PAGE_SIZE = 50


@bp.app_context_processor
def programme_labels() -> dict[str, Any]:
    return {"target_labels": TARGET_LABELS, "approver_labels": APPROVER_LABELS}


def _status(form: FlaskForm) -> int:
    return 422 if form.is_submitted() and (form.errors or form.form_errors) else 200


# --- grants ---------------------------------------------------------------------------------


@bp.get("/grants")
@roles(*MANAGERS)
def grants() -> Any:
    listed = services.list_grants(actor=current_user)
    return render_template(
        "programmes/grants.html", grants=listed, places=services.places_of(listed)
    )


@bp.route("/grants/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def new_grant() -> Any:
    return _grant_form(None)


@bp.route("/grants/<int:grant_id>", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_grant(grant_id: int) -> Any:
    return _grant_form(services.managed_grant(grant_id, actor=current_user))


def _grant_form(grant: Grant | None) -> Any:
    offices = [(o.id, o.name) for o in services.holding_offices(actor=current_user)]
    form = GrantForm.for_grant(grant, offices=offices)

    def save() -> object:
        if grant is None:
            return services.create_grant(**form.terms().__dict__, actor=current_user)
        return services.update_grant(grant.id, form.terms(), actor=current_user)

    return submit_form(
        form,
        save,
        done=_("The grant is saved."),
        then=url_for("programmes.grants"),
        page=lambda: (
            render_template("programmes/grant_form.html", form=form, grant=grant),
            _status(form),
        ),
        show=form.show_error,
    )


@bp.get("/grants/<int:grant_id>/priority")
@roles(*MANAGERS)
def priority(grant_id: int) -> Any:
    found = places.priority_list(
        grant_id, actor=current_user, page=request.args.get("page", 1, type=int)
    )
    return render_template("programmes/priority.html", priority=found, tiers=places.tiers())


# --- budget cap rules -----------------------------------------------------------------------


@bp.get("/cap-rules")
@roles(*MANAGERS)
def cap_rules() -> Any:
    return render_template(
        "programmes/cap_rules.html",
        rules=caps.list_cap_rules(actor=current_user),
        delete_form=FlaskForm(),
    )


@bp.route("/cap-rules/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def new_cap_rule() -> Any:
    return _cap_rule_form(None)


@bp.route("/cap-rules/<int:rule_id>", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_cap_rule(rule_id: int) -> Any:
    return _cap_rule_form(caps.get_cap_rule(rule_id, actor=current_user))


def _cap_rule_form(rule: BudgetCapRule | None) -> Any:
    grants = [(g.id, f"{g.number} {g.title}") for g in services.list_grants(actor=current_user)]
    form = CapRuleForm.for_rule(rule, grants=grants)

    def save() -> object:
        if rule is None:
            return caps.create_cap_rule(form.terms(), actor=current_user)
        return caps.update_cap_rule(rule.id, form.terms(), actor=current_user)

    return submit_form(
        form,
        save,
        done=_("The budget cap rule is saved."),
        then=url_for("programmes.cap_rules"),
        page=lambda: (
            render_template("programmes/cap_rule_form.html", form=form, rule=rule),
            _status(form),
        ),
        show=form.show_error,
    )


@bp.post("/cap-rules/<int:rule_id>/delete")
@roles(*MANAGERS)
def delete_cap_rule(rule_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        caps.delete_cap_rule(rule_id, actor=current_user)
        db.session.commit()
        flash(_("The budget cap rule is removed."), "success")
    return redirect(url_for("programmes.cap_rules"))


# --- exchange rates -------------------------------------------------------------------------


def _rates_page(form: RateForm, status: int = 200) -> Any:
    currency = (request.args.get("currency") or "").strip().upper() or None
    listed = exchange.list_rates(
        actor=current_user,
        currency=currency,
        page=request.args.get("page", 1, type=int),
        page_size=RATES_PAGE_SIZE,
    )
    return render_template(
        "programmes/rates.html",
        form=form,
        listed=listed,
        currency=currency,
        currencies=exchange.rate_currencies(),
        delete_form=FlaskForm(),
    ), status


@bp.get("/rates")
@roles(*MANAGERS)
def rates() -> Any:
    return _rates_page(RateForm(formdata=None))


@bp.post("/rates")
@roles(*MANAGERS)
def add_rate() -> Any:
    form = RateForm()
    return submit_form(
        form,
        lambda: exchange.record_rate(
            form.currency.data or "",
            form.valid_on.data,  # type: ignore[arg-type]  # DataRequired
            form.rate.data,  # type: ignore[arg-type]  # InputRequired
            units_per_eur=form.units_per_eur,
            source=form.source.data or "",
            actor=current_user,
        ),
        done=_("The rate is recorded."),
        then=url_for("programmes.rates", currency=form.currency.data),
        page=lambda: _rates_page(form, 422),
        show=form.show_error,
    )


@bp.route("/rates/<int:rate_id>", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit_rate(rate_id: int) -> Any:
    row = exchange.get_rate(rate_id, actor=current_user)
    form = RateChangeForm(
        data={"rate": row.eur_per_unit, "quoted_as": "eur_per_unit", "source": row.source}
    )
    return submit_form(
        form,
        lambda: exchange.update_rate(
            row.id,
            form.rate.data,  # type: ignore[arg-type]  # InputRequired
            units_per_eur=form.units_per_eur,
            source=form.source.data or "",
            actor=current_user,
        ),
        done=_("The rate is saved."),
        then=url_for("programmes.rates", currency=row.currency),
        page=lambda: (
            render_template("programmes/rate_form.html", form=form, rate=row),
            _status(form),
        ),
        show=form.show_error,
    )


@bp.post("/rates/<int:rate_id>/delete")
@roles(*MANAGERS)
def delete_rate(rate_id: int) -> Any:
    if FlaskForm().validate_on_submit():
        exchange.delete_rate(rate_id, actor=current_user)
        db.session.commit()
        flash(_("The rate is removed."), "success")
    return redirect(url_for("programmes.rates"))


@bp.route("/rates/import", methods=["GET", "POST"])
@roles(*MANAGERS)
def import_rates() -> Any:
    form = RateImportForm()
    problems: list[Any] = []

    def show(error: DomainError) -> None:
        if isinstance(error, exchange.RatesRejected):  # line by line, above the table
            problems.extend(error.rows)
            form.form_errors.append(str(error.message))
        else:
            form.file.errors = [*form.file.errors, str(error.message)]

    return submit_form(
        form,
        lambda: exchange.import_rates(
            form.file.data.filename or "",
            form.file.data.read(exchange.MAX_IMPORT_BYTES + 1),
            actor=current_user,
        ),
        done=lambda result: _(
            "Rates imported: %(added)d new, %(changed)d changed, %(unchanged)d unchanged.",
            added=result.added,
            changed=result.changed,
            unchanged=result.unchanged,
        ),
        then=url_for("programmes.rates"),
        page=lambda: (
            render_template("programmes/rates_import.html", form=form, problems=problems),
            422 if form.is_submitted() and (problems or form.errors) else 200,
        ),
        show=show,
    )


@bp.get("/rates/template.csv")
@roles(*MANAGERS)
def rates_template() -> Any:
    response = make_response(exchange.template_csv())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="exchange-exchange.csv"'
    return response
