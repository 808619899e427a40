"""How an option is paid (at once, or monthly) and in which language a partner's focal point
reads e-mails: the same rules on the form, in the API and in the import."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask

from partners import imports
from partners.models import CostBasis, PaymentSchedule, SupportCategory
from partners.services import OptionInput, TextInput, validate_option
from reintegration_hub.core.errors import InvalidInput
from tests.factories import PartnerFactory, SupportOptionFactory
from tests.partners.helpers import API, OPTION, as_csv, case_manager, rows

COURSE = OptionInput(
    category=SupportCategory.VOCATIONAL_TRAINING,
    texts=[TextInput("en", "Sewing course")],
    cost_minor=120000,
    currency="GEL",
)


@pytest.mark.parametrize(
    ("schedule", "months", "basis", "instalments"),
    [
        (PaymentSchedule.ONE_OFF, None, CostBasis.PER_MONTH, 1),
        (PaymentSchedule.MONTHLY, 3, CostBasis.PER_PERSON, 3),
        (PaymentSchedule.MONTHLY, None, CostBasis.PER_MONTH, 6),  # one for each month planned
        (PaymentSchedule.MONTHLY, 2, CostBasis.PER_MONTH, 2),
    ],
)
def test_the_instalments_of_a_line_follow_the_schedule(
    app: Flask, schedule: PaymentSchedule, months: int | None, basis: CostBasis, instalments: int
) -> None:
    data = dataclasses.replace(
        COURSE, payment_schedule=schedule, payment_months=months, cost_basis=basis
    )
    validate_option(data)
    option = SupportOptionFactory(
        payment_schedule=schedule, payment_months=months, cost_basis=basis
    )
    assert option.instalments_for(6) == instalments


@pytest.mark.parametrize(
    ("schedule", "months", "basis"),
    [
        (PaymentSchedule.ONE_OFF, 3, CostBasis.PER_PERSON),  # months of nothing
        (PaymentSchedule.MONTHLY, None, CostBasis.PER_PERSON),  # how many?
        (PaymentSchedule.MONTHLY, 1, CostBasis.PER_PERSON),
        (PaymentSchedule.MONTHLY, 61, CostBasis.PER_MONTH),
        (PaymentSchedule.MONTHLY, 2**40, CostBasis.PER_PERSON),
    ],
)
def test_a_schedule_that_makes_no_sense_is_refused_at_its_field(
    app: Flask, schedule: PaymentSchedule, months: int | None, basis: CostBasis
) -> None:
    data = dataclasses.replace(
        COURSE, payment_schedule=schedule, payment_months=months, cost_basis=basis
    )
    with pytest.raises(InvalidInput) as refused:
        validate_option(data)
    assert list(refused.value.field_errors) == ["payment_months"]


def test_the_api_takes_and_shows_the_schedule(app: Flask, login) -> None:
    partner = PartnerFactory()
    client = login(case_manager())
    monthly = {**OPTION, "payment_schedule": "monthly", "payment_months": 3}
    created = client.post(f"{API}/partners/{partner.id}/options", json=monthly)
    assert created.status_code == 201, created.json
    assert (created.json["payment_schedule"], created.json["payment_months"]) == ("monthly", 3)
    for bad in ({"payment_schedule": "weekly"}, {"payment_months": 10**12}, {"payment_months": 1}):
        refused = client.post(f"{API}/partners/{partner.id}/options", json={**monthly, **bad})
        assert refused.status_code == 422
        assert set(bad) <= set(refused.json["errors"].get("json", refused.json["errors"]))
    one_off_with_months = {**OPTION, "payment_months": 3}
    refused = client.put(f"{API}/options/{created.json['id']}", json=one_off_with_months)
    assert refused.status_code == 422
    assert "payment_months" in refused.json["errors"]


def test_the_option_form_sets_the_schedule(app: Flask, login) -> None:
    manager = case_manager()
    option = SupportOptionFactory(
        partner__office=manager.office, payment_schedule=PaymentSchedule.MONTHLY, payment_months=4
    )
    client = login(manager)
    page = client.get(f"/marketplace/options/{option.id}/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<option selected value="monthly">' in html
    assert 'name="payment_months" type="number" value="4"' in html
    shown = client.get(f"/marketplace/options/{option.id}").get_data(as_text=True)
    assert "paid monthly, 4 months" in shown


def test_the_import_reads_the_schedule_and_names_a_bad_one(app: Flask) -> None:
    partner = PartnerFactory(name="Kutaisi Training Centre")
    data = rows(partner.name, 2)
    data[1]["payment_schedule"], data[1]["payment_months"] = "one_off", ""
    created = imports.import_options("options.csv", as_csv(data), actor=case_manager())
    assert [(o.payment_schedule, o.payment_months) for o in created] == [
        (PaymentSchedule.MONTHLY, 3),  # the template's example row
        (PaymentSchedule.ONE_OFF, None),
    ]
    data[0]["payment_schedule"] = "weekly"
    data[1]["payment_months"] = "4"  # months of a one-off payment
    with pytest.raises(imports.ImportRejected) as rejected:
        imports.import_options("options.csv", as_csv(data), actor=case_manager())
    problems = {(e.line, e.column) for e in rejected.value.rows}
    assert {(2, "payment_schedule"), (3, "payment_months")} <= problems


def test_a_partner_says_the_language_of_its_e_mails(app: Flask, login) -> None:
    client = login(case_manager())
    partner = {"name": "Batumi Housing Desk", "focal_point_email": "desk@batumi.example.org"}
    created = client.post(f"{API}/partners", json={**partner, "contact_language": "ru"})
    assert created.status_code == 201, created.json
    assert created.json["contact_language"] == "ru"
    page = client.get(f"/marketplace/partners/{created.json['id']}").get_data(as_text=True)
    assert 'data-testid="contact-language">Russian<' in page
    for bad in ("xx", "ru\x00", "russian"):
        refused = client.post(
            f"{API}/partners", json={**partner, "name": f"Desk {bad!r}", "contact_language": bad}
        )
        assert refused.status_code == 422, bad
