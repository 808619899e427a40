"""Case forms: registration and edit (with dependants and vulnerability), status, consent,
notes and a document."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from reintegration_hub.cases import notes, services
from reintegration_hub.cases.documents import DocumentInput, DocumentUpload
from reintegration_hub.cases.drill import CaseDrill
from reintegration_hub.cases.labels import (
    CLOSURE_LABELS,
    DOCUMENT_KIND_LABELS,
    LEGAL_STATUS_LABELS,
    NOTE_KIND_LABELS,
    RELATION_LABELS,
    STATUS_LABELS,
)
from reintegration_hub.cases.models import (
    CaseDocument,
    CaseNote,
    CaseStatus,
    ClosureReason,
    Consent,
    Dependant,
    DependantRelation,
    LegalStatus,
    NoteKind,
    Returnee,
    VulnerabilityEntry,
)
from reintegration_hub.core import i18n
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.forms import HIDDEN_FIELD_PROBLEM, Form, SubForm, choices
from reintegration_hub.core.labels import ROLE_LABELS, SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.validation import text_length
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory

SMS_CONSENT_LABEL = _l("Consents to reminders by text message (SMS) on the mobile number")
#: Dependant rows on the form; empty rows are ignored.
DEPENDANT_ROWS = 4
NONE = ("", "—")


def _enum_choices(labels: Mapping[Any, Any], *, blank: bool = False) -> list[Any]:
    pairs = [(member.value, label) for member, label in labels.items()]
    return choices([NONE, *pairs] if blank else pairs)


def _optional_int(value: Any) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class DependantForm(SubForm):
    class Meta:
        model = Dependant

    relation = SelectField(
        _l("Relation"), choices=_enum_choices(RELATION_LABELS, blank=True), default=""
    )
    date_of_birth = DateField(_l("Date of birth"), validators=[Optional()])
    accompanying = BooleanField(_l("Returns with the returnee"), default=True)


class CaseForm(Form):
    class Meta:
        model = Returnee

    first_name = StringField(_l("First name"), validators=[DataRequired()])
    last_name = StringField(_l("Last name"), validators=[DataRequired()])
    date_of_birth = DateField(_l("Date of birth"), validators=[DataRequired()])
    sex = SelectField(_l("Sex"), choices=_enum_choices(SEX_LABELS))
    nationality = SelectField(_l("Nationality"), validators=[DataRequired()])
    return_country_code = SelectField(_l("Country of return"), validators=[DataRequired()])
    return_region = StringField(_l("Region of return"), validators=[Optional()])
    return_city = StringField(_l("City of return"), validators=[Optional()])
    languages = SelectMultipleField(_l("Languages"))
    contact_after_return = TextAreaField(_l("Contact after return"), validators=[Optional()])
    mobile_number = StringField(
        _l("Mobile number"),
        validators=[Optional()],
        description=_l(
            "For text messages (reminders of appointments), with the consent to SMS; with its "
            "country code, or as dialled in the country of return."
        ),
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    legal_status = SelectField(_l("Legal status"), choices=_enum_choices(LEGAL_STATUS_LABELS))
    return_decision_on = DateField(_l("Return decision date"), validators=[Optional()])
    departure_deadline_on = DateField(
        _l("Voluntary departure deadline"),
        validators=[Optional()],
        description=_l(
            "Within the departure window of the programme's budget cap rule (by default 7 to 30 "
            "days after the return decision)."
        ),
    )
    origin_office_id = SelectField(_l("Origin office"), coerce=_optional_int)
    case_manager_id = SelectField(_l("Case manager"), coerce=_optional_int)
    grant_id = SelectField(_l("Programme / grant"), coerce=_optional_int)
    departed_on = DateField(_l("Departure date"), validators=[Optional()])
    arrived_on = DateField(_l("Arrival date"), validators=[Optional()])
    dependants = FieldList(FormField(DependantForm), min_entries=DEPENDANT_ROWS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        countries = i18n.country_choices()
        self.nationality.choices = choices([NONE, *countries])
        self.return_country_code.choices = choices([NONE, *countries])
        self.languages.choices = choices(i18n.language_choices())
        self.origin_office_id.choices = choices(
            [NONE, *((o.id, f"{o.name} ({o.country_code})") for o in services.origin_offices())]
        )
        self.case_manager_id.choices = choices(
            [NONE, *((u.id, f"{u.full_name} · {u.office.name}") for u in services.case_managers())]
        )
        self.grant_id.choices = choices(
            [NONE, *((g.id, f"{g.number} {g.title}") for g in services.grants())]
        )

    @classmethod
    def for_case(cls, case: Returnee, **kwargs: Any) -> CaseForm:
        form = cls(obj=case, **kwargs)
        if not form.is_submitted():
            while len(form.dependants) < len(case.dependants) + 1:
                form.dependants.append_entry()
            for row, dependant in zip(form.dependants, case.dependants, strict=False):
                row.form.relation.data = dependant.relation.value
                row.form.date_of_birth.data = dependant.date_of_birth
                row.form.accompanying.data = dependant.accompanying
            notes = {v.category: v.notes for v in case.vulnerabilities}
            for category in VulnerabilityCategory:
                getattr(form, f"vuln_{category.value}").data = category in notes
                getattr(form, f"vuln_{category.value}_notes").data = notes.get(category, "")
        return form

    def vulnerability_rows(self) -> list[tuple[Any, Any, Any]]:
        return [
            (
                label,
                getattr(self, f"vuln_{category.value}"),
                getattr(self, f"vuln_{category.value}_notes"),
            )
            for category, label in VULNERABILITY_LABELS.items()
        ]

    def case_details(self) -> services.CaseDetails:
        return services.CaseDetails(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            date_of_birth=self.date_of_birth.data,  # type: ignore[arg-type]  # DataRequired
            sex=Sex(self.sex.data),
            nationality=self.nationality.data or "",
            return_country_code=self.return_country_code.data or "",
            return_region=self.return_region.data or "",
            return_city=self.return_city.data or "",
            languages=self.languages.data or [],
            contact_after_return=self.contact_after_return.data or "",
            mobile_number=self.mobile_number.data or "",
            legal_status=LegalStatus(self.legal_status.data),
            return_decision_on=self.return_decision_on.data,
            departure_deadline_on=self.departure_deadline_on.data,
            origin_office_id=self.origin_office_id.data,
            case_manager_id=self.case_manager_id.data,
            grant_id=self.grant_id.data,
            departed_on=self.departed_on.data,
            arrived_on=self.arrived_on.data,
        )

    def dependant_inputs(self) -> list[services.DependantInput]:
        return [
            services.DependantInput(
                DependantRelation(row.form.relation.data),
                row.form.date_of_birth.data,
                bool(row.form.accompanying.data),
            )
            for row in self.dependants
            if row.form.relation.data and row.form.date_of_birth.data
        ]

    def vulnerability_notes(self) -> dict[VulnerabilityCategory, str]:
        return {
            category: getattr(self, f"vuln_{category.value}_notes").data or ""
            for category in VulnerabilityCategory
            if getattr(self, f"vuln_{category.value}").data
        }


for _category, _label in VULNERABILITY_LABELS.items():
    setattr(CaseForm, f"vuln_{_category.value}", BooleanField(_label))
    setattr(
        CaseForm,
        f"vuln_{_category.value}_notes",
        StringField(
            _l("Notes"), validators=[Optional(), Length(max=text_length(VulnerabilityEntry.notes))]
        ),
    )


class RegisterCaseForm(CaseForm):
    share_with_origin_office = BooleanField(_l("Consents to share data with the origin office"))
    share_with_partners = BooleanField(_l("Consents to share data with partners"))
    sms_contact = BooleanField(SMS_CONSENT_LABEL)
    consent_given_on = DateField(_l("Consent given on"), validators=[Optional()])
    confirm_duplicate = BooleanField(_l("Register anyway: this is a different person"))

    def consent_input(self) -> services.ConsentInput | None:
        if self.consent_given_on.data is None:
            return None
        return services.ConsentInput(
            share_with_origin_office=bool(self.share_with_origin_office.data),
            share_with_partners=bool(self.share_with_partners.data),
            given_on=self.consent_given_on.data,
            sms_contact=bool(self.sms_contact.data),
        )


class StatusForm(Form):
    status = SelectField(
        _l("New status"),
        choices=choices(
            (s.value, STATUS_LABELS[s]) for s in CaseStatus if s in services.MANUAL_TARGETS
        ),
    )
    reason = SelectField(
        _l("Reason for closing"),
        choices=_enum_choices(CLOSURE_LABELS, blank=True),
        default="",
    )

    def __init__(self, *args: Any, targets: Sequence[CaseStatus] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if targets:
            self.status.choices = choices((s.value, STATUS_LABELS[s]) for s in targets)

    def target(self) -> CaseStatus:
        return CaseStatus(self.status.data)

    def closure_reason(self) -> ClosureReason | None:
        return ClosureReason(self.reason.data) if self.reason.data else None


class ConsentForm(Form):
    class Meta:
        model = Consent

    share_with_origin_office = BooleanField(_l("Consents to share data with the origin office"))
    share_with_partners = BooleanField(_l("Consents to share data with partners"))
    sms_contact = BooleanField(SMS_CONSENT_LABEL)
    given_on = DateField(_l("Consent given on"), validators=[DataRequired()])

    @classmethod
    def starting_from(cls, consent: Consent | None) -> ConsentForm:
        """A blank form whose choices are those of the consent in force (ticking one box keeps
        the others as they are); its date is left for the new consent's."""
        choices = ("share_with_origin_office", "share_with_partners", "sms_contact")
        data = {name: getattr(consent, name) for name in choices} if consent else None
        return cls(formdata=None, data=data)

    def consent_input(self) -> services.ConsentInput:
        return services.ConsentInput(
            share_with_origin_office=bool(self.share_with_origin_office.data),
            share_with_partners=bool(self.share_with_partners.data),
            given_on=self.given_on.data,  # type: ignore[arg-type]  # DataRequired
            sms_contact=bool(self.sms_contact.data),
        )


