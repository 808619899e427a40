"""``/api/v1/cases``: returnee cases with the same services and scope as the pages; their
documents (``/api/v1/cases/<id>/documents``, uploaded as ``multipart/form-data``) and each
document's file (``/api/v1/documents/<id>/file``)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user

from reintegration_hub.cases import assignment, documents, notes, services, sms
from reintegration_hub.cases.models import CaseStatus
from reintegration_hub.cases.schemas import (
    AssignmentResultSchema,
    AssignmentSchema,
    CaseCreateSchema,
    CaseDetailsSchema,
    CaseNoteSchema,
    CaseQuerySchema,
    CaseSchema,
    CaseSummarySchema,
    ConsentSchema,
    DocumentCreateSchema,
    DocumentSchema,
    DuplicateQuerySchema,
    DuplicateSchema,
    StatusChangeSchema,
    TransferSchema,
)
from reintegration_hub.core.api import Blueprint, MultipartBlueprint, SelectPage, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.files import FILE_TYPES
from reintegration_hub.core.roles import Role
from reintegration_hub.core.web import attachment

bp = MultipartBlueprint("cases_api", __name__, url_prefix="/cases", description="Returnee cases")
documents_bp = Blueprint(
    "documents_api", __name__, url_prefix="/documents", description="Case documents' files"
)

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
@bp.refuses({404: "No such case in the caller's scope"})
@roles(*READERS)
@commits
def get_case(case_id: int) -> Any:
    """One case with names and consent history; every read is audited."""
    return services.view_case(case_id, actor=current_user)


@bp.post("")
@bp.arguments(CaseCreateSchema)
@bp.response(201, CaseSchema)
@bp.refuses({409: "Possible duplicates: see errors", 403: "Not a host-office counsellor"})
@roles(Role.COUNSELLOR)
@commits
def create_case(data: dict[str, Any]) -> Any:
    """Register a case at the caller's host office. Possible duplicates answer 409 unless
    ``confirm_duplicate``."""
    consent = data.pop("consent")
    confirm = data.pop("confirm_duplicate")
    details, extra = _details(data)
    return services.register_case(
        details,
        **extra,
        consent=services.ConsentInput(**consent) if consent else None,
        confirm_duplicate=confirm,
        actor=current_user,
    )


@bp.put("/<int:case_id>")
@bp.arguments(CaseDetailsSchema)
@bp.response(200, CaseSchema)
@bp.refuses({404: "No such case in the caller's scope"})
@roles(Role.COUNSELLOR, Role.ADMIN)
@commits
def update_case(data: dict[str, Any], case_id: int) -> Any:
    """Replace a case's details, dependants and vulnerability entries."""
    details, extra = _details(data)
    return services.update_case(case_id, details, **extra, actor=current_user)


@bp.post("/<int:case_id>/status")
@bp.arguments(StatusChangeSchema)
@bp.response(200, CaseSchema)
@bp.refuses({404: "No such case in the caller's scope", 409: "Transition not allowed from here"})
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
@commits
def change_status(data: dict[str, Any], case_id: int) -> Any:
    """Mark a case assessed, or close it with a standard reason."""
    return services.change_case_status(
        case_id, CaseStatus(data["status"]), reason=data["reason"], actor=current_user
    )


@bp.post("/<int:case_id>/consents")
@bp.arguments(ConsentSchema)
@bp.response(201, ConsentSchema)
@bp.refuses({404: "No such case in the caller's scope"})
@roles(Role.COUNSELLOR, Role.ADMIN)
@commits
def record_consent(data: dict[str, Any], case_id: int) -> Any:
    """Record a new consent; it is in force from now on, earlier ones stay as history."""
    return services.record_consent(case_id, services.ConsentInput(**data), actor=current_user)


@bp.post("/<int:case_id>/sms-opt-out")
@bp.response(201, ConsentSchema)
@bp.refuses(
    {404: "No such case in the caller's scope", 409: "The returnee is not sent text messages"}
)
@roles(Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN)
@commits
def opt_out_sms(case_id: int) -> Any:
    """Stop the returnee's text messages (they asked): a new consent with SMS off, the sharing
    as before; the messages not yet sent are withdrawn."""
    return sms.opt_out_sms(case_id, actor=current_user)


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
@bp.refuses(
    {403: "Not the office's supervisor nor an admin", 404: "A case is not in the caller's scope"}
)
@roles(*ASSIGNERS)
@commits
def reassign_cases(data: dict[str, Any]) -> Any:
    """Give up to 500 cases to another counsellor or case manager of their office (or, with
    ``transfer``, to a counsellor of another host office). All or nothing; each case audited,
    its open milestones follow, the new owner is told by e-mail."""
    return assignment.assign_cases(data.pop("case_ids"), **data, actor=current_user)


