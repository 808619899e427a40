"""A fresh installation: the first administrator, in the home office, from the command line
(``flask setup``). Everything else (offices, users, grants, cap rules, exchange rates) is then
entered in the pages."""

from __future__ import annotations

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from reintegration_hub.auth import services as auth
from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.errors import Conflict, InvalidInput
from reintegration_hub.core.roles import OfficeKind, Role, SystemActor
from reintegration_hub.extensions import db
from reintegration_hub.programmes.services import Errors, clean_text

SETUP_ACTOR = SystemActor("setup")


def has_administrator() -> bool:
    """Whether any administrator account exists, active or not."""
    return db.session.scalar(sa.select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None


def create_first_administrator(
    *,
    office_name: str,
    country_code: str,
    email: str,
    full_name: str,
    password: str,
    preferred_language: str = "en",
) -> User:
    """The home office (found by name, or created) and its first administrator.

    Refuses (``Conflict``) once any administrator exists: from then on administrators add
    users in the pages. Audited as ``system:setup``; the caller commits."""
    if has_administrator():
        raise Conflict(_l("An administrator exists already: sign in and add users in the pages."))
    errors: Errors = {}
    office_name = clean_text(office_name, "office_name", errors, max_length=120)
    full_name = clean_text(full_name, "full_name", errors, max_length=160)
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        errors["email"] = [_l("Give a valid e-mail address.")]
    if errors:
        raise InvalidInput(_l("Some details are not valid."), field_errors=errors)
    office = db.session.scalars(
        sa.select(Office).where(sa.func.lower(Office.name) == office_name.lower())
    ).one_or_none()
    if office is None:
        office = auth.create_office(
            name=office_name,
            kind=OfficeKind.HOME,
            country_code=country_code,
            languages=[preferred_language],
            actor=SETUP_ACTOR,
        )
    return auth.create_user(
        email=email,
        full_name=full_name,
        office_id=office.id,
        role=Role.ADMIN,
        password=password,
        preferred_language=preferred_language,
        actor=SETUP_ACTOR,
    )
