"""Plan forms: a line's quantity and notes, submission with a justification, review comments."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from reintegration_hub.core.forms import Form
from reintegration_hub.plans.models import PlanLine
from reintegration_hub.plans.services import MAX_QUANTITY


class LineForm(Form):
    class Meta:
        model = PlanLine

    quantity = IntegerField(
        _l("Quantity"), default=1, validators=[DataRequired(), NumberRange(1, MAX_QUANTITY)]
    )
    notes = TextAreaField(_l("Notes for the partner"), validators=[Optional()])


class AddLineForm(LineForm):
    option_id = IntegerField(widget=HiddenInput(), validators=[DataRequired()])


class SubmitForm(Form):
    justification = TextAreaField(
        _l("Justification for going over the cap"), validators=[Optional(), Length(max=5000)]
    )


class ReviewForm(Form):
    comment = TextAreaField(_l("Comments"), validators=[Optional(), Length(max=5000)])
