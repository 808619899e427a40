"""Follow-up forms: a monitoring visit, a sustainability survey (one 0-4 answer per indicator)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from reintegration_hub.core.forms import Form, choices
from reintegration_hub.followups.labels import (
    INDICATOR_LABELS,
    KIND_LABELS,
    NOT_APPLICABLE_LABELS,
    RESPONSIBLE_LABELS,
    VISIT_MODE_LABELS,
)
from reintegration_hub.followups.models import (
    UNTEMPLATED_KINDS,
    Dimension,
    MilestoneKind,
    MilestoneStep,
    MilestoneTemplate,
    MonitoringVisit,
    NotApplicableReason,
    Responsible,
    ScoringVersion,
    SustainabilitySurvey,
    VisitMode,
)
from reintegration_hub.followups.scoring import MAX_ANSWER
from reintegration_hub.followups.templates import StepInput
from reintegration_hub.followups.visits import VisitInput


class VisitForm(Form):
    class Meta:
        model = MonitoringVisit

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


#: Where a milestone action returns to: the plan's follow-up, or the work list.
BACK_TO = ("plan", "work")


class _MilestoneActionForm(Form):
    back = HiddenField(default="plan", validators=[Optional(), AnyOf(BACK_TO)])


class DoneForm(_MilestoneActionForm):
    done_on = DateField(_l("Done on"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])


class NotApplicableForm(_MilestoneActionForm):
    reason = SelectField(
        _l("Reason"),
        choices=choices((r.value, label) for r, label in NOT_APPLICABLE_LABELS.items()),
    )
    note = TextAreaField(
        _l("Note"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Required for another reason."),
    )

    def not_applicable_reason(self) -> NotApplicableReason:
        return NotApplicableReason(self.reason.data)


class MoveForm(_MilestoneActionForm):
    due_on = DateField(_l("New due date"), validators=[DataRequired()])
    reason = TextAreaField(_l("Why"), validators=[DataRequired(), Length(max=1000)])


class ReopenForm(_MilestoneActionForm):
    reason = TextAreaField(_l("Why"), validators=[DataRequired(), Length(max=1000)])


class ArrivalForm(Form):
    arrived_on = DateField(_l("Arrived on"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)])


class SupervisorForm(Form):
    supervisor_id = SelectField(_l("Supervisor"), coerce=lambda v: int(v) if v else None)


def survey_form(version: ScoringVersion, formdata: Any = None, **kwargs: Any) -> Form:
    """A form with the survey date and one 0-4 field per indicator of ``version`` (``kwargs``:
    the form's, e.g. a ``prefix``)."""

    class SurveyForm(Form):
        class Meta:
            model = SustainabilitySurvey

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
    return SurveyForm(formdata=formdata, **kwargs) if formdata is not None else SurveyForm(**kwargs)


def survey_answers(form: Form, version: ScoringVersion) -> dict[str, int]:
    return {key: int(getattr(form, f"answer_{key}").data) for key in version.indicators}


class NewTemplateForm(Form):
    grant_id = SelectField(_l("Grant"), coerce=int)


class TemplateForm(Form):
    class Meta:
        model = MilestoneTemplate

    name = StringField(_l("Name"), validators=[DataRequired()])
    grace_days = IntegerField(
        _l("Grace period (days)"),
        validators=[InputRequired()],
        description=_l("How long the case stays open for late work after the window closes."),
    )


class StepForm(Form):
    """A template step; the rules (ranges, chains, escalation order) are the service's."""

    class Meta:
        model = MilestoneStep

    name = StringField(_l("Name"), validators=[DataRequired()])
    kind = SelectField(
        _l("Type"),
        choices=choices(
            (k.value, label) for k, label in KIND_LABELS.items() if k not in UNTEMPLATED_KINDS
        ),
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
        validators=[DataRequired()],
        description=_l("A stable name such as visit_120; it cannot be changed later."),
    )


def _pairs(text: str) -> list[tuple[str, str]]:
    """``name = value`` lines (blank lines skipped); ValueError names the first bad line."""
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(number)
        pairs.append((name.strip(), value.strip()))
    return pairs


def parse_bands(text: str) -> list[tuple[str, float]]:
    """``low = 0`` per line."""
    try:
        return [(name, float(value)) for name, value in _pairs(text)]
    except ValueError as error:
        raise ValueError(_l("Write one band per line: name = lowest score.")) from error


def parse_indicators(text: str) -> dict[str, tuple[str, float]]:
    """``income_sources = economic, 1`` per line."""
    indicators: dict[str, tuple[str, float]] = {}
    try:
        for key, value in _pairs(text):
            dimension, _sep, weight = value.partition(",")
            indicators[key] = (dimension.strip(), float(weight or 1))
    except ValueError as error:
        raise ValueError(_l("Write one indicator per line: key = dimension, weight.")) from error
    return indicators


class ScoringForm(Form):
    """A new scoring version; the rules (ranges, bands from 0) are the service's."""

    class Meta:
        model = ScoringVersion

    weight_economic = FloatField(_l("Economic weight"), validators=[InputRequired()])
    weight_social = FloatField(_l("Social weight"), validators=[InputRequired()])
    weight_psychosocial = FloatField(_l("Psychosocial weight"), validators=[InputRequired()])
    bands = TextAreaField(
        _l("Bands"),
        validators=[DataRequired()],
        description=_l("One per line: name = lowest composite score (0 to 1)."),
    )
    indicators = TextAreaField(
        _l("Indicators"),
        validators=[DataRequired()],
        description=_l("One per line: key = dimension, weight."),
    )
    low_score = FloatField(_l("Flag scores below"), validators=[InputRequired()])
    imbalance_gap = FloatField(
        _l("Flag a gap between dimensions above"), validators=[InputRequired()]
    )
    decline_drop = FloatField(
        _l("Flag a drop since the last survey above"), validators=[InputRequired()]
    )
    note = StringField(_l("Note"), validators=[Optional()])
    rescore = BooleanField(_l("Score the stored surveys again under the new version"))

    def validate_bands(self, field: Any) -> None:
        try:
            parse_bands(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error.args[0])) from error

    def validate_indicators(self, field: Any) -> None:
        try:
            parse_indicators(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error.args[0])) from error

    def fill_from(self, version: ScoringVersion) -> None:
        """Start from the version in force."""
        for dimension in Dimension:
            getattr(self, f"weight_{dimension.value}").data = version.dimension_weights.get(
                dimension.value, 0
            )
        self.bands.data = "\n".join(f"{name} = {lower}" for name, lower in version.bands)
        self.indicators.data = "\n".join(
            f"{key} = {dimension}, {weight}"
            for key, (dimension, weight) in version.indicators.items()
        )
        self.low_score.data = version.low_score
        self.imbalance_gap.data = version.imbalance_gap
        self.decline_drop.data = version.decline_drop
        self.rescore.data = True

    def version_input(self) -> dict[str, Any]:
        """The keyword arguments of ``services.load_scoring_version``."""
        return {
            "dimension_weights": {
                d.value: float(getattr(self, f"weight_{d.value}").data or 0) for d in Dimension
            },
            "indicators": parse_indicators(self.indicators.data or ""),
            "bands": parse_bands(self.bands.data or ""),
            "low_score": float(self.low_score.data or 0),
            "imbalance_gap": float(self.imbalance_gap.data or 0),
            "decline_drop": float(self.decline_drop.data or 0),
            "note": self.note.data or "",
        }


class SaveWorkListForm(Form):
    """The work list's present filters kept under a name (the filters ride in the query)."""

    name = StringField(_l("Name of the list"), validators=[DataRequired(), Length(max=80)])
    shared = BooleanField(_l("Share with my office"))
