"""``/api/v1/cases``: returnee cases with the same services and scope as the pages."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user
from flask_smorest.error_handler import ErrorSchema

from reintegration_hub.cases import assignment, services
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.cases.schemas import (
    AssignmentResultSchema,
    AssignmentSchema,
    CaseCreateSchema,
    CaseDetailsSchema,
    CaseQuerySchema,
    CaseSchema,
    CaseSummarySchema,
    ConsentSchema,
    DuplicateQuerySchema,
    DuplicateSchema,
    StatusChangeSchema,
    TransferSchema,
)
from reintegration_hub.core.api import Blueprint, SelectPage
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db

bp = Blueprint("cases_api", __name__, url_prefix="/cases", description="Returnee cases")

READERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)


def _details(data: dict[str, Any]) -> tuple[services.CaseDetails, dict[str, Any]]:
    extra = {
        "dependants": [
            services.DependantInput(d["relation"], d["date_of_birth"], d["accompanying"])
            for d in data.pop("dependants")
        ],
        "vulnerabilities": {v["category"]: v["notes"] for v in data.pop("vulnerabilities")},
    }
    return services.CaseDetails(**data), extra


def _matches(matches: list[services.DuplicateMatch]) -> list[dict[str, Any]]:
    return [
        {
            "case_id": m.case_id,
            "case_number": m.case_number,
            "can_open": m.can_open,
            "url": url_for("cases_api.get_case", case_id=m.case_id),
        }
        for m in matches
    ]


@bp.get("")
@bp.arguments(CaseQuerySchema, location="query")
@bp.response(200, CaseSummarySchema(many=True))
@bp.paginate(SelectPage)
@roles(*READERS)
def list_cases(query: dict[str, Any]) -> Any:
    """The cases the caller may see, newest first (case numbers only, no names)."""
    return services.case_list_statement(actor=current_user, **query)


@bp.get("/<int:case_id>")
@bp.response(200, CaseSchema)
@bp.alt_response(404, schema=ErrorSchema, description="No such case in the caller's scope")
@roles(*READERS)
def get_case(case_id: int) -> Any:
    """One case with names and consent history; every read is audited."""
    case = services.view_case(case_id, actor=current_user)
    db.session.commit()
    return case


@bp.post("")
@bp.arguments(CaseCreateSchema)
@bp.response(201, CaseSchema)
@bp.alt_response(409, schema=ErrorSchema, description="Possible duplicates: see errors")
@bp.alt_response(403, schema=ErrorSchema, description="Not a host-office counsellor")
@roles(Role.COUNSELLOR)
def create_case(data: dict[str, Any]) -> Any:
    """Register a case at the caller's host office. Possible duplicates answer 409 unless
    ``confirm_duplicate``."""
    consent = data.pop("consent")
    confirm = data.pop("confirm_duplicate")
    details, extra = _details(data)
    case = services.register_case(
        details,
        **extra,
        consent=services.ConsentInput(**consent) if consent else None,
        confirm_duplicate=confirm,
        actor=current_user,
    )
    db.session.commit()
    return case


@bp.put("/<int:case_id>")
@bp.arguments(CaseDetailsSchema)
@bp.response(200, CaseSchema)
@bp.alt_response(404, schema=ErrorSchema, description="No such case in the caller's scope")
@roles(Role.COUNSELLOR, Role.ADMIN)
def update_case(data: dict[str, Any], case_id: int) -> Any:
    """Replace a case's details, dependants and vulnerability entries."""
    details, extra = _details(data)
    case = services.update_case(case_id, details, **extra, actor=current_user)
    db.session.commit()
    return case


@bp.post("/<int:case_id>/status")
@bp.arguments(StatusChangeSchema)
@bp.response(200, CaseSchema)
@bp.alt_response(404, schema=ErrorSchema, description="No such case in the caller's scope")
@bp.alt_response(409, schema=ErrorSchema, description="Transition not allowed from here")
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
def change_status(data: dict[str, Any], case_id: int) -> Any:
    """Mark a case assessed, or close it with a standard reason."""
    case = services.change_case_status(
        case_id, CaseStatus(data["status"]), reason=data["reason"], actor=current_user
    )
    db.session.commit()
    return case


@bp.post("/<int:case_id>/consents")
@bp.arguments(ConsentSchema)
@bp.response(201, ConsentSchema)
@bp.alt_response(404, schema=ErrorSchema, description="No such case in the caller's scope")
@roles(Role.COUNSELLOR, Role.ADMIN)
def record_consent(data: dict[str, Any], case_id: int) -> Any:
    """Record a new consent; it is in force from now on, earlier ones stay as history."""
    consent = services.record_consent(case_id, services.ConsentInput(**data), actor=current_user)
    db.session.commit()
    return consent


@bp.post("/duplicates")
@bp.arguments(DuplicateQuerySchema)
@bp.response(200, DuplicateSchema(many=True))
@roles(Role.COUNSELLOR, Role.ADMIN, Role.PROGRAMME_MANAGER)
def check_duplicates(data: dict[str, Any]) -> Any:
    """Cases in any office that may be this person: case numbers and links only."""
    return _matches(services.find_duplicates(**data, actor=current_user))


ASSIGNERS = (Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)


@bp.post("/reassignments")
@bp.arguments(AssignmentSchema)
@bp.response(200, AssignmentResultSchema)
@bp.alt_response(403, schema=ErrorSchema, description="Not the office's supervisor nor an admin")
@bp.alt_response(404, schema=ErrorSchema, description="A case is not in the caller's scope")
@roles(*ASSIGNERS)
def reassign_cases(data: dict[str, Any]) -> Any:
    """Give up to 500 cases to another counsellor or case manager of their office (or, with
    ``transfer``, to a counsellor of another host office). All or nothing; each case audited,
    its open milestones follow, the new owner is told by e-mail."""
    result = assignment.assign_cases(data.pop("case_ids"), **data, actor=current_user)
    db.session.commit()
    return result


@bp.post("/<int:case_id>/transfer")
@bp.arguments(TransferSchema)
@bp.response(200, AssignmentResultSchema)
@bp.alt_response(403, schema=ErrorSchema, description="Not the office's supervisor nor an admin")
@bp.alt_response(404, schema=ErrorSchema, description="No such case in the caller's scope")
@roles(*ASSIGNERS)
def transfer_case(data: dict[str, Any], case_id: int) -> Any:
    """Transfer a case to another host office, to one of its counsellors."""
    result = assignment.assign_cases(
        [case_id],
        user_id=data["counsellor_id"],
        transfer=True,
        note=data["note"],
        actor=current_user,
    )
    db.session.commit()
    return result
