"""``/api/v1/cases/<id>/feedback``: a case's feedback requests and the returnee's answers,
read-only, scoped and audited like the case page."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.feedback import services
from reintegration_hub.feedback.schemas import FeedbackRequestSchema

bp = Blueprint(
    "feedback_api", __name__, url_prefix="/cases", description="Returnee feedback on a case"
)

#: Who reads a case's feedback: whoever reads the case (partners see only their figures).
READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)


@bp.get("/<int:case_id>/feedback")
@bp.response(200, FeedbackRequestSchema(many=True))
@bp.refuses({404: "No such case in the caller's scope"})
@roles(*READERS)
@commits
def list_case_feedback(case_id: int) -> Any:
    """The case's feedback requests, newest first, with their status, scores and comment;
    every read is audited (``feedback.read`` on the case)."""
    return services.read_case_feedback(case_id, actor=current_user)
