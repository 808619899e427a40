from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from reintegration_hub.auth.models import ApiToken, Office, User
from reintegration_hub.auth.services import MIN_PASSWORD_LENGTH
from reintegration_hub.core import i18n
from reintegration_hub.core.forms import Form, choices
from reintegration_hub.core.labels import LANGUAGE_LABELS, OFFICE_KIND_LABELS, ROLE_LABELS


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ChangePasswordForm(Form):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256)]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LanguageForm(Form):
    language = SelectField(_l("Language"), choices=choices(LANGUAGE_LABELS.items()))


class ApiTokenForm(Form):
    class Meta:
        model = ApiToken

    name = StringField(_l("Token name"), validators=[DataRequired()])


class UserForm(Form):
    class Meta:
        model = User

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    full_name = StringField(_l("Full name"), validators=[DataRequired()])
    office_id = SelectField(_l("Office"), coerce=int, validators=[DataRequired()])
    role = SelectField(
        _l("Role"), choices=choices((r.value, label) for r, label in ROLE_LABELS.items())
    )
    preferred_language = SelectField(_l("Language"), choices=choices(LANGUAGE_LABELS.items()))
    password = PasswordField(
        _l("Initial password"),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=256)],
        description=_l(
            "Give it to the person by a separate channel; they change it under My account."
        ),
    )

    partner_ids = SelectMultipleField(
        _l("Answers referrals for"),
        coerce=int,
        description=_l("Partner focal points only: the organisations whose referrals they see."),
    )

    def __init__(
        self,
        *args: Any,
        offices: list[tuple[int, str]],
        partners: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.office_id.choices = choices(offices)
        self.partner_ids.choices = choices(partners)


class OfficeForm(Form):
    class Meta:
        model = Office

    name = StringField(_l("Name"), validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"), choices=choices((k.value, label) for k, label in OFFICE_KIND_LABELS.items())
    )
    country_code = SelectField(_l("Country"), validators=[DataRequired()])
    city = StringField(_l("City"), validators=[Optional()])
    languages = SelectMultipleField(_l("Working languages"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country_code.choices = choices(i18n.country_choices())
        self.languages.choices = choices(i18n.language_choices())


class ActiveForm(Form):
    """A button that switches an account or an office on or off (POST with CSRF)."""

    active = BooleanField()
