"""Forms of the marketplace pages: partners, vetting, options, import, search (input only)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from partners.labels import (
    CATEGORY_LABELS,
    COST_BASIS_LABELS,
    DECLINE_REASON_LABELS,
    DELIVERY_MODE_LABELS,
    PAYMENT_SCHEDULE_LABELS,
    PERIOD_LABELS,
    STATUS_LABELS,
    VETTING_LABELS,
)
from partners.models import (
    MAX_PAYMENT_MONTHS,
    CapacityPeriod,
    CostBasis,
    DeliveryMode,
    Partner,
    PaymentSchedule,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
)
from partners.search import SORT_LABELS, SortOrder
from partners.services import LocationInput, OptionInput, PartnerInput, TextInput
from reintegration_hub.core import i18n
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import Form, SubForm, choices, show_domain_error
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS


class ListField(StringField):
    """Several short values in one box, separated by commas or new lines."""

    data: list[str]  # type: ignore[assignment]

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def process_data(self, value: Any) -> None:
        self.data = list(value or [])

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]) if valuelist else ""
        self.data = [v.strip() for v in raw.replace("\n", ",").split(",") if v.strip()]


def _enum_choices(labels: dict[Any, Any]) -> list[Any]:
    return choices((k.value, label) for k, label in labels.items())


class PartnerForm(Form):
    class Meta:
        model = Partner

    name = StringField(_l("Organisation name"), validators=[DataRequired()])
    office_id = SelectField(_l("Office"), coerce=int, validators=[Optional()])
    legal_status = StringField(_l("Legal status"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    regions = ListField(_l("Regions served"), description=_l("Separate them with commas."))
    languages = SelectMultipleField(_l("Languages"))
    contact_language = SelectField(
        _l("Language of e-mails"),
        validators=[Optional()],
        description=_l(
            "For a focal point without an account; English when the Hub is not translated into it."
        ),
    )
    focal_point_name = StringField(_l("Focal point"), validators=[Optional()])
    focal_point_email = EmailField(
        _l("Focal point e-mail (referrals)"), validators=[DataRequired(), Email()]
    )
    phone = StringField(_l("Phone"), validators=[Optional()])
    website = StringField(_l("Website"), validators=[Optional()])
    agreement_number = StringField(_l("Framework agreement number"), validators=[Optional()])
    agreement_valid_from = DateField(_l("Agreement valid from"), validators=[Optional()])
    agreement_valid_until = DateField(_l("Agreement valid until"), validators=[Optional()])

    def __init__(self, *args: Any, offices: list[tuple[int, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.languages.choices = choices(i18n.language_choices())
        self.contact_language.choices = choices([("", "—"), *i18n.language_choices()])
        if offices is None:
            del self.office_id
        else:
            self.office_id.choices = choices(offices)

    def to_input(self) -> PartnerInput:
        return PartnerInput(
            name=self.name.data or "",
            focal_point_email=self.focal_point_email.data or "",
            legal_status=self.legal_status.data or "",
            description=self.description.data or "",
            regions=self.regions.data,
            languages=self.languages.data or [],
            contact_language=self.contact_language.data or "",
            focal_point_name=self.focal_point_name.data or "",
            phone=self.phone.data or "",
            website=self.website.data or "",
            agreement_number=self.agreement_number.data or "",
            agreement_valid_from=self.agreement_valid_from.data,
            agreement_valid_until=self.agreement_valid_until.data,
        )


class VettingForm(Form):
    vetting_status = SelectField(_l("Vetting status"), choices=_enum_choices(VETTING_LABELS))
    reason = TextAreaField(
        _l("Reason (required to suspend)"), validators=[Optional(), Length(max=2000)]
    )


class StatusForm(Form):
    status = SelectField(_l("Status"), choices=_enum_choices(STATUS_LABELS))


class ButtonForm(Form):
    """A POST button with its CSRF token (verify)."""


class TextForm(SubForm):
    class Meta:
        model = SupportOptionText

    language = SelectField(_l("Language"), validators=[Optional()])
    title = StringField(_l("Title"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=10_000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = choices([("", "—"), *i18n.language_choices()])


class LocationForm(SubForm):
    class Meta:
        model = SupportOptionLocation

    city = StringField(_l("City"), validators=[Optional()])
    region = StringField(_l("Region"), validators=[Optional()])
    address = StringField(_l("Address"), validators=[Optional()])
    latitude = DecimalField(
        _l("Latitude"), places=6, validators=[Optional(), NumberRange(min=-90, max=90)]
    )
    longitude = DecimalField(
        _l("Longitude"), places=6, validators=[Optional(), NumberRange(min=-180, max=180)]
    )


def _count(label: Any, maximum: int = 10_000, minimum: int = 0) -> IntegerField:
    return IntegerField(label, validators=[Optional(), NumberRange(min=minimum, max=maximum)])


class OptionForm(Form):
    class Meta:
        model = SupportOption

    category = SelectField(_l("Category"), choices=_enum_choices(CATEGORY_LABELS))
    texts = FieldList(FormField(TextForm), label=_l("Title and description"), min_entries=3)
    locations = FieldList(FormField(LocationForm), label=_l("Locations"), min_entries=2)
    service_area = ListField(_l("Service area (regions)"))
    min_age = _count(_l("Minimum age"), 130)
    max_age = _count(_l("Maximum age"), 130)
    sexes = SelectMultipleField(
        _l("For (empty: anyone)"), choices=_enum_choices(SEX_LABELS), validators=[Optional()]
    )
    vulnerabilities_served = SelectMultipleField(
        _l("Vulnerabilities served"),
        choices=_enum_choices(VULNERABILITY_LABELS),
        validators=[Optional()],
    )
    vulnerabilities_required = SelectMultipleField(
        _l("Vulnerabilities required"),
        choices=_enum_choices(VULNERABILITY_LABELS),
        validators=[Optional()],
    )
    min_family_size = _count(_l("Minimum family size"), 100, 1)
    max_family_size = _count(_l("Maximum family size"), 100, 1)
    languages_required = SelectMultipleField(_l("Languages needed (any one)"))
    eligibility_notes = TextAreaField(
        _l("Eligibility notes"), validators=[Optional(), Length(max=5000)]
    )
    cost = DecimalField(
        _l("Cost"), places=2, validators=[Optional(), NumberRange(min=0, max=10**10)]
    )
    currency = SelectField(_l("Currency"))
    cost_basis = SelectField(_l("Cost basis"), choices=_enum_choices(COST_BASIS_LABELS))
    delivery_mode = SelectField(_l("Delivered as"), choices=_enum_choices(DELIVERY_MODE_LABELS))
    duration_days = _count(_l("Duration (days)"))
    lead_time_days = _count(_l("Lead time from referral (days)"))
    delivery_languages = SelectMultipleField(_l("Delivery languages"))
    required_documents = ListField(_l("Required documents"))
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    capacity_places = _count(_l("Places per period (empty: unlimited)"), 100_000)
    capacity_period = SelectField(_l("Period"), choices=_enum_choices(PERIOD_LABELS))
    payment_schedule = SelectField(
        _l("Payment"),
        choices=_enum_choices(PAYMENT_SCHEDULE_LABELS),
        default=PaymentSchedule.ONE_OFF.value,
    )
    payment_months = IntegerField(
        _l("Monthly payments"),
        validators=[Optional(), NumberRange(min=2, max=MAX_PAYMENT_MONTHS)],
        description=_l("Empty for a cost per month: one payment for each month planned."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        languages = choices(i18n.language_choices())
        self.languages_required.choices = languages
        self.delivery_languages.choices = languages
        self.currency.choices = choices(i18n.currency_choices())
        if not self.is_submitted() and self.currency.data is None:
            self.currency.data = "EUR"

    @staticmethod
    def data_of(option: SupportOption) -> dict[str, Any]:
        """The form's initial data from an option."""
        data: dict[str, Any] = {
            name: getattr(option, name) for name in (*OptionInput.SCALARS, *OptionInput.LISTS)
        }
        for name in (
            "category",
            "cost_basis",
            "delivery_mode",
            "capacity_period",
            "payment_schedule",
        ):
            data[name] = data[name].value
        data["eligibility_notes"] = option.eligibility_notes
        data["currency"] = option.currency
        precision = get_currency_precision(option.currency)
        data["cost"] = Decimal(option.cost_minor).scaleb(-precision)
        data["texts"] = [
            {"language": t.language, "title": t.title, "description": t.description}
            for t in option.texts
        ]
        data["locations"] = [
            {
                "city": loc.city,
                "region": loc.region,
                "address": loc.address,
                "latitude": loc.latitude,
                "longitude": loc.longitude,
            }
            for loc in option.locations
        ]
        return data

    def to_input(self) -> OptionInput:
        currency = self.currency.data or "EUR"
        cost = self.cost.data or Decimal(0)
        values: dict[str, Any] = {
            name: getattr(self, name).data for name in OptionInput.SCALARS if name != "cost_minor"
        }
        values.update({name: getattr(self, name).data or [] for name in OptionInput.LISTS})
        values.update(
            category=SupportCategory(self.category.data),
            cost_basis=CostBasis(self.cost_basis.data),
            delivery_mode=DeliveryMode(self.delivery_mode.data),
            capacity_period=CapacityPeriod(self.capacity_period.data),
            payment_schedule=PaymentSchedule(self.payment_schedule.data),
            lead_time_days=self.lead_time_days.data or 0,
            currency=currency,
            cost_minor=int(cost.scaleb(get_currency_precision(currency))),
            eligibility_notes=self.eligibility_notes.data or "",
            texts=[
                TextInput(t["language"], t["title"] or "", t["description"] or "")
                for t in self.texts.data
                if t["language"] and (t["title"] or t["description"])
            ],
            locations=[
                LocationInput(
                    loc["city"] or "",
                    loc["region"] or "",
                    loc["address"] or "",
                    loc["latitude"],
                    loc["longitude"],
                )
                for loc in self.locations.data
                if loc["city"] or loc["region"] or loc["address"]
            ],
        )
        return OptionInput(**values)

    def show_error(self, error: DomainError) -> None:
        """A service refusal next to the fields; the cost is entered here in major units."""
        if "cost_minor" in error.field_errors:
            error.field_errors["cost"] = error.field_errors.pop("cost_minor")
        for name in ("texts", "locations"):  # list fields: their messages above the form
            for message in error.field_errors.pop(name, []):
                self.form_errors.append(str(message))
        if not error.field_errors:
            self.form_errors.append(str(error.message))
            return
        show_domain_error(self, error)


