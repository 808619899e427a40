"""Programme set-up forms: grants, cap rules, exchange rates and their import."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from reintegration_hub.core import i18n
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import Form, SubForm, choices, show_domain_error
from reintegration_hub.core.money import BASE_CURRENCY
from reintegration_hub.programmes import caps, rates
from reintegration_hub.programmes.labels import APPROVER_LABELS, TARGET_LABELS
from reintegration_hub.programmes.models import BudgetCapRule, Grant, PlanApprover
from reintegration_hub.programmes.services import (
    FULL_SHARE_BP,
    MAX_BUDGET_MINOR,
    MAX_COUNT,
    GrantTerms,
)

#: Co-financing rows on the grant form; empty rows are ignored.
FUNDING_ROWS = 4
NONE = ("", "—")


def _optional_int(value: Any) -> int | None:
    return int(value) if value not in (None, "", "None") else None


class NumberField(DecimalField):
    """A decimal number; NaN and infinities are refused like any text that is not a number."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))


def _minor(amount: Decimal | None, currency: str) -> int:
    """Major units (1 200.50) as minor units (120050); the form validated the amount."""
    return int((amount or Decimal(0)).scaleb(get_currency_precision(currency)))


class MoneyAmount:
    """An amount of money in major units: positive, plausible, and no finer than the minor
    unit of the currency (given by the form field ``currency_field``, or a fixed code)."""

    def __init__(self, *, currency_field: str | None = None, currency: str = BASE_CURRENCY):
        self.currency_field, self.currency = currency_field, currency

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is None:
            return
        currency = form[self.currency_field].data if self.currency_field else self.currency
        places = get_currency_precision(currency or BASE_CURRENCY)
        minor = field.data.scaleb(places)
        if field.data < 0 or minor > MAX_BUDGET_MINOR:
            raise ValidationError(_l("The amount must be positive and plausible."))
        if minor != minor.to_integral_value():
            raise ValidationError(_l("At most %(places)d decimals.", places=places))


class FundingSourceForm(SubForm):
    name = StringField(_l("Co-financing source"), validators=[Optional(), Length(max=120)])
    share = NumberField(
        _l("Share (%)"),
        places=None,
        validators=[Optional(), NumberRange(min=Decimal("0.01"), max=100)],
    )

    def validate_share(self, field: NumberField) -> None:
        if field.data is not None and field.data.scaleb(2) != field.data.scaleb(2).to_integral():
            raise ValidationError(_l("At most %(places)d decimals.", places=2))


