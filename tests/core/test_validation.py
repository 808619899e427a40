"""The input rules (``core.validation``) and the bases that apply them everywhere."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from marshmallow import fields

import partners
import reintegration_hub
from partners.models import SupportOption, SupportOptionLocation
from reintegration_hub.cases.models import Dependant, Returnee
from reintegration_hub.cases.schemas import CaseDetailsSchema
from reintegration_hub.core import validation
from reintegration_hub.core.api import Blueprint
from reintegration_hub.core.forms import Form
from reintegration_hub.core.schemas import Schema
from reintegration_hub.core.validation import Refused

TODAY = dt.datetime.now(dt.UTC).date()


def problems(rule: Any, value: Any) -> list[str]:
    try:
        validation.check(rule, value)
    except Refused as refused:
        return [str(refused.message)]
    return []


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ("Nino Beridze", False),
        ("line one\nline two\ttabbed", False),  # line breaks and tabs are text
        ("Nino\x00", True),
        ("Nino\x1b[31m", True),  # an escape sequence
        ("Nino\ud800", True),  # a lone surrogate
        ("x" * 120, False),
        ("x" * 121, True),
    ],
)
def test_text_keeps_its_column_length_and_no_control_or_broken_characters(
    app: Flask, value: str, refused: bool
) -> None:
    assert bool(problems(validation.TextRule(120), value)) is refused


def test_names_refuse_direction_overrides_and_zero_width_characters(app: Flask) -> None:
    name, text = validation.TextRule(120, name=True), validation.TextRule(120)
    for hidden in ("\u202e", "\u2066", "\u200b", "\u200d", "\ufeff"):
        assert problems(name, f"Ni{hidden}no") == [str(validation.INVISIBLE_MESSAGE)]
        assert problems(text, f"Ni{hidden}no") == []  # a description may need them
    assert problems(name, "Nino Beridze") == []
    assert problems(name, "ნინო ბერიძე") == []  # any script


def test_rules_come_from_the_columns(app: Flask) -> None:
    assert validation.column_rule(Returnee.first_name) == validation.TextRule(120, name=True)
    assert validation.column_rule(Returnee.contact_after_return) == validation.TextRule(500)
    assert validation.column_rule(Returnee.origin_office_id) == validation.ID
    assert validation.column_rule(SupportOption.min_age) == validation.INT32
    assert validation.column_rule(SupportOption.cost_minor) == validation.MONEY
    assert validation.column_rule(Dependant.date_of_birth) == validation.BIRTH_DATE
    assert validation.column_rule(Returnee.departed_on) == validation.TRAVEL_DATE
    latitude = validation.column_rule(SupportOptionLocation.latitude)
    assert latitude == validation.NumberRule(Decimal("-999.999999"), Decimal("999.999999"))
    assert validation.column_rule(Returnee.sex) is None  # an enumeration: its choices


@pytest.mark.parametrize(
    ("rule", "value", "refused"),
    [
        (validation.INT32, 2**31 - 1, False),
        (validation.INT32, 2**31, True),
        (validation.INT64, 2**63 - 1, False),
        (validation.INT64, 2**63, True),
        (validation.INT64, 10**400, True),  # past what a float holds
        (validation.ID, 0, True),
        (validation.PAGE, validation.MAX_PAGE + 1, True),
        (validation.MONEY, validation.MAX_AMOUNT_MINOR, False),
        (validation.MONEY, -1, True),
        (validation.NumberRule(-1, 1), Decimal("NaN"), True),
        (validation.NumberRule(-1, 1), float("inf"), True),
    ],
)
def test_numbers_stay_within_their_column(
    app: Flask, rule: validation.NumberRule, value: Any, refused: bool
) -> None:
    assert bool(problems(rule, value)) is refused


@pytest.mark.parametrize(
    ("rule", "value", "refused"),
    [
        (validation.BIRTH_DATE, dt.date(1900, 1, 1), False),
        (validation.BIRTH_DATE, dt.date(1899, 12, 31), True),
        (validation.BIRTH_DATE, TODAY + dt.timedelta(days=1), True),
        (validation.TRAVEL_DATE, TODAY + dt.timedelta(days=365), False),
        (validation.TRAVEL_DATE, TODAY + dt.timedelta(days=3 * 366), True),
        (validation.TRAVEL_DATE, TODAY - dt.timedelta(days=9 * 365), False),
        (validation.TRAVEL_DATE, TODAY - dt.timedelta(days=11 * 366), True),
        (validation.PERIOD_DATE, dt.date(1999, 12, 31), True),
        (validation.ANY_DATE, dt.date(9999, 12, 31), True),
    ],
)
def test_dates_stay_plausible(
    app: Flask, rule: validation.DateRule, value: dt.date, refused: bool
) -> None:
    assert bool(problems(rule, value)) is refused


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (" 8.0 ", 8),  # a spreadsheet's number
        ("1e3", 1000),
        ("1.5", None),
        ("NaN", None),
        ("Infinity", None),
        ("1e999999999", None),  # not turned into a billion digits
        ("9" * 5000, None),
        ("2147483648", None),
        ("", None),
    ],
)
def test_whole_numbers_typed_as_text(app: Flask, raw: str, expected: int | None) -> None:
    assert validation.lenient(validation.to_int, raw, validation.INT32) == expected


def test_a_schema_takes_its_rules_from_its_model(app: Flask) -> None:
    errors = CaseDetailsSchema().validate(
        {
            "first_name": "Ni\u202eno",
            "last_name": "x" * 121,
            "date_of_birth": "1800-01-01",
            "sex": "female",
            "nationality": "GE",
            "return_country_code": "GE",
            "legal_status": "other",
            "contact_after_return": "\x00",
            "origin_office_id": 2**31,
            "dependants": [{"relation": "child", "date_of_birth": "9999-01-01"}],
            "languages": ["k\x00"],
        }
    )
    assert set(errors) == {
        "first_name",
        "last_name",
        "date_of_birth",
        "contact_after_return",
        "origin_office_id",
        "dependants",
        "languages",
    }
    assert errors["last_name"] == ["At most 120 characters."]


def test_the_openapi_document_shows_the_rules(app: Flask, client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    case = spec["components"]["schemas"]["CaseCreate"]["properties"]
    assert case["last_name"]["maxLength"] == 120
    assert case["origin_office_id"]["maximum"] == validation.MAX_ID
    pages = spec["paths"]["/api/v1/cases"]["get"]["parameters"]
    assert next(p for p in pages if p["name"] == "page")["schema"]["maximum"] == validation.MAX_PAGE


def _app_modules() -> None:
    for package in (reintegration_hub, partners):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    todo: list[type[Any]] = [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return {c for c in found if c.__module__.startswith(("reintegration_hub.", "partners."))}


def test_every_schema_and_api_blueprint_takes_the_input_rules(app: Flask) -> None:
    """Hard to forget: a schema on plain ``marshmallow.Schema`` or an API blueprint on plain
    ``flask_smorest.Blueprint`` would skip the rules (forms: ``test_hostile_input``)."""
    _app_modules()
    plain = sorted(c.__qualname__ for c in _subclasses(ma.Schema) if not issubclass(c, Schema))
    assert not plain, f"derive from reintegration_hub.core.schemas.Schema: {plain}"
    blueprints = [bp for bp in app.iter_blueprints() if bp.name.endswith("_api")]
    assert blueprints
    assert all(isinstance(bp, Blueprint) for bp in blueprints)


def test_a_form_field_states_its_own_rule_or_takes_its_column(app: Flask) -> None:
    from wtforms import StringField

    from reintegration_hub.core.forms import InputRule

    class NoteForm(Form):
        class Meta:
            csrf = False
            model = Returnee

        return_city = StringField()
        note = StringField(validators=[InputRule(validation.TextRule(5))])

    with app.test_request_context(method="POST", data={"return_city": "x" * 121, "note": "abcdef"}):
        form = NoteForm()
        assert not form.validate()
        assert form.errors == {
            "return_city": ["At most 120 characters."],
            "note": ["At most 5 characters."],
        }
        assert form.return_city.flags.maxlength == 120


def test_a_list_field_checks_each_item(app: Flask) -> None:
    schema = type("Regions", (Schema,), {"regions": fields.List(fields.String())})()
    assert "regions" in schema.validate({"regions": ["Imereti", "Ime\x00reti"]})
