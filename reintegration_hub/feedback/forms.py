"""The returnee's feedback form: a score (1-5) per delivered support, a comment. It only
shapes the input; what counts as a valid answer is ``services.answer_feedback``'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, TextAreaField
from wtforms.validators import Length, Optional

from reintegration_hub.core.forms import Form, choices
from reintegration_hub.feedback.models import MAX_SCORE, MIN_SCORE
from reintegration_hub.feedback.services import COMMENT_MAX, Support

SCORE_LABELS = {
    1: _l("Very bad"),
    2: _l("Bad"),
    3: _l("Fair"),
    4: _l("Good"),
    5: _l("Very good"),
}


class FeedbackForm(Form):
    comment = TextAreaField(
        _l("Anything you want to tell us (optional)"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
        render_kw={"maxlength": COMMENT_MAX, "rows": 4},
    )

    @classmethod
    def for_supports(cls, supports: Sequence[Support]) -> FeedbackForm:
        """The form with one score field per support, ``score_<plan line id>``."""
        fields: dict[str, Any] = {
            f"score_{support.line_id}": RadioField(
                support.title,
                choices=choices((value, str(value)) for value in range(MIN_SCORE, MAX_SCORE + 1)),
                coerce=_score,
                validate_choice=False,  # the service says what is wrong, at the field
            )
            for support in supports
        }
        form_class = type("SupportsFeedbackForm", (cls,), fields)
        form: FeedbackForm = form_class()
        return form

    def scores(self, supports: Sequence[Support]) -> dict[int, Any]:
        return {s.line_id: self[f"score_{s.line_id}"].data for s in supports}


def _score(value: Any) -> int | None:
    """A posted score as a number; anything else (``abc``, 2^64 digits) as no score."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 2):
        return None
    return int(text)
