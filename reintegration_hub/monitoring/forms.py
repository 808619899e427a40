from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional

from reintegration_hub.core.forms import Form, choices
from reintegration_hub.monitoring.models import ActivityKind, ProgrammeActivity

ACTIVITY_LABELS: dict[Any, Any] = {
    ActivityKind.SHORT_STAY: _l("Short stay before departure"),
    ActivityKind.CAPACITY_EVENT: _l("Capacity-building event"),
}


class ActivityForm(Form):
    class Meta:
        model = ProgrammeActivity

    grant_id = SelectField(_l("Grant"), coerce=int, validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"),
        choices=choices((k.value, label) for k, label in ACTIVITY_LABELS.items()),
        validators=[DataRequired()],
    )
    occurred_on = DateField(_l("Date"), validators=[DataRequired()])
    people_count = IntegerField(
        _l("People"), validators=[DataRequired(), NumberRange(min=0, max=100_000)]
    )
    note = StringField(_l("Note"), validators=[Optional()])
