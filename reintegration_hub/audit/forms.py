from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import Optional

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.forms import Form


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing
        model = AuditEntry

    actor_id = IntegerField(_l("User id"), validators=[Optional()])
    action = StringField(_l("Action"), validators=[Optional()])
    object_type = StringField(_l("Object type"), validators=[Optional()])
    object_id = StringField(_l("Object id"), validators=[Optional()])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])