class GrantForm(Form):
    number = StringField(_l("Grant number"), validators=[DataRequired(), Length(max=64)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    start_on = DateField(_l("Starts on"), validators=[DataRequired()])
    end_on = DateField(_l("Ends on"), validators=[DataRequired()])
    currency = SelectField(_l("Currency"), default=BASE_CURRENCY)
    total_budget = NumberField(
        _l("Total budget"),
        places=None,
        validators=[InputRequired(), MoneyAmount(currency_field="currency")],
    )
    office_id = SelectField(
        _l("Held by"),
        coerce=_optional_int,
        description=_l(
            "A host office running a national programme of its own, or the home "
            "office. That office's programme managers manage the grant."
        ),
    )
    plans_approved_by = SelectField(
        _l("Plans are approved by"),
        choices=choices((a.value, label) for a, label in APPROVER_LABELS.items()),
    )
    reintegration_places = IntegerField(
        _l("Reintegration places funded"),
        validators=[Optional(), NumberRange(min=0, max=MAX_COUNT)],
        description=_l(
            "Plans the grant can approve; leave empty for no limit. When fewer "
            "places than candidates, the priority list ranks them."
        ),
    )
    funding = FieldList(FormField(FundingSourceForm), min_entries=FUNDING_ROWS, max_entries=10)

    def __init__(self, *args: Any, offices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = choices(i18n.currency_choices())
        self.office_id.choices = choices([("", _l("The home office")), *offices])

    @classmethod
    def for_grant(cls, grant: Grant | None, **kwargs: Any) -> GrantForm:
        form = cls(obj=grant, **kwargs)
        if grant is not None and not form.is_submitted():
            precision = get_currency_precision(grant.currency)
            form.total_budget.data = Decimal(grant.total_budget_minor).scaleb(-precision)
            form.plans_approved_by.data = grant.plans_approved_by.value
            while len(form.funding) < len(grant.funding_sources):
                form.funding.append_entry()
            for row, source in zip(form.funding, grant.funding_sources, strict=False):
                row.form.name.data = source.name
                row.form.share.data = Decimal(source.share_bp).scaleb(-2)
            values = {t.indicator: t.target_value for t in grant.targets}
            for indicator in TARGET_LABELS:
                getattr(form, f"target_{indicator.value}").data = values.get(indicator)
        return form

    def target_fields(self) -> list[Any]:
        return [getattr(self, f"target_{indicator.value}") for indicator in TARGET_LABELS]

    def terms(self) -> GrantTerms:
        currency = self.currency.data or BASE_CURRENCY
        return GrantTerms(
            number=self.number.data or "",
            title=self.title.data or "",
            start_on=self.start_on.data,  # type: ignore[arg-type]  # DataRequired
            end_on=self.end_on.data,  # type: ignore[arg-type]  # DataRequired
            currency=currency,
            total_budget_minor=_minor(self.total_budget.data, currency),
            funding_shares={
                (row.form.name.data or "").strip(): int(row.form.share.data.scaleb(2))
                for row in self.funding
                if (row.form.name.data or "").strip() and row.form.share.data is not None
            },
            targets={
                indicator: field.data
                for indicator, field in zip(TARGET_LABELS, self.target_fields(), strict=True)
                if field.data is not None
            },
            office_id=self.office_id.data,
            plans_approved_by=PlanApprover(self.plans_approved_by.data),
            reintegration_places=self.reintegration_places.data,
        )

    def validate_funding(self, field: FieldList[Any]) -> None:
        """Every source named with a share, the shares adding up to 100 %. (The messages are
        plain strings: the template shows the list's own errors apart from its rows'.)"""
        named = [r for r in field if (r.form.name.data or "").strip() or r.form.share.data]
        if any(not (r.form.name.data or "").strip() or r.form.share.data is None for r in named):
            raise ValidationError(str(_l("Give each co-financing source a name and a share.")))
        total = sum((r.form.share.data for r in named), Decimal(0))
        if not named or total != FULL_SHARE_BP / 100:
            raise ValidationError(
                str(_l("The shares add up to %(total)s%%; they must add up to 100%%.", total=total))
            )

    def show_error(self, error: DomainError) -> None:
        renamed = {"total_budget_minor": "total_budget", "funding_shares": "funding"}
        error.field_errors = {renamed.get(k, k): v for k, v in error.field_errors.items()}
        if "funding" in error.field_errors:  # a list field keeps its own errors per row
            self.funding.errors = [
                *self.funding.errors,
                *map(str, error.field_errors.pop("funding")),
            ]
        show_domain_error(self, error)


for _indicator, _label in TARGET_LABELS.items():
    setattr(
        GrantForm,
        f"target_{_indicator.value}",
        IntegerField(_label, validators=[Optional(), NumberRange(min=0, max=MAX_COUNT)]),
    )


class CapRuleForm(Form):
    name = StringField(_l("Programme"), validators=[DataRequired(), Length(max=200)])
    grant_id = SelectField(_l("Grant"), coerce=_optional_int)
    return_country_code = SelectField(_l("Country of return"))
    per_adult = NumberField(
        _l("Cap per adult (EUR)"), places=None, validators=[InputRequired(), MoneyAmount()]
    )
    per_dependant = NumberField(
        _l("Cap per dependant (EUR)"), places=None, validators=[Optional(), MoneyAmount()]
    )
    adult_age = IntegerField(
        _l("Dependants count as adults from the age of"),
        default=18,
        validators=[InputRequired(), NumberRange(min=0, max=99)],
    )
    max_household = IntegerField(
        _l("Largest household covered (persons)"),
        default=12,
        validators=[InputRequired(), NumberRange(min=1, max=caps.MAX_HOUSEHOLD)],
        description=_l("The returnee and the dependants registered with them."),
    )
    min_departure_days = IntegerField(
        _l("Departure deadline: at least (days)"),
        default=7,
        validators=[Optional(), NumberRange(min=0, max=caps.MAX_DEPARTURE_DAYS)],
    )
    max_departure_days = IntegerField(
        _l("Departure deadline: at most (days)"),
        default=30,
        validators=[InputRequired(), NumberRange(min=0, max=caps.MAX_DEPARTURE_DAYS)],
        description=_l("Days after the return decision in which the returnee must leave."),
    )
    in_kind_only = BooleanField(_l("Assistance in kind only"), default=True)

    def __init__(self, *args: Any, grants: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grant_id.choices = choices([("", _l("Every grant without a rule")), *grants])
        self.return_country_code.choices = choices(
            [("", _l("Every country of return")), *i18n.country_choices()]
        )

    @classmethod
    def for_rule(cls, rule: BudgetCapRule | None, **kwargs: Any) -> CapRuleForm:
        form = cls(obj=rule, **kwargs)
        if rule is not None and not form.is_submitted():
            form.per_adult.data = Decimal(rule.per_adult_minor).scaleb(-2)
            form.per_dependant.data = Decimal(rule.per_dependant_minor).scaleb(-2)
            form.return_country_code.data = rule.return_country_code or ""
        return form

    def terms(self) -> caps.CapRuleTerms:
        return caps.CapRuleTerms(
            name=self.name.data or "",
            grant_id=self.grant_id.data,
            return_country_code=self.return_country_code.data or None,
            per_adult_minor=_minor(self.per_adult.data, BASE_CURRENCY),
            per_dependant_minor=_minor(self.per_dependant.data, BASE_CURRENCY),
            adult_age=self.adult_age.data or 0,
            max_household=self.max_household.data or 0,
            min_departure_days=self.min_departure_days.data or 0,
            max_departure_days=self.max_departure_days.data or 0,
            in_kind_only=bool(self.in_kind_only.data),
        )

    def show_error(self, error: DomainError) -> None:
        renamed = {"per_adult_minor": "per_adult", "per_dependant_minor": "per_dependant"}
        error.field_errors = {renamed.get(k, k): v for k, v in error.field_errors.items()}
        show_domain_error(self, error)


QUOTES = {
    "units_per_eur": _l("1 EUR = … units of the currency"),
    "eur_per_unit": _l("1 unit of the currency = … EUR"),
}


class RateForm(Form):
    currency = SelectField(_l("Currency"), validators=[DataRequired()])
    valid_on = DateField(
        _l("From"), validators=[DataRequired()], description=_l("In force from this day on.")
    )
    quoted_as = SelectField(_l("Quoted as"), choices=choices(QUOTES.items()))
    rate = NumberField(
        _l("Rate"),
        places=None,
        validators=[
            InputRequired(),
            NumberRange(
                min=rates.MIN_RATE,
                max=rates.MAX_RATE,
                message=_l("Give a positive rate from %(min)s to %(max)s.", **rates.RATE_RANGE),
            ),
        ],
    )
    source = StringField(
        _l("Source"),
        validators=[Optional(), Length(max=120)],
        description=_l("E.g. National Bank of Georgia, official rate."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = choices(
            [NONE, *((c, n) for c, n in i18n.currency_choices() if c != BASE_CURRENCY)]
        )

    @property
    def units_per_eur(self) -> bool:
        quoted_as: str | None = self.quoted_as.data
        return quoted_as == "units_per_eur"

    def show_error(self, error: DomainError) -> None:
        if "eur_per_unit" in error.field_errors:
            error.field_errors["rate"] = error.field_errors.pop("eur_per_unit")
        show_domain_error(self, error)


class RateChangeForm(RateForm):
    """A correction: the currency and the day stay."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.currency
        del self.valid_on


class RateImportForm(Form):
    file = FileField(
        _l("File of daily rates"),
        validators=[FileRequired(_l("Choose a CSV or Excel file."))],
        description=_l(
            "Columns: currency, date, and eur_per_unit or units_per_eur; "
            "optionally source. One row per currency and day."
        ),
    )
