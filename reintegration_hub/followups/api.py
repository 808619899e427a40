"""``/api/v1``: milestones and their actions, the arrival, office supervisors; the same
services, rules and scope as the follow-up pages."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.followups import actions, ownership
from reintegration_hub.followups.schemas import (
    ArrivalResultSchema,
    ArrivalSchema,
    DoneSchema,
    MilestoneActionSchema,
    MilestoneSchema,
    MoveSchema,
    NotApplicableSchema,
    ReopenSchema,
    SupervisorSchema,
)
from reintegration_hub.followups.views import ACTORS

bp = Blueprint(
    "followups_api", __name__, url_prefix="", description="Follow-up milestones and their actions"
)

READERS = (*ACTORS, Role.PROGRAMME_MANAGER)
NOT_FOUND = "Not in the caller's scope"
FORBIDDEN = "Not an owner of the milestone, its office's supervisor or an administrator"
REFUSED = "Closed already, the window's own milestone, a closed case, or closed by its own record"


@bp.get("/cases/<int:case_id>/milestones")
@bp.response(200, MilestoneSchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def list_milestones(case_id: int) -> Any:
    """The case's milestones the caller sees, by due date."""
    return actions.case_milestones(case_id, actor=current_user)


@bp.get("/milestones/<int:milestone_id>")
@bp.response(200, MilestoneSchema)
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def get_milestone(milestone_id: int) -> Any:
    """One milestone."""
    return actions.get_milestone(milestone_id, actor=current_user)


@bp.get("/milestones/<int:milestone_id>/history")
@bp.response(200, MilestoneActionSchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def milestone_history(milestone_id: int) -> Any:
    """What was done to the milestone by hand, oldest first."""
    milestone = actions.get_milestone(milestone_id, actor=current_user)
    return actions.milestone_history(milestone.id)


def _acted(milestone_id: int) -> Any:
    """The milestone as the action left it."""
    return actions.get_milestone(milestone_id, actor=current_user)


@bp.post("/milestones/<int:milestone_id>/done")
@bp.arguments(DoneSchema)
@bp.response(200, MilestoneSchema)
@bp.refuses({403: FORBIDDEN, 404: NOT_FOUND, 409: REFUSED})
@roles(*ACTORS)
@commits
def mark_done(data: dict[str, Any], milestone_id: int) -> Any:
    """Done on a day (not in the future, not before the return). An arrival milestone records
    the arrival; visits, surveys and deliveries are done by recording them (409)."""
    actions.mark_done(milestone_id, **data, actor=current_user)
    return _acted(milestone_id)


@bp.post("/milestones/<int:milestone_id>/not-applicable")
@bp.arguments(NotApplicableSchema)
@bp.response(200, MilestoneSchema)
@bp.refuses({403: FORBIDDEN, 404: NOT_FOUND, 409: REFUSED})
@roles(*ACTORS)
@commits
def mark_not_applicable(data: dict[str, Any], milestone_id: int) -> Any:
    """Not applicable, for a reason from the list (a note too for ``other``): status
    ``cancelled`` with the reason."""
    actions.mark_not_applicable(milestone_id, **data, actor=current_user)
    return _acted(milestone_id)


@bp.post("/milestones/<int:milestone_id>/move")
@bp.arguments(MoveSchema)
@bp.response(200, MilestoneSchema)
@bp.refuses({403: FORBIDDEN, 404: NOT_FOUND, 409: REFUSED})
@roles(*ACTORS)
@commits
def move_milestone(data: dict[str, Any], milestone_id: int) -> Any:
    """A new due date; reminders and escalations move with it, the next check decides the
    state again."""
    actions.move_milestone(milestone_id, **data, actor=current_user)
    return _acted(milestone_id)


@bp.post("/milestones/<int:milestone_id>/reopen")
@bp.arguments(ReopenSchema)
@bp.response(200, MilestoneSchema)
@bp.refuses({403: FORBIDDEN, 404: NOT_FOUND, 409: REFUSED})
@roles(*ACTORS)
@commits
def reopen_milestone(data: dict[str, Any], milestone_id: int) -> Any:
    """Undo a done or not applicable set by hand, while the window is open."""
    actions.reopen_milestone(milestone_id, **data, actor=current_user)
    return _acted(milestone_id)


@bp.post("/cases/<int:case_id>/arrival")
@bp.arguments(ArrivalSchema)
@bp.response(200, ArrivalResultSchema)
@bp.refuses({404: NOT_FOUND, 409: "The case is closed"})
@roles(*actions.ARRIVAL_ROLES)
@commits
def record_arrival(data: dict[str, Any], case_id: int) -> Any:
    """Record or correct the arrival (not in the future, not before the departure): the
    arrival milestone is done on that day."""
    return actions.record_arrival(case_id, **data, actor=current_user)


@bp.get("/follow-up/supervisors")
@bp.response(200, SupervisorSchema(many=True))
@roles(Role.ADMIN)
def list_supervisors() -> Any:
    """Every active host and origin office with its supervisor."""
    return [row.office for row in ownership.office_supervisors(actor=current_user)]


@bp.put("/follow-up/supervisors/<int:office_id>")
@bp.arguments(SupervisorSchema)
@bp.response(200, SupervisorSchema)
@bp.refuses({404: "No such office"})
@roles(Role.ADMIN)
@commits
def set_supervisor(data: dict[str, Any], office_id: int) -> Any:
    """Name the office's supervisor: an active user of the office in the role it works in."""
    return ownership.set_office_supervisor(office_id, data["supervisor_id"], actor=current_user)
