"""The returnee's feedback page (public: opened from an SMS, no account) and the case
manager's "handed over" button."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from reintegration_hub.core.authz import public, roles
from reintegration_hub.core.errors import Conflict, NotFound
from reintegration_hub.core.forms import show_domain_error
from reintegration_hub.core.inbox import is_app_path
from reintegration_hub.core.roles import Role
from reintegration_hub.core.submit import Refused, commit_or_roll_back, submit_flashed
from reintegration_hub.extensions import limiter
from reintegration_hub.feedback import services
from reintegration_hub.feedback.forms import SCORE_LABELS, FeedbackForm

bp = Blueprint("feedback", __name__)

#: As the partners' answer links: a link is opened a few times, never hammered.
ANSWER_RATE_LIMIT = "30 per minute"
#: The page carries its signed code in the address: never cached.
LINK_PAGE_HEADERS = {"Cache-Control": "no-store"}
#: Who hands a link over to the returnee.
HANDERS = (Role.CASE_MANAGER, Role.ADMIN)


def _page(status: int, **context: Any) -> Any:
    page = render_template("feedback/answer.html", score_labels=SCORE_LABELS, **context)
    return page, status, LINK_PAGE_HEADERS


@bp.route("/f/<code>", methods=["GET", "POST"])
@public
@limiter.limit(ANSWER_RATE_LIMIT)
def answer(code: str) -> Any:
    """The form the returnee's link opens, in their language; answered once."""
    try:
        found = services.request_for_link(code)
    except NotFound:
        return _page(404, state="invalid")
    with force_locale(found.language):
        state = services.link_state(found)
        if state == services.LinkState.EXPIRED:
            return _page(410, state="expired")
        if state == services.LinkState.ANSWERED:
            return _page(409 if request.method == "POST" else 200, state="answered")
        supports = services.supports(found)
        form = FeedbackForm.for_supports(supports)
        if form.validate_on_submit():
            result = commit_or_roll_back(
                lambda: services.answer_feedback(
                    found.id, form.scores(supports), form.comment.data or ""
                )
            )
            if not isinstance(result, Refused):
                return redirect(url_for("feedback.answer", code=code))
            if isinstance(result.error, Conflict):
                return _page(409, state="answered")
            show_domain_error(form, result.error)
        status = 422 if request.method == "POST" else 200
        return _page(status, state="open", form=form, supports=supports, language=found.language)


@bp.post("/feedback/<int:request_id>/sent")
@roles(*HANDERS)
def mark_sent(request_id: int) -> Any:
    """The case manager handed the link over (copied into a message of their own)."""
    return submit_flashed(
        FlaskForm(),
        lambda: services.mark_feedback_sent(request_id, actor=current_user),
        back=_back(),
        done=_("The feedback link is marked as handed over."),
    )


@bp.post("/feedback/<int:request_id>/renew")
@roles(*HANDERS)
def renew(request_id: int) -> Any:
    """A new link for a request whose link expired unanswered."""
    return submit_flashed(
        FlaskForm(),
        lambda: services.renew_feedback_link(request_id, actor=current_user),
        back=_back(),
        done=_("A new feedback link is ready."),
    )


def _back() -> str:
    """Where the case page's buttons go back to: the posted path inside the application (the
    case page's feedback section), else home."""
    back = request.form.get("back", "")
    return back if is_app_path(back) else url_for("home.index")
