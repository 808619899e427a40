"""Plan forms: a line's quantity and notes, submission with a justification, review comments.

Every form that changes a plan carries the plan version the page showed (``version``), so that
a plan changed meanwhile is refused rather than overwritten.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from reintegration_hub.core.forms import Form
from reintegration_hub.core.validation import MAX_ID
from reintegration_hub.plans.amendments import REASON_MAX
from reintegration_hub.plans.models import PlanLine
from reintegration_hub.plans.services import MAX_QUANTITY, NOTES_MAX


class VersionedForm(Form):
    version = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(1, MAX_ID)])


class LineFields(VersionedForm):
    """A line's quantity and notes, with the column rules of ``PlanLine``."""

    class Meta:
        model = PlanLine

    quantity = IntegerField(
        _l("Quantity"), default=1, validators=[DataRequired(), NumberRange(1, MAX_QUANTITY)]
    )
    notes = TextAreaField(
        _l("Notes for the partner"), validators=[Optional(), Length(max=NOTES_MAX)]
    )


class LineForm(LineFields):
    """A line changed: in a draft, or proposed in an amendment (then with why)."""

    reason = StringField(_l("Why"), validators=[Optional(), Length(max=REASON_MAX)])


class AddLineForm(LineFields):
    """An option added from the option picker (a card of the search results)."""

    option_id = IntegerField(widget=HiddenInput(), validators=[DataRequired()])


class TakeOutForm(VersionedForm):
    reason = StringField(_l("Why"), validators=[Optional(), Length(max=REASON_MAX)])


class ReplaceForm(VersionedForm):
    """Refer a closed line's option again (no option given) or replace it with another."""

    option_id = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(1, MAX_ID)])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(1, MAX_QUANTITY)])
    notes = TextAreaField(
        _l("Notes for the partner"), validators=[Optional(), Length(max=NOTES_MAX)]
    )


class AmendmentForm(VersionedForm):
    reason = TextAreaField(
        _l("Why the plan must change"), validators=[Optional(), Length(max=REASON_MAX)]
    )


class SubmitForm(VersionedForm):
    justification = TextAreaField(
        _l("Justification for going over the cap"), validators=[Optional(), Length(max=5000)]
    )


class ReviewForm(VersionedForm):
    comment = TextAreaField(_l("Comments"), validators=[Optional(), Length(max=5000)])
