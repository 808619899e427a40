"""Sign-in, the user's own account, and the administrators' users and offices pages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

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
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

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
from reintegration_hub.core.inbox import is_app_path
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.submit import submit_form
from reintegration_hub.core.web import query_int
from reintegration_hub.extensions import db, limiter

bp = Blueprint("auth", __name__)


# Sign-in limits. Only failed attempts count (a successful sign-in uses no budget: a whole
# office behind one address signs in at nine), and there are three, so that guessing stays
# bounded while nobody can lock a named user out from somewhere else:
# - per account and address (LOGIN_RATE_LIMIT, strict): guessing one password from one place.
#   The user elsewhere has a budget of their own, so an attacker exhausts only theirs;
# - per address (LOGIN_ADDRESS_RATE_LIMIT): one place trying many accounts;
# - per account (LOGIN_ACCOUNT_RATE_LIMIT, much looser): one password guessed from many places.
#   It must stay well above what one address may send at one account (twice the strict limit
#   per window, as fixed windows need not line up), or one address could lock the user out.
# The address is the client's as the trusted proxies forward it (TRUSTED_PROXIES, ProxyFix);
# without them, everyone behind a proxy would share one budget.


def _limit(key: str) -> Callable[[], str]:
    return lambda: str(current_app.config[key])


def _account() -> str:
    """The account an attempt names, as a digest: the limiter's storage keeps no e-mails."""
    email = services.normalise_email(request.form.get("email", ""))
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _account_and_address() -> str:
    return f"login-account-address:{_account()}:{get_remote_address()}"


def _account_anywhere() -> str:
    return f"login-account:{_account()}"


def _address() -> str:
    return f"login-address:{get_remote_address()}"


def _failed(response: Response) -> bool:
    return response.status_code != 302  # a sign-in that worked redirects


def _sign_in(user: User) -> None:
    """Open a server-side session for ``user`` and give this browser a fresh cookie for it,
    never the one it came with (no fixation across the sign-in); the caller commits."""
    services.start_session(
        user, user_agent=request.user_agent.string, address=request.remote_addr or ""
    )
    session.clear()
    login_user(user)
    session.permanent = True


def _safe_next(target: str | None) -> str:
    """Only a path inside the application (``core.inbox.is_app_path``): never an open redirect
    to another host, ``/\\host`` included, which browsers read as ``//host``."""
    return target if target and is_app_path(target) else url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    _limit("LOGIN_RATE_LIMIT"),
    methods=["POST"],
    key_func=_account_and_address,
    deduct_when=_failed,
)
@limiter.limit(
    _limit("LOGIN_ADDRESS_RATE_LIMIT"), methods=["POST"], key_func=_address, deduct_when=_failed
)
@limiter.limit(
    _limit("LOGIN_ACCOUNT_RATE_LIMIT"),
    methods=["POST"],
    key_func=_account_anywhere,
    deduct_when=_failed,
)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    return submit_form(
        form,
        lambda: _sign_in(services.authenticate(form.email.data or "", form.password.data or "")),
        then=_safe_next(request.args.get("next")),
        page=lambda: render_template("auth/login.html", form=form),
    )


@bp.post("/logout")
@public
def logout() -> Any:
    if current_user.is_authenticated and current_user.session_key:
        services.end_session(current_user.session_key, actor=current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    response = redirect(url_for("auth.login"))
    # what pages kept on the device (the field page's list and unsent answers, its service
    # worker) goes with the session; the page asked before deleting unsent answers
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


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
        sessions=services.list_sessions(actor=current_user),
        this_session=services.session_key_digest(current_user.session_key),
    )


@bp.get("/account")
@signed_in
def account() -> Any:
    return _account_page()


@bp.post("/account/password")
@signed_in
def change_password() -> Any:
    form = ChangePasswordForm()

    def change() -> None:
        user = services.change_password(
            current_user.id,
            current_password=form.current_password.data or "",
            new_password=form.password.data or "",
            actor=current_user,
        )
        _sign_in(user)  # every session ended; this browser goes on in a new one

    return submit_form(
        form,
        change,
        done=_("Your password is changed. Other sessions are signed out."),
        then=url_for("auth.account"),
        page=lambda: (_account_page(password_form=form), 422),
    )


@bp.post("/account/sessions/end-others")
@signed_in
def end_other_sessions() -> Any:
    if ActiveForm().validate_on_submit():
        services.end_other_sessions(keep_key=current_user.session_key, actor=current_user)
        db.session.commit()
        flash(_("Your other sessions are signed out."), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sessions/<int:session_id>/end")
@signed_in
def end_session(session_id: int) -> Any:
    if ActiveForm().validate_on_submit():
        services.end_other_session(session_id, actor=current_user)
        db.session.commit()
        flash(_("That session is signed out."), "success")
    return redirect(url_for("auth.account"))


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

    def create() -> None:
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
        services.set_partner_memberships(user.id, form.partner_ids.data or [], actor=current_user)

    return submit_form(
        form,
        create,
        done=_("The user is created."),
        then=url_for("auth.users"),
        page=lambda: render_template("auth/user_form.html", form=form, user=None),
    )


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_user(user_id: int) -> Any:
    user = get_scoped(User, user_id, current_user)
    form = UserForm(obj=user, offices=_office_choices(), partners=services.partner_choices())
    del form.password
    if request.method == "GET":
        form.partner_ids.data = services.partner_ids_of(user.id)

    def update() -> None:
        services.update_user(
            user.id,
            email=form.email.data or "",
            full_name=form.full_name.data or "",
            office_id=form.office_id.data or 0,
            role=Role(form.role.data),
            preferred_language=form.preferred_language.data or "en",
            actor=current_user,
        )
        services.set_partner_memberships(user.id, form.partner_ids.data or [], actor=current_user)

    return submit_form(
        form,
        update,
        done=_("The user is saved."),
        then=url_for("auth.users"),
        page=lambda: render_template("auth/user_form.html", form=form, user=user),
    )


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

    def save() -> object:
        fields = {
            "name": form.name.data or "",
            "kind": OfficeKind(form.kind.data),
            "country_code": form.country_code.data or "",
            "city": form.city.data or "",
            "languages": form.languages.data or [],
            "actor": current_user,
        }
        if office is None:
            return services.create_office(**fields)
        return services.update_office(office.id, **fields)

    return submit_form(
        form,
        save,
        done=_("The office is saved."),
        then=url_for("auth.offices"),
        page=lambda: render_template("auth/office_form.html", form=form, office=office),
    )


@bp.post("/admin/offices/<int:office_id>/active")
@roles(Role.ADMIN)
def set_office_active(office_id: int) -> Any:
    form = ActiveForm()
    if form.validate_on_submit():
        services.set_office_active(office_id, bool(form.active.data), actor=current_user)
        db.session.commit()
        flash(_("The office is updated."), "success")
    return redirect(url_for("auth.offices"))
