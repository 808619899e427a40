"""Plan forms: a line's quantity and notes, submission with a justification, review comments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from reintegration_hub.plans.services import MAX_QUANTITY


class LineForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"), default=1, validators=[DataRequired(), NumberRange(1, MAX_QUANTITY)]
    )
    notes = TextAreaField(_l("Notes for the partner"), validators=[Optional(), Length(max=1000)])


class AddLineForm(LineForm):
    option_id = HiddenField(validators=[DataRequired()])


class SubmitForm(FlaskForm):
    justification = TextAreaField(
        _l("Justification for going over the cap"), validators=[Optional(), Length(max=5000)]
    )


class ReviewForm(FlaskForm):
    comment = TextAreaField(_l("Comments"), validators=[Optional(), Length(max=5000)])
