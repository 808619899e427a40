"""``/api/v1/me/notifications``: the caller's in-app notices, and marking one read."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import signed_in
from reintegration_hub.notifications import inbox
from reintegration_hub.notifications.schemas import NoticeQuerySchema, NoticeSchema

bp = Blueprint("notifications_api", __name__, url_prefix="", description="In-app notifications")


@bp.get("/me/notifications")
@bp.arguments(NoticeQuerySchema, location="query")
@bp.response(200, NoticeSchema(many=True))
@bp.paginate(SelectPage)
@signed_in
def list_notices(query: dict[str, Any]) -> Any:
    """The caller's notices, newest first: one for each message e-mailed to them (whatever
    their e-mail choice)."""
    return inbox.inbox_statement(actor=current_user, unread=query["unread"])


@bp.post("/me/notifications/<int:notice_id>/read")
@bp.response(200, NoticeSchema)
@bp.refuses({404: "Not one of the caller's notices"})
@signed_in
@commits
def mark_read(notice_id: int) -> Any:
    """Mark one of the caller's notices read (again: no change)."""
    return inbox.mark_read(notice_id, actor=current_user)