class SmsOptOutForm(Form):
    """The returnee asked the case's staff to stop the text messages (``cases.sms``)."""


class AssignForm(Form):
    """Give a case (or many) to another counsellor or case manager (``cases.assignment``)."""

    user_id = SelectField(_l("Give to"), coerce=_optional_int, validators=[DataRequired()])
    transfer = BooleanField(
        _l("Transfer to that counsellor's host office"),
        description=_l("Only for a counsellor of another host office."),
    )
    note = TextAreaField(_l("Note for the new owner"), validators=[Optional(), Length(max=1000)])

    def __init__(self, *args: Any, staff: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id.choices = choices(
            [
                NONE,
                *(
                    (u.id, f"{u.full_name} · {ROLE_LABELS[u.role]} · {u.office.name}")
                    for u in staff
                ),
            ]
        )


class BulkAssignForm(AssignForm):
    """The case list's form: the ticked cases, or every case that matches the filters."""

    case_ids = SelectMultipleField(coerce=int, validate_choice=False)
    all_matching = BooleanField(_l("Every case that matches the filters"))

    def validate(self, extra_validators: Any = None) -> bool:
        """Valid fields, and the list's filters the form carries back (hidden) read as they
        were written: altered ones would reassign other cases than the list showed."""
        valid = super().validate(extra_validators)
        if CaseDrill.unread(request.form):
            self.form_errors.append(str(HIDDEN_FIELD_PROBLEM))
            return False
        return valid


class NoteForm(Form):
    """A case note (``cases.notes``): written on the case page, corrected on its own page."""

    class Meta:
        model = CaseNote

    kind = SelectField(
        _l("Type"), choices=choices((k.value, label) for k, label in NOTE_KIND_LABELS.items())
    )
    noted_on = DateField(_l("Date"), validators=[DataRequired()], default=lambda: now_utc().date())
    text = TextAreaField(
        _l("Note"), validators=[DataRequired(), Length(max=text_length(CaseNote.text))]
    )
    follow_up_on = DateField(_l("Follow up on"), validators=[Optional()])

    def note_input(self) -> notes.NoteInput:
        return notes.NoteInput(
            kind=NoteKind(self.kind.data),
            noted_on=self.noted_on.data,  # type: ignore[arg-type]  # DataRequired
            text=self.text.data or "",
            follow_up_on=self.follow_up_on.data,
        )

    @classmethod
    def for_note(cls, row: CaseNote) -> NoteForm:
        """The correction form of ``row``, filled with what it says (unless sent)."""
        return cls(obj=row, kind=row.kind.value)


class FollowUpDoneForm(Form):
    """A note's follow-up marked done; ``back`` says where the button was (home or case)."""

    back = HiddenField(default="case", validators=[Optional(), AnyOf(("home", "case"))])


class DocumentForm(Form):
    """A document kept on a case: input only; ``cases.documents`` checks the file."""

    class Meta:
        model = CaseDocument

    kind = SelectField(
        _l("Kind of document"),
        choices=_enum_choices(DOCUMENT_KIND_LABELS, blank=True),
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("Note"), validators=[Optional()])
    file = FileField(_l("File"), description=_l("PDF, JPEG or PNG."))

    def document_input(self) -> DocumentInput:
        return DocumentInput(kind=self.kind.data or "", note=self.note.data or "")

    def document_upload(self) -> DocumentUpload:
        """The uploaded file; none reads as an empty one, which the service refuses."""
        upload = self.file.data
        if upload is None or isinstance(upload, str):
            return DocumentUpload("", io.BytesIO())
        return DocumentUpload(upload.filename or "", upload.stream)
