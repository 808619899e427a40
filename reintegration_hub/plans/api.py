"""``/api/v1``: plans, their lines and amendments, with the same services and scope as the pages.

Every change accepts the plan ``version`` the client last saw: a plan changed since is refused
with 409 rather than overwritten."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.errors import NotFound
from reintegration_hub.plans import amendments, services
from reintegration_hub.plans.models import Plan
from reintegration_hub.plans.schemas import (
    AmendmentOpenSchema,
    AmendmentSchema,
    LineCreateSchema,
    LineRemoveSchema,
    LineUpdateSchema,
    PlanQuerySchema,
    PlanSchema,
    PlanSummarySchema,
    ReplaceSchema,
    ReviewSchema,
    RevisionSchema,
    SubmitSchema,
    VersionedSchema,
)
from reintegration_hub.plans.views import BUILDERS, READERS, REVIEWERS

bp = Blueprint("plans_api", __name__, url_prefix="", description="Reintegration plans")

NOT_FOUND = "Not in the caller's scope"
REFUSED = "Not allowed in the plan's present state"


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
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
@commits
def get_plan(case_id: int) -> Any:
    """The case's plan with its lines, holds and referrals; every read is audited."""
    plan = services.view_plan(case_id, actor=current_user)
    if plan is None:
        raise NotFound(services.NO_PLAN)
    return plan


@bp.post("/cases/<int:case_id>/plan")
@bp.response(201, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def start_plan(case_id: int) -> Any:
    """Start the case's plan (or answer the one started) with the family's budget cap."""
    services.start_plan(case_id, actor=current_user)
    return _plan(case_id)


@bp.get("/plans/<int:plan_id>/revisions")
@bp.response(200, RevisionSchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def list_revisions(plan_id: int) -> Any:
    """The plan's versions, newest first: who changed what, when."""
    return services.revisions(plan_id, actor=current_user)


@bp.post("/plans/<int:plan_id>/lines")
@bp.arguments(LineCreateSchema)
@bp.response(201, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def add_line(data: dict[str, Any], plan_id: int) -> Any:
    """Add a marketplace option that fits the returnee (422 with the reasons if not): to a
    draft directly; to an approved plan as a line proposed in its amendment (opened if
    needed), referred once the amendment is in effect."""
    line = amendments.add_support(plan_id, data.pop("option_id"), **data, actor=current_user)
    return _plan(line.plan.returnee_id)


@bp.patch("/plans/lines/<int:line_id>")
@bp.arguments(LineUpdateSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def update_line(data: dict[str, Any], line_id: int) -> Any:
    """Change a line's quantity and notes: in a draft directly; in an approved plan as a
    change proposed in its amendment (never below what was delivered: 422)."""
    line = amendments.change_line(line_id, **data, actor=current_user)
    return _plan(line.plan.returnee_id)


@bp.delete("/plans/lines/<int:line_id>")
@bp.arguments(LineRemoveSchema, location="query")
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def remove_line(query: dict[str, Any], line_id: int) -> Any:
    """Take a line out: removed from a draft (its held place is given back); in an approved
    plan, proposed for cancellation in its amendment (409 when deliveries are recorded for it:
    reduce it instead)."""
    plan = amendments.take_out_line(line_id, **query, actor=current_user)
    return _plan(plan.returnee_id)


@bp.post("/plans/lines/<int:line_id>/replace")
@bp.arguments(ReplaceSchema)
@bp.response(201, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def replace_line(data: dict[str, Any], line_id: int) -> Any:
    """Propose a replacement for a declined, expired or cancelled line in the plan's
    amendment: another option, or the same one referred again (no ``option_id``)."""
    line = amendments.replace_line(line_id, **data, actor=current_user)
    return _plan(line.plan.returnee_id)


@bp.post("/plans/lines/<int:line_id>/keep")
@bp.arguments(VersionedSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def keep_line(data: dict[str, Any], line_id: int) -> Any:
    """Undo the change or cancellation the open amendment proposes for a line."""
    plan = amendments.keep_line(line_id, **data, actor=current_user)
    return _plan(plan.returnee_id)


@bp.post("/plans/<int:plan_id>/submit")
@bp.arguments(SubmitSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def submit_plan(data: dict[str, Any], plan_id: int) -> Any:
    """Submit to the origin office: places are held; over the cap needs a justification."""
    services.lock_plan(plan_id, actor=current_user, expected_version=data.pop("expected_version"))
    plan = services.submit_plan(plan_id, **data, actor=current_user)
    return _plan(plan.returnee_id)


@bp.post("/plans/<int:plan_id>/<any(return, confirm, approve):step>")
@bp.arguments(ReviewSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*REVIEWERS)
@commits
def review_plan(data: dict[str, Any], plan_id: int, step: str) -> Any:
    """``return`` (with comments) or ``confirm`` feasibility: origin case managers;
    ``approve``: programme managers (referrals go out to the partners)."""
    services.lock_plan(plan_id, actor=current_user, expected_version=data["expected_version"])
    plan = services.REVIEW_STEPS[step](plan_id, comment=data["comment"], actor=current_user)
    return _plan(plan.returnee_id)


@bp.get("/plans/<int:plan_id>/amendments")
@bp.response(200, AmendmentSchema(many=True))
@bp.refuses({404: NOT_FOUND})
@roles(*READERS)
def list_amendments(plan_id: int) -> Any:
    """The plan's amendments, newest first, with the changes each made or proposes."""
    return amendments.list_amendments(plan_id, actor=current_user)


@bp.post("/plans/<int:plan_id>/amendments")
@bp.arguments(AmendmentOpenSchema)
@bp.response(201, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def open_amendment(data: dict[str, Any], plan_id: int) -> Any:
    """Open the next numbered amendment of an approved plan (409 when one is open)."""
    amendment = amendments.open_amendment(plan_id, **data, actor=current_user)
    return _plan(amendment.plan.returnee_id)


@bp.post("/plans/<int:plan_id>/amendment/submit")
@bp.arguments(SubmitSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def submit_amendment(data: dict[str, Any], plan_id: int) -> Any:
    """Send the open amendment to the origin case manager: new lines hold places; over the
    cap needs a justification. Says whether the programme manager must approve it too."""
    amendment = amendments.submit_amendment(plan_id, **data, actor=current_user)
    return _plan(amendment.plan.returnee_id)


@bp.post("/plans/<int:plan_id>/amendment/withdraw")
@bp.arguments(ReviewSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*BUILDERS)
@commits
def withdraw_amendment(data: dict[str, Any], plan_id: int) -> Any:
    """Drop the open amendment: its proposed lines leave the plan, nothing takes effect."""
    amendment = amendments.withdraw_amendment(plan_id, **data, actor=current_user)
    return _plan(amendment.plan.returnee_id)


@bp.post("/plans/<int:plan_id>/amendment/<any(return, confirm, approve):step>")
@bp.arguments(ReviewSchema)
@bp.response(200, PlanSchema)
@bp.refuses({404: NOT_FOUND, 409: REFUSED})
@roles(*REVIEWERS)
@commits
def review_amendment(data: dict[str, Any], plan_id: int, step: str) -> Any:
    """``return`` (with comments) or ``confirm``: origin case managers (confirming an
    amendment within the approved total and the cap puts it into effect); ``approve``:
    programme managers, for one that raises the total or goes over the cap."""
    amendment = amendments.AMENDMENT_STEPS[step](plan_id, **data, actor=current_user)
    return _plan(amendment.plan.returnee_id)
