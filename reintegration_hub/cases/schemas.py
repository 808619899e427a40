from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from werkzeug.datastructures import FileStorage

from reintegration_hub.cases.assignment import MAX_CASES
from reintegration_hub.cases.models import (
    CaseDocument,
    CaseNote,
    CaseStatus,
    ClosureReason,
    Consent,
    Dependant,
    DependantRelation,
    DocumentKind,
    LegalStatus,
    NoteKind,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.cases.search import MAX_QUERY_LENGTH
from reintegration_hub.cases.services import MANUAL_TARGETS
from reintegration_hub.core.schemas import Schema
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory

COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$")
COUNTRY_DOC = {"description": "ISO 3166-1 alpha-2"}


class DependantSchema(Schema):
    class Meta:
        model = Dependant

    relation = fields.Enum(DependantRelation, by_value=True, required=True)
    date_of_birth = fields.Date(required=True)
    accompanying = fields.Boolean(load_default=True)


class VulnerabilitySchema(Schema):
    class Meta:
        model = VulnerabilityEntry

    category = fields.Enum(VulnerabilityCategory, by_value=True, required=True)
    notes = fields.String(load_default="")


class ConsentSchema(Schema):
    class Meta:
        model = Consent

    id = fields.Integer(dump_only=True)
    share_with_origin_office = fields.Boolean(required=True)
    share_with_partners = fields.Boolean(required=True)
    sms_contact = fields.Boolean(
        load_default=False,
        metadata={"description": "may be sent reminders by text message on mobile_number"},
    )
    given_on = fields.Date(required=True)
    recorded_by_id = fields.Integer(dump_only=True, allow_none=True)
    recorded_at = fields.AwareDateTime(dump_only=True)


class CaseDetailsSchema(Schema):
    """What registration and edits set (the names appear only here and on the case page)."""

    class Meta:
        model = Returnee

    first_name = fields.String(required=True, validate=validate.Length(min=1))
    last_name = fields.String(required=True, validate=validate.Length(min=1))
    date_of_birth = fields.Date(required=True)
    sex = fields.Enum(Sex, by_value=True, required=True)
    nationality = fields.String(required=True, validate=COUNTRY, metadata=COUNTRY_DOC)
    return_country_code = fields.String(required=True, validate=COUNTRY, metadata=COUNTRY_DOC)
    return_region = fields.String(load_default="")
    return_city = fields.String(load_default="")
    languages = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z]{2}$")),
        load_default=list,
        metadata={"description": "ISO 639-1 codes"},
    )
    contact_after_return = fields.String(load_default="")
    mobile_number = fields.String(
        load_default="",
        metadata={
            "description": "for text messages: with its country code, or as dialled in the "
            "country of return; answered in E.164 (+995555123456)"
        },
    )
    legal_status = fields.Enum(LegalStatus, by_value=True, required=True)
    return_decision_on = fields.Date(load_default=None, allow_none=True)
    departure_deadline_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "after return_decision_on, within the cap rule's departure window "
            "(by default 7 to 30 days)"
        },
    )
    origin_office_id = fields.Integer(load_default=None, allow_none=True)
    case_manager_id = fields.Integer(load_default=None, allow_none=True)
    grant_id = fields.Integer(load_default=None, allow_none=True)
    departed_on = fields.Date(load_default=None, allow_none=True)
    arrived_on = fields.Date(load_default=None, allow_none=True)
    dependants = fields.List(fields.Nested(DependantSchema), load_default=list)
    vulnerabilities = fields.List(fields.Nested(VulnerabilitySchema), load_default=list)


class CaseCreateSchema(CaseDetailsSchema):
    consent = fields.Nested(ConsentSchema, load_default=None, allow_none=True)
    confirm_duplicate = fields.Boolean(
        load_default=False,
        metadata={"description": "register although possible duplicates were reported (409)"},
    )


class CaseSummarySchema(Schema):
    """A case in lists: pseudonymous, no names."""

    id = fields.Integer()
    case_number = fields.String()
    status = fields.Enum(CaseStatus, by_value=True)
    closure_reason = fields.Enum(ClosureReason, by_value=True, allow_none=True)
    return_country_code = fields.String(metadata=COUNTRY_DOC)
    host_office_id = fields.Integer()
    origin_office_id = fields.Integer(allow_none=True)
    departure_deadline_on = fields.Date(allow_none=True)
    created_at = fields.AwareDateTime()


