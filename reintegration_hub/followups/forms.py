"""Follow-up forms: a monitoring visit, a sustainability survey (one 0-4 answer per indicator)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from reintegration_hub.core.forms import choices
from reintegration_hub.followups.labels import INDICATOR_LABELS, VISIT_MODE_LABELS
from reintegration_hub.followups.models import ScoringVersion, VisitMode
from reintegration_hub.followups.scoring import MAX_ANSWER
from reintegration_hub.followups.services import VisitInput


class VisitForm(FlaskForm):
    visited_on = DateField(_l("Date"), validators=[DataRequired()])
    mode = SelectField(
        _l("How"), choices=choices((m.value, label) for m, label in VISIT_MODE_LABELS.items())
    )
    findings = TextAreaField(_l("Findings"), validators=[Optional(), Length(max=5000)])
    next_steps = TextAreaField(_l("Next steps"), validators=[Optional(), Length(max=5000)])
    plan_revision_needed = BooleanField(_l("The plan needs a revision"))

    def visit_input(self) -> VisitInput:
        return VisitInput(
            visited_on=self.visited_on.data,  # type: ignore[arg-type]  # DataRequired
            mode=VisitMode(self.mode.data),
            findings=self.findings.data or "",
            next_steps=self.next_steps.data or "",
            plan_revision_needed=bool(self.plan_revision_needed.data),
        )


def survey_form(version: ScoringVersion, formdata: Any = None) -> FlaskForm:
    """A form with the survey date and one 0-4 field per indicator of ``version``."""

    class SurveyForm(FlaskForm):
        taken_on = DateField(_l("Date of the survey"), validators=[DataRequired()])

    for key in version.indicators:
        setattr(
            SurveyForm,
            f"answer_{key}",
            IntegerField(
                INDICATOR_LABELS.get(key, key),
                validators=[InputRequired(), NumberRange(0, MAX_ANSWER)],
                description=_l("0 = very poor, 4 = very good"),
            ),
        )
    return SurveyForm(formdata=formdata) if formdata is not None else SurveyForm()


def survey_answers(form: FlaskForm, version: ScoringVersion) -> dict[str, int]:
    return {key: int(getattr(form, f"answer_{key}").data) for key in version.indicators}
