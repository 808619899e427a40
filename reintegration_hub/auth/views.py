"""Sign-in, the user's own account, and the administrators' users and offices pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from reintegration_hub.auth import services
from reintegration_hub.auth.forms import (
    ActiveForm,
    ApiTokenForm,
    ChangePasswordForm,
    LanguageForm,
    LoginForm,
    OfficeForm,
    UserForm,
)
from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.authz import get_scoped, public, roles, signed_in
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.web import query_int
from reintegration_hub.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _login_email() -> str:
    return "login:" + services.normalise_email(request.form.get("email", ""))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target if not urlsplit(target).netloc else url_for("home.index")
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_login_email)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data or "", form.password.data or "")
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            session.clear()  # a fresh session: no fixation across the sign-in
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@public
def logout() -> Any:
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
@public
def set_language() -> Any:
    form = LanguageForm()
    if form.validate_on_submit():
        language = form.language.data or "en"
        session["language"] = language
        if current_user.is_authenticated:
            services.set_preferred_language(current_user.id, language, actor=current_user)
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


def _account_page(
    password_form: ChangePasswordForm | None = None,
    token_form: ApiTokenForm | None = None,
    new_token: str | None = None,
) -> str:
    return render_template(
        "auth/account.html",
        password_form=password_form or ChangePasswordForm(formdata=None),
        token_form=token_form or ApiTokenForm(formdata=None),
        new_token=new_token,
        tokens=services.list_api_tokens(actor=current_user),
        revoke_form=ActiveForm(formdata=None),
    )


@bp.get("/account")
@signed_in
def account() -> Any:
    return _account_page()


@bp.post("/account/password")
@signed_in
def change_password() -> Any:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user.id,
                current_password=form.current_password.data or "",
                new_password=form.password.data or "",
                actor=current_user,
            )
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            login_user(current_user)  # this session carries the new session version
            flash(_("Your password is changed. Other sessions are signed out."), "success")
            return redirect(url_for("auth.account"))
    return _account_page(password_form=form), 422


@bp.post("/account/tokens")
@signed_in
def issue_token() -> Any:
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _account_page(token_form=form), 422
    _token, raw = services.issue_api_token(name=form.name.data or "", actor=current_user)
    db.session.commit()
    return _account_page(new_token=raw)


@bp.post("/account/tokens/<int:token_id>/revoke")
@signed_in
def revoke_token(token_id: int) -> Any:
    if ActiveForm().validate_on_submit():
        services.revoke_api_token(token_id, actor=current_user)
        db.session.commit()
        flash(_("The token is revoked."), "success")
    return redirect(url_for("auth.account"))


# --- administration -------------------------------------------------------------------------


def _office_choices() -> list[tuple[int, str]]:
    return [(o.id, o.name) for o in services.list_offices(actor=current_user)]


@bp.get("/admin/users")
@roles(Role.ADMIN)
def users() -> Any:
    office_id = query_int("office_id")
    role = request.args.get("role")
    listed = services.list_users(
        actor=current_user,
        office_id=office_id,
        role=Role(role) if role in {r.value for r in Role} else None,
    )
    return render_template(
        "auth/users.html",
        users=listed,
        offices=services.list_offices(actor=current_user, include_inactive=True),
        office_id=office_id,
        role=role,
        active_form=ActiveForm(),
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles(Role.ADMIN)
def new_user() -> Any:
    form = UserForm(offices=_office_choices(), partners=services.partner_choices())
    if form.validate_on_submit():
        try:
            user = services.create_user(
                email=form.email.data or "",
                full_name=form.full_name.data or "",
                office_id=form.office_id.data or 0,
                role=Role(form.role.data),
                preferred_language=form.preferred_language.data or "en",
                password=form.password.data or "",
                actor=current_user,
            )
            db.session.flush()
            services.set_partner_memberships(
                user.id, form.partner_ids.data or [], actor=current_user
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The user is created."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_user(user_id: int) -> Any:
    user = get_scoped(User, user_id, current_user)
    form = UserForm(obj=user, offices=_office_choices(), partners=services.partner_choices())
    del form.password
    if request.method == "GET":
        form.partner_ids.data = services.partner_ids_of(user.id)
    if form.validate_on_submit():
        try:
            services.update_user(
                user.id,
                email=form.email.data or "",
                full_name=form.full_name.data or "",
                office_id=form.office_id.data or 0,
                role=Role(form.role.data),
                preferred_language=form.preferred_language.data or "en",
                actor=current_user,
            )
            services.set_partner_memberships(
                user.id, form.partner_ids.data or [], actor=current_user
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The user is saved."), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=user)


@bp.post("/admin/users/<int:user_id>/active")
@roles(Role.ADMIN)
def set_user_active(user_id: int) -> Any:
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_user_active(user_id, bool(form.active.data), actor=current_user)
        db.session.commit()
        flash(_("The account is updated."), "success")
    return redirect(url_for("auth.users"))


@bp.get("/admin/offices")
@roles(Role.ADMIN)
def offices() -> Any:
    return render_template(
        "auth/offices.html",
        offices=services.list_offices(actor=current_user, include_inactive=True),
        active_form=ActiveForm(),
    )


@bp.route("/admin/offices/new", methods=["GET", "POST"])
@roles(Role.ADMIN)
def new_office() -> Any:
    return _office_form(None)


@bp.route("/admin/offices/<int:office_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_office(office_id: int) -> Any:
    return _office_form(get_scoped(Office, office_id, current_user))


def _office_form(office: Office | None) -> Any:
    form = OfficeForm(obj=office)
    if form.validate_on_submit():
        fields = {
            "name": form.name.data or "",
            "kind": OfficeKind(form.kind.data),
            "country_code": form.country_code.data or "",
            "city": form.city.data or "",
            "languages": form.languages.data or [],
            "actor": current_user,
        }
        try:
            if office is None:
                services.create_office(**fields)
            else:
                services.update_office(office.id, **fields)
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            flash(_("The office is saved."), "success")
            return redirect(url_for("auth.offices"))
    return render_template("auth/office_form.html", form=form, office=office)


@bp.post("/admin/offices/<int:office_id>/active")
@roles(Role.ADMIN)
def set_office_active(office_id: int) -> Any:
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_office_active(office_id, bool(form.active.data), actor=current_user)
        db.session.commit()
        flash(_("The office is updated."), "success")
    return redirect(url_for("auth.offices"))
