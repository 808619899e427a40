"""The delivery form: input only; the delivery service decides what is acceptable."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    NumberRange,
    Optional,
    ValidationError,
)

from reintegration_hub.core import i18n
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import Form, choices, show_domain_error
from reintegration_hub.deliveries.certificates import CertificateUpload
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.deliveries.services import MAX_QUANTITY, DeliveryInput, LineProgress


class DeliveryForm(Form):
    """One instalment of a plan line; blank, it offers the instalment's share of what is left."""

    class Meta:
        model = Delivery

    delivered_on = DateField(_l("Delivered on"), validators=[DataRequired()])
    quantity = IntegerField(
        _l("Units delivered"),
        validators=[Optional(), NumberRange(min=0, max=MAX_QUANTITY)],
        description=_l("0 for a payment in stages that hands over no whole unit yet."),
    )
    amount = DecimalField(
        _l("Amount paid"),
        places=None,
        validators=[InputRequired()],
        description=_l("In the currency of the invoice, e.g. 1250.50"),
    )
    currency = SelectField(_l("Currency"), validators=[DataRequired()])
    eur_rate = DecimalField(
        _l("Euros per unit of the currency"),
        places=None,
        validators=[Optional()],
        description=_l("Leave empty to use the rate recorded for the delivery date."),
    )
    invoice_number = StringField(_l("Invoice number"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional()])
    certificate = FileField(
        _l("Handover certificate"), description=_l("PDF, JPEG or PNG, signed by the returnee.")
    )

    def __init__(self, *args: Any, progress: LineProgress, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency.choices = choices(i18n.currency_choices())
        if not self.is_submitted():
            self.currency.data = progress.currency
            self.quantity.data = progress.suggested_quantity
            places = get_currency_precision(progress.currency)
            self.amount.data = Decimal(progress.suggested_minor).scaleb(-places)

    def validate_amount(self, field: DecimalField) -> None:
        """The amount in major units must fit the currency's minor unit (2 decimals for GEL)."""
        if field.data is None or not field.data.is_finite():
            raise ValidationError(_l("Give the amount as a number."))
        places = get_currency_precision(self.currency.data or "EUR")
        minor = field.data.scaleb(places)
        if minor != minor.to_integral_value():
            raise ValidationError(_l("At most %(places)d decimals.", places=places))

    def delivery_input(self) -> DeliveryInput:
        """The input of a validated form."""
        amount, delivered_on = self.amount.data, self.delivered_on.data
        assert amount is not None
        assert delivered_on is not None
        return DeliveryInput(
            delivered_on=delivered_on,
            quantity=self.quantity.data,
            amount_minor=int(amount.scaleb(get_currency_precision(self.currency.data))),
            currency=self.currency.data,
            eur_rate=self.eur_rate.data,
            invoice_number=self.invoice_number.data or "",
            note=self.note.data or "",
        )

    def certificate_upload(self) -> CertificateUpload:
        """The uploaded file; none reads as an empty one, which the service refuses."""
        upload = self.certificate.data
        if upload is None:
            return CertificateUpload("", io.BytesIO())
        return CertificateUpload(upload.filename or "", upload.stream)

    def show_error(self, error: DomainError) -> None:
        """A service refusal next to the fields; the amount is entered here in major units."""
        if "amount_minor" in error.field_errors:
            error.field_errors["amount"] = error.field_errors.pop("amount_minor")
        show_domain_error(self, error)
