"""``/api/v1``: plans and their lines, with the same services and scope as the pages."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest.error_handler import ErrorSchema

from reintegration_hub.core.api import Blueprint, SelectPage
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import NotFound
from reintegration_hub.extensions import db
from reintegration_hub.plans import services
from reintegration_hub.plans.models import Plan
from reintegration_hub.plans.schemas import (
    LineCreateSchema,
    LineUpdateSchema,
    PlanQuerySchema,
    PlanSchema,
    PlanSummarySchema,
    ReviewSchema,
    RevisionSchema,
    SubmitSchema,
)
from reintegration_hub.plans.views import BUILDERS, READERS, REVIEWERS

bp = Blueprint("plans_api", __name__, url_prefix="", description="Reintegration plans")

NOT_FOUND = {"schema": ErrorSchema, "description": "Not in the caller's scope"}
REFUSED = {"schema": ErrorSchema, "description": "Not allowed in the plan's present state"}


def _plan(case_id: int) -> Plan:
    plan = services.plan_for_case(case_id, actor=current_user)
    if plan is None:
        raise NotFound(services.NO_PLAN)
    return plan


@bp.get("/plans")
@bp.arguments(PlanQuerySchema, location="query")
@bp.response(200, PlanSummarySchema(many=True))
@bp.paginate(SelectPage)
@roles(*READERS)
def list_plans(query: dict[str, Any]) -> Any:
    """The plans the caller may see, newest first."""
    return services.plan_list_statement(actor=current_user, **query)


@bp.get("/cases/<int:case_id>/plan")
@bp.response(200, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@roles(*READERS)
def get_plan(case_id: int) -> Any:
    """The case's plan with its lines, holds and referrals."""
    return _plan(case_id)


@bp.post("/cases/<int:case_id>/plan")
@bp.response(201, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*BUILDERS)
def start_plan(case_id: int) -> Any:
    """Start the case's plan (or answer the one started) with the family's budget cap."""
    services.start_plan(case_id, actor=current_user)
    db.session.commit()
    return _plan(case_id)


@bp.get("/plans/<int:plan_id>/revisions")
@bp.response(200, RevisionSchema(many=True))
@bp.alt_response(404, **NOT_FOUND)
@roles(*READERS)
def list_revisions(plan_id: int) -> Any:
    """The plan's versions, newest first: who changed what, when."""
    return services.revisions(plan_id, actor=current_user)


@bp.post("/plans/<int:plan_id>/lines")
@bp.arguments(LineCreateSchema)
@bp.response(201, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*BUILDERS)
def add_line(data: dict[str, Any], plan_id: int) -> Any:
    """Add a marketplace option that fits the returnee (422 with the reasons if not)."""
    line = services.add_line(plan_id, data.pop("option_id"), **data, actor=current_user)
    db.session.commit()
    return _plan(line.plan.returnee_id)


@bp.patch("/plans/lines/<int:line_id>")
@bp.arguments(LineUpdateSchema)
@bp.response(200, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*BUILDERS)
def update_line(data: dict[str, Any], line_id: int) -> Any:
    """Change a line's quantity and notes."""
    line = services.update_line(line_id, **data, actor=current_user)
    db.session.commit()
    return _plan(line.plan.returnee_id)


@bp.delete("/plans/lines/<int:line_id>")
@bp.response(200, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*BUILDERS)
def remove_line(line_id: int) -> Any:
    """Take a line out of the plan; its held place is given back."""
    plan = services.remove_line(line_id, actor=current_user)
    db.session.commit()
    return _plan(plan.returnee_id)


@bp.post("/plans/<int:plan_id>/submit")
@bp.arguments(SubmitSchema)
@bp.response(200, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*BUILDERS)
def submit_plan(data: dict[str, Any], plan_id: int) -> Any:
    """Submit to the origin office: places are held; over the cap needs a justification."""
    plan = services.submit_plan(plan_id, **data, actor=current_user)
    db.session.commit()
    return _plan(plan.returnee_id)


@bp.post("/plans/<int:plan_id>/<any(return, confirm, approve):step>")
@bp.arguments(ReviewSchema)
@bp.response(200, PlanSchema)
@bp.alt_response(404, **NOT_FOUND)
@bp.alt_response(409, **REFUSED)
@roles(*REVIEWERS)
def review_plan(data: dict[str, Any], plan_id: int, step: str) -> Any:
    """``return`` (with comments) or ``confirm`` feasibility: origin case managers;
    ``approve``: programme managers (referrals go out to the partners)."""
    plan = services.REVIEW_STEPS[step](plan_id, comment=data["comment"], actor=current_user)
    db.session.commit()
    return _plan(plan.returnee_id)
