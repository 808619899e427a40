"""Follow-up forms: a monitoring visit, a sustainability survey (one 0-4 answer per indicator)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from reintegration_hub.core.forms import choices
from reintegration_hub.followups.labels import (
    INDICATOR_LABELS,
    KIND_LABELS,
    RESPONSIBLE_LABELS,
    VISIT_MODE_LABELS,
)
from reintegration_hub.followups.models import (
    MilestoneKind,
    Responsible,
    ScoringVersion,
    VisitMode,
)
from reintegration_hub.followups.scoring import MAX_ANSWER
from reintegration_hub.followups.services import StepInput, VisitInput


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


class NewTemplateForm(FlaskForm):
    grant_id = SelectField(_l("Grant"), coerce=int)


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    grace_days = IntegerField(
        _l("Grace period (days)"),
        validators=[InputRequired()],
        description=_l("How long the case stays open for late work after the window closes."),
    )


class StepForm(FlaskForm):
    """A template step; the rules (ranges, chains, escalation order) are the service's."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("Type"), choices=choices((k.value, label) for k, label in KIND_LABELS.items())
    )
    offset_days = IntegerField(_l("Due after (days)"), validators=[InputRequired()])
    after_step = SelectField(_l("Counted from"), choices=[], validate_choice=False)
    responsible = SelectField(
        _l("Responsible"),
        choices=choices((r.value, label) for r, label in RESPONSIBLE_LABELS.items()),
    )
    reminder_days = IntegerField(
        _l("Reminder (days before it is due)"), validators=[InputRequired()]
    )
    supervisor_after_days = IntegerField(
        _l("Office supervisor told after (days overdue)"),
        validators=[Optional()],
        description=_l("Empty: the office supervisor is not told."),
    )
    home_office_after_days = IntegerField(
        _l("Home office told after (days overdue)"),
        validators=[Optional()],
        description=_l("Empty: the home office is not told."),
    )

    def step_input(self, key: str = "") -> StepInput:
        return StepInput(
            key=key,
            name=self.name.data or "",
            kind=MilestoneKind(self.kind.data),
            offset_days=int(self.offset_days.data or 0),
            after_step=self.after_step.data or None,
            responsible=Responsible(self.responsible.data),
            reminder_days=int(self.reminder_days.data or 0),
            supervisor_after_days=self.supervisor_after_days.data,
            home_office_after_days=self.home_office_after_days.data,
        )


class NewStepForm(StepForm):
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("A stable name such as visit_120; it cannot be changed later."),
    )