class ImportForm(Form):
    file = FileField(
        _l("CSV or Excel file"),
        validators=[
            FileRequired(),
            FileAllowed(["csv", "xlsx"], _l("Upload a .csv or .xlsx file.")),
        ],
    )
    office_id = SelectField(_l("Office"), coerce=int, validators=[Optional()])

    def __init__(self, *args: Any, offices: list[tuple[int, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if offices is None:
            del self.office_id
        else:
            self.office_id.choices = choices(offices)


def partner_form(partner: Partner | None, offices: list[tuple[int, str]] | None) -> PartnerForm:
    return PartnerForm(obj=partner, offices=offices if partner is None else None)


class SearchForm(Form):
    """The search page's filters (a GET form: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    country = SelectField(_l("Country"), validators=[Optional()])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=120)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=120)])
    category = SelectField(_l("Category"), validators=[Optional()])
    max_cost_eur = DecimalField(
        _l("Cost up to (EUR)"), places=2, validators=[Optional(), NumberRange(min=0, max=10**9)]
    )
    language = SelectField(_l("Delivered in"), validators=[Optional()])
    free_places = BooleanField(_l("Only with free places"))
    partner_id = IntegerField(_l("Partner"), validators=[Optional()])
    age = IntegerField(_l("Age"), validators=[Optional(), NumberRange(min=0, max=130)])
    sex = SelectField(_l("Sex"), validators=[Optional()])
    family_size = IntegerField(
        _l("Household size"), validators=[Optional(), NumberRange(min=1, max=100)]
    )
    vulnerabilities = SelectMultipleField(_l("Vulnerabilities"), validators=[Optional()])
    languages = SelectMultipleField(_l("Speaks"), validators=[Optional()])
    eligible_only = SelectField(
        _l("Options"),
        choices=choices([("1", _l("Only those that fit")), ("0", _l("All, with reasons"))]),
        default="1",
    )
    sort = SelectField(
        _l("Sort by"),
        choices=choices((s.value, label) for s, label in SORT_LABELS.items()),
        default=SortOrder.RELEVANCE.value,
    )
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10_000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        anything = [("", _l("Any"))]
        self.country.choices = choices(anything + i18n.country_choices())
        self.category.choices = choices(
            anything + [(c.value, label) for c, label in CATEGORY_LABELS.items()]
        )
        self.language.choices = choices(anything + i18n.language_choices())
        self.sex.choices = choices(anything + [(s.value, label) for s, label in SEX_LABELS.items()])
        self.vulnerabilities.choices = choices(
            (v.value, label) for v, label in VULNERABILITY_LABELS.items()
        )
        self.languages.choices = choices(i18n.language_choices())


# --- referrals (partners/referrals.py) --------------------------------------------------------


class AcceptReferralForm(Form):
    """Accept a referral; shown with ``prefix="accept"`` beside the decline form."""

    note = TextAreaField(_l("Note for IOM (optional)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Accept the referral"))


class DeclineReferralForm(Form):
    """Decline a referral with a coded reason; shown with ``prefix="decline"``."""

    reason = SelectField(_l("Reason"), validators=[DataRequired()])
    note = TextAreaField(
        _l("Note for IOM (required for another reason)"),
        validators=[Optional(), Length(max=1000)],
    )
    submit = SubmitField(_l("Decline the referral"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reasons = [(r.value, label) for r, label in DECLINE_REASON_LABELS.items()]
        self.reason.choices = choices([("", _l("Choose a reason")), *reasons])


def referral_answer_forms() -> tuple[AcceptReferralForm, DeclineReferralForm]:
    return AcceptReferralForm(prefix="accept"), DeclineReferralForm(prefix="decline")
