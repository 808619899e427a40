from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import Optional

from reintegration_hub.core.forms import Form


class FlowRunFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    flow = SelectField(_l("Flow"), validators=[Optional()], choices=[])
    state = SelectField(_l("State"), validators=[Optional()], choices=[])