class CaseSchema(CaseSummarySchema, CaseDetailsSchema):
    """The whole case, as on the case page (audited)."""

    counsellor_id = fields.Integer()
    case_manager_id = fields.Integer(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    days_to_departure_deadline = fields.Method("_days_left", allow_none=True)
    consent = fields.Nested(ConsentSchema, allow_none=True)
    consents = fields.List(fields.Nested(ConsentSchema), metadata={"description": "latest first"})
    updated_at = fields.AwareDateTime()

    def _days_left(self, case: Returnee) -> int | None:
        return case.days_to_departure_deadline()


class CaseQuerySchema(Schema):
    class Meta:
        model = Returnee

    status = fields.Enum(CaseStatus, by_value=True)
    return_country_code = fields.String(validate=COUNTRY, metadata=COUNTRY_DOC)
    host_office_id = fields.Integer(metadata={"description": "administrators and PM only"})
    number = fields.String(
        validate=validate.Length(max=20), metadata={"description": "case number prefix"}
    )
    q = fields.String(
        validate=validate.Length(max=MAX_QUERY_LENGTH),
        metadata={
            "description": "search: a name (any script, typos tolerated), a date of birth "
            "(YYYY-MM-DD or DD.MM.YYYY), part of a case number or of a phone number; the "
            "answer still shows case numbers only"
        },
    )


class StatusChangeSchema(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf(sorted(s.value for s in MANUAL_TARGETS))
    )
    reason = fields.Enum(ClosureReason, by_value=True, load_default=None, allow_none=True)


class DuplicateQuerySchema(Schema):
    class Meta:
        model = Returnee

    first_name = fields.String(required=True, validate=validate.Length(min=1))
    last_name = fields.String(required=True, validate=validate.Length(min=1))
    date_of_birth = fields.Date(required=True)
    nationality = fields.String(required=True, validate=COUNTRY, metadata=COUNTRY_DOC)


class DuplicateSchema(Schema):
    case_id = fields.Integer()
    case_number = fields.String()
    can_open = fields.Boolean(metadata={"description": "whether the caller may open the case"})
    url = fields.String(metadata={"description": "the case in the API (404 if out of scope)"})


ID = validate.Range(min=1, max=2**31 - 1)


class AssignmentSchema(Schema):
    case_ids = fields.List(
        fields.Integer(validate=ID),
        required=True,
        validate=validate.Length(min=1, max=MAX_CASES),
    )
    user_id = fields.Integer(
        required=True,
        validate=ID,
        metadata={
            "description": "a counsellor of the cases' host office or a case manager of "
            "their origin office (with transfer: a counsellor of another host office)"
        },
    )
    transfer = fields.Boolean(
        load_default=False,
        metadata={"description": "move the cases to the counsellor's host office"},
    )
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class TransferSchema(Schema):
    counsellor_id = fields.Integer(
        required=True, validate=ID, metadata={"description": "a counsellor of the new host office"}
    )
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class AssignedCaseSchema(Schema):
    id = fields.Integer(dump_only=True)
    case_number = fields.String(dump_only=True)
    host_office_id = fields.Integer(dump_only=True)
    counsellor_id = fields.Integer(dump_only=True)
    origin_office_id = fields.Integer(dump_only=True, allow_none=True)
    case_manager_id = fields.Integer(dump_only=True, allow_none=True)


class AssignmentResultSchema(Schema):
    owner_id = fields.Function(lambda r: r.owner.id, dump_only=True)
    change = fields.Function(lambda r: r.change.value, dump_only=True)
    changed = fields.List(fields.Nested(AssignedCaseSchema), dump_only=True)
    unchanged = fields.List(
        fields.Nested(AssignedCaseSchema),
        dump_only=True,
        metadata={"description": "theirs already"},
    )


class CaseNoteSchema(Schema):
    """A case note: written with ``kind``, ``noted_on`` (not in the future), ``text`` and an
    optional ``follow_up_on`` (today to two years ahead); the rest is read only."""

    class Meta:
        model = CaseNote

    id = fields.Integer(dump_only=True)
    returnee_id = fields.Integer(dump_only=True)
    kind = fields.Enum(NoteKind, by_value=True, required=True)
    noted_on = fields.Date(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1))
    follow_up_on = fields.Date(load_default=None, allow_none=True)
    follow_up_done_at = fields.AwareDateTime(dump_only=True, allow_none=True)
    author_id = fields.Integer(dump_only=True, allow_none=True)
    author_name = fields.String(dump_only=True, attribute="author.full_name", allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)
    corrected_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class DocumentFileField(Upload):
    """The uploaded document; a plain form value of the same name is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ma.ValidationError("Send the document as a file.")
        return value


class DocumentCreateSchema(Schema):
    class Meta:
        model = CaseDocument

    kind = fields.Enum(DocumentKind, by_value=True, required=True)
    note = fields.String(load_default="")
    file = DocumentFileField(
        required=True,
        metadata={
            "description": "PDF, JPEG or PNG, decided by the content and its structure; at "
            "most DOCUMENT_MAX_BYTES (10 MB unless configured)"
        },
    )


class DocumentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer(attribute="returnee_id")
    kind = fields.Enum(DocumentKind, by_value=True)
    note = fields.String()
    name = fields.String(metadata={"description": "the download name"})
    content_type = fields.String(metadata={"description": "detected from the content"})
    size = fields.Integer(metadata={"description": "bytes"})
    sha256 = fields.String(metadata={"description": "of the content as uploaded"})
    uploaded_by_id = fields.Integer(allow_none=True)
    uploaded_at = fields.AwareDateTime()
    removed_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "its file was deleted then; the record stays"}
    )
    file_url = fields.Method(
        "_file_url",
        metadata={"type": "string", "nullable": True, "description": "the file (audited)"},
    )

    def _file_url(self, document: Any) -> str | None:
        if document.removed_at is not None:
            return None
        return url_for("documents_api.get_document_file", document_id=document.id)