@bp.post("/<int:case_id>/transfer")
@bp.arguments(TransferSchema)
@bp.response(200, AssignmentResultSchema)
@bp.refuses(
    {403: "Not the office's supervisor nor an admin", 404: "No such case in the caller's scope"}
)
@roles(*ASSIGNERS)
@commits
def transfer_case(data: dict[str, Any], case_id: int) -> Any:
    """Transfer a case to another host office, to one of its counsellors."""
    return assignment.assign_cases(
        [case_id],
        user_id=data["counsellor_id"],
        transfer=True,
        note=data["note"],
        actor=current_user,
    )


@bp.get("/<int:case_id>/notes")
@bp.response(200, CaseNoteSchema(many=True))
@bp.paginate(SelectPage)
@bp.refuses({404: "No such case in the caller's scope"})
@roles(*notes.READER_ROLES)
@commits
def list_notes(case_id: int) -> Any:
    """The case's notes, newest written first; every read is audited."""
    return notes.read_case_notes(case_id, actor=current_user)


@bp.post("/<int:case_id>/notes")
@bp.arguments(CaseNoteSchema)
@bp.response(201, CaseNoteSchema)
@bp.refuses({404: "No such case in the caller's scope", 409: "The case was anonymised"})
@roles(*notes.WRITER_ROLES)
@commits
def add_note(data: dict[str, Any], case_id: int) -> Any:
    """Write a note on the case (counsellors and case managers); audited. A ``follow_up_on``
    day makes it a task on the author's home page from that day on."""
    return notes.add_note(case_id, notes.NoteInput(**data), actor=current_user)


# --- documents -------------------------------------------------------------------------------

DOCUMENT_WRITERS = tuple(documents.WRITER_ROLES)
DOCUMENT_CONTENT = {
    mime: {"schema": {"type": "string", "format": "binary"}} for mime, _magic, _ext in FILE_TYPES
}


@bp.get("/<int:case_id>/documents")
@bp.response(200, DocumentSchema(many=True))
@bp.refuses({404: "No such case in the caller's scope"})
@roles(*READERS)
def list_documents(case_id: int) -> Any:
    """The case's documents, newest first; removed ones too (``removed_at``, no file)."""
    _case, kept = documents.case_documents(case_id, actor=current_user)
    return kept


@bp.post("/<int:case_id>/documents")
@bp.arguments(DocumentCreateSchema, location="form_and_files")
@bp.response(201, DocumentSchema)
@bp.refuses(
    {
        403: "Not a counsellor, case manager or admin",
        404: "No such case in the caller's scope",
        409: "The case is anonymised, or no encryption key is configured",
        422: "A bad field: the kind, the note, or a file that is not a readable PDF, JPEG or "
        "PNG, or too large",
    }
)
@roles(*DOCUMENT_WRITERS)
@commits
def upload_document(data: dict[str, Any], case_id: int) -> Any:
    """Keep a document on a case, encrypted at rest."""
    upload = data.pop("file")
    return documents.upload_document(
        case_id,
        documents.DocumentInput(kind=data["kind"].value, note=data["note"]),
        documents.DocumentUpload(upload.filename or "", upload.stream),
        actor=current_user,
    )


@documents_bp.get("/<int:document_id>/file")
@documents_bp.doc(
    responses={"200": {"description": "The document's file", "content": DOCUMENT_CONTENT}}
)
@documents_bp.refuses(
    {
        404: "No such document in the caller's scope, or it was removed",
        409: "No configured key decrypts it",
    }
)
@roles(*READERS)
@commits
def get_document_file(document_id: int) -> Any:
    """The document as a download (``Content-Disposition: attachment``, its stored type);
    every download is audited."""
    document, content = documents.document_content(document_id, actor=current_user)
    return attachment(content, mimetype=document.content_type, name=document.name)
