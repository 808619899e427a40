"""``/api/v1``: the work list, milestones and their actions, the arrival, visits and surveys
(each may carry the client's key: a retried upload never makes a second), office supervisors;
the same services, rules, scope and audit as the follow-up pages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import joinedload

from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.followups import actions, ownership, visits, worklist
from reintegration_hub.followups.models import Milestone
from reintegration_hub.followups.schemas import (
    ArrivalResultSchema,
    ArrivalSchema,
    DoneSchema,
    FieldItemSchema,
    MilestoneActionSchema,
    MilestoneSchema,
    MoveSchema,
    NotApplicableSchema,
    ReopenSchema,
    SupervisorSchema,
    SurveySchema,
    VisitSchema,
    WorkListQuerySchema,
)
from reintegration_hub.followups.views import ACTORS

bp = Blueprint(
    "followups_api", __name__, url_prefix="", description="Follow-up milestones and their actions"
)

READERS = (*ACTORS, Role.PROGRAMME_MANAGER)
NOT_FOUND = "Not in the caller's scope"
FORBIDDEN = "Not an owner of the milestone, its office's supervisor or an administrator"
REFUSED = "Closed already, the window's own milestone, a closed case, or closed by its own record"


@bp.get("/milestones")
@bp.arguments(WorkListQuerySchema, location="query")
@bp.response(200, MilestoneSchema(many=True))
@bp.paginate(SelectPage)
@roles(*READERS, Role.PARTNER)
def work_list(query: dict[str, Any]) -> Any:
    """The work list: the due and overdue milestones the caller answers for or oversees,
    overdue first, then by due date."""
    filters = worklist.WorkListFilters(**query)
    stmt = worklist.work_list_where(
        sa.select(Milestone).options(joinedload(Milestone.returnee)), filters, actor=current_user
    )
    return stmt.order_by(*worklist.WORK_LIST_ORDER)


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


VISIT_ERRORS = {
    403: "Not a case manager or administrator",
    404: NOT_FOUND,
    409: "This key was sent with another record; or the milestone of for_milestone_id is "
    "no longer open, or the case was closed (nothing is recorded)",
    422: "A bad field, or a day outside the follow-up window",
}


@bp.get("/cases/<int:case_id>/visits")
@bp.response(200, VisitSchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
@commits
def list_visits(case_id: int) -> Any:
    """The case's monitoring visits, latest first; the read is audited."""
    return visits.read_case_visits(case_id, actor=current_user)


@bp.post("/cases/<int:case_id>/visits")
@bp.arguments(VisitSchema)
@bp.response(201, VisitSchema)
@bp.alt_response(200, schema=VisitSchema, description="Recorded before with this client_key")
@bp.refuses(VISIT_ERRORS)
@roles(*visits.RECORDER_ROLES)
@commits
def record_visit(data: dict[str, Any], case_id: int) -> Any:
    """Record a visit; it closes the visit milestone whose window holds its day."""
    key = data.pop("client_key")
    visit, made = visits.record_visit_once(
        case_id, visits.VisitInput(**data), client_key=key, actor=current_user
    )
    return visit, 201 if made else 200


@bp.get("/cases/<int:case_id>/surveys")
@bp.response(200, SurveySchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
@commits
def list_surveys(case_id: int) -> Any:
    """The case's sustainability surveys with their scores, latest first; audited."""
    return visits.read_case_surveys(case_id, actor=current_user)


@bp.post("/cases/<int:case_id>/surveys")
@bp.arguments(SurveySchema)
@bp.response(201, SurveySchema)
@bp.alt_response(200, schema=SurveySchema, description="Recorded before with this client_key")
@bp.refuses(VISIT_ERRORS)
@roles(*visits.RECORDER_ROLES)
@commits
def record_survey(data: dict[str, Any], case_id: int) -> Any:
    """Record a survey, scored under the version in force; it closes the survey milestone
    whose window holds its day."""
    survey, made = visits.record_survey_once(
        case_id,
        data["taken_on"],
        data["answers"],
        client_key=data["client_key"],
        for_milestone_id=data["for_milestone_id"],
        actor=current_user,
    )
    return survey, 201 if made else 200


@bp.get("/follow-up/field")
@bp.response(200, FieldItemSchema(many=True))
@roles(*visits.RECORDER_ROLES)
def field_work() -> Any:
    """The caller's visits and surveys to make (the offline page's data): the open visit and
    survey milestones of their own open cases, overdue or due within 30 days, by due date;
    each case by its number and town only."""
    return worklist.field_work(actor=current_user)


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
