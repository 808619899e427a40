"""The HSDS 3.0 export: every record validates against the official schemas (kept in hsds/)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from partners import services
from partners.models import OptionStatus, VettingStatus
from reintegration_hub.core.roles import Role
from tests.factories import (
    PartnerFactory,
    SupportOptionFactory,
    SupportOptionLocationFactory,
    SupportOptionTextFactory,
    user_with_role,
)

# The page envelope of the HSDS OpenAPI, in our words: the counts and flags of a page of records.
PAGE_ENVELOPE = {
    "type": "object",
    "required": [
        "total_items",
        "total_pages",
        "page_number",
        "size",
        "first_page",
        "last_page",
        "empty",
        "contents",
    ],
    "properties": {
        "total_items": {"type": "integer", "minimum": 0},
        "total_pages": {"type": "integer", "minimum": 1},
        "page_number": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 0},
        "first_page": {"type": "boolean"},
        "last_page": {"type": "boolean"},
        "empty": {"type": "boolean"},
        "contents": {"type": "array"},
    },
}


#: The official HSDS 3.0 schemas of a service and an organization, with the schemas they refer
#: to (see hsds/README.md)
HSDS = Path(__file__).parent / "hsds"


def hsds_registry() -> Registry:
    """Every schema of ``HSDS`` by its file name, the way the schemas refer to one another."""
    return Registry().with_resources(
        (
            path.name,
            Resource.from_contents(
                json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT202012
            ),
        )
        for path in sorted(HSDS.glob("*.json"))
    )


def test_the_formats_the_hsds_schemas_use_are_checked() -> None:
    """Without its library a format is silently accepted (jsonschema skips it)."""
    used = {"uri", "date-time", "email", "uuid"}
    assert used <= set(FormatChecker().checkers)


def validator(schema: dict[str, Any], registry: Registry | None = None) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(
        schema, format_checker=FormatChecker(), registry=registry or Registry()
    )


@pytest.fixture(scope="module")
def hsds_validators() -> dict[str, Draft202012Validator]:
    registry = hsds_registry()
    return {
        name: validator(registry.contents(f"{name}.json"), registry)
        for name in ("service", "organization")
    }


def errors(validator: Draft202012Validator, record: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)
    ]


def test_the_envelope_schema_can_fail(hsds_validators):
    page_validator = validator(PAGE_ENVELOPE)
    assert errors(page_validator, {"total_items": "3"})
    assert errors(hsds_validators["service"], {"id": "not-a-uuid", "name": "x", "status": "open"})
    assert errors(
        hsds_validators["service"],
        {"id": str(uuid.uuid4()), "name": "x", "status": "active", "assurer_email": "nobody"},
    )


def test_the_schemas_follow_their_references_to_the_other_tables(hsds_validators):
    service = {"id": str(uuid.uuid4()), "name": "x", "status": "active"}
    assert errors(hsds_validators["service"], service) == []
    nested = {
        **service,
        "organization": {"id": "not-a-uuid", "name": "y", "description": "z"},
        "phones": [{"id": str(uuid.uuid4()), "number": 42}],
    }
    assert {error.split(":")[0] for error in errors(hsds_validators["service"], nested)} == {
        "organization/id",
        "phones/0/number",
    }


@pytest.fixture
def directory():
    partner = PartnerFactory(
        name="Imereti Skills Centre",
        description="Vocational training in Imereti.",
        website="https://skills.example.org",
        phone="+995 431 000 000",
    )
    course = SupportOptionFactory(
        partner=partner,
        texts__title="Tailoring course",
        texts__description="Three months of sewing.",
        min_age=18,
        max_age=55,
        sexes=["female"],
        vulnerabilities_required=["single_parent", "large_family"],
        max_family_size=6,
        cost_minor=35000,
        currency="GEL",
        cost_eur_minor=11900,
        eur_rate=Decimal("0.34"),
        delivery_languages=["ka", "ru"],
        required_documents=["Passport", "Return certificate"],
        service_area=["Imereti"],
        eligibility_notes="Bring your children's birth certificates.",
        lead_time_days=14,
        locations=[],
    )
    SupportOptionLocationFactory(
        option=course,
        city="Kutaisi",
        region="Imereti",
        address="Rustaveli 1",
        latitude=Decimal("42.271"),
        longitude=Decimal("42.706"),
    )
    SupportOptionTextFactory(option=course, language="ka", title="კერვის კურსი")
    manager = user_with_role(Role.CASE_MANAGER, email="verifier@iom.example.org")
    services.verify_option(course.id, actor=manager)  # assured_date, assurer and audit metadata
    draft = SupportOptionFactory(partner=partner, status=OptionStatus.DRAFT)
    suspended = PartnerFactory(vetting_status=VettingStatus.SUSPENDED)
    return {"partner": partner, "course": course, "draft": draft, "suspended": suspended}


def test_services_validate_and_carry_what_a_directory_needs(app, directory, login, hsds_validators):
    client = login(user_with_role(Role.COUNSELLOR))
    page = client.get("/api/v1/hsds/services").get_json()
    assert errors(validator(PAGE_ENVELOPE), page) == []
    assert (page["total_items"], page["size"], page["first_page"], page["last_page"]) == (
        1,
        1,
        True,
        True,
    )
    (record,) = page["contents"]
    assert errors(hsds_validators["service"], record) == []
    course = directory["course"]
    assert record["id"] == str(course.public_id)
    assert record["status"] == "active"
    assert record["organization"]["name"] == "Imereti Skills Centre"
    assert record["cost_options"][0]["currency"] == "GEL"
    assert record["cost_options"][0]["amount"] == 350.0
    assert {lang["code"] for lang in record["languages"]} == {"ka", "ru"}
    assert record["languages"][0]["name"] == "Georgian"
    assert [d["document"] for d in record["required_documents"]] == [
        "Passport",
        "Return certificate",
    ]
    location = record["service_at_locations"][0]["location"]
    assert (location["location_type"], location["latitude"]) == ("physical", 42.271)
    assert (record["minimum_age"], record["maximum_age"]) == (18, 55)
    assert "Only for: Female" in record["eligibility_description"]
    assert record["assurer_email"] == "verifier@iom.example.org"
    assert record["assured_date"] == course.last_verified_at.date().isoformat()
    assert any(m["field_name"] == "verified_by_id" for m in record["metadata"])

    one = client.get(f"/api/v1/hsds/services/{course.public_id}")
    assert one.status_code == 200
    assert errors(hsds_validators["service"], one.get_json()) == []
    assert client.get(f"/api/v1/hsds/services/{directory['draft'].public_id}").status_code == 404


def test_organizations_validate_and_list_only_approved_partners(
    app, directory, login, hsds_validators
):
    client = login(user_with_role(Role.PARTNER))  # any signed-in user reads the directory
    page = client.get("/api/v1/hsds/organizations").get_json()
    assert errors(validator(PAGE_ENVELOPE), page) == []
    assert page["total_items"] == 1
    for record in page["contents"]:
        assert errors(hsds_validators["organization"], record) == []
    (record,) = page["contents"]
    assert record["website"] == "https://skills.example.org"
    assert [s["id"] for s in record["services"]] == [str(directory["course"].public_id)]
    url = f"/api/v1/hsds/organizations/{directory['suspended'].public_id}"
    assert client.get(url).status_code == 404
    one = client.get(f"/api/v1/hsds/organizations/{directory['partner'].public_id}")
    assert errors(hsds_validators["organization"], one.get_json()) == []


def test_pages_follow_the_hsds_page_shape(app, login, hsds_validators):
    for n in range(5):
        SupportOptionFactory(texts__title=f"Course {n}")
    client = login(user_with_role(Role.COUNSELLOR))
    second = client.get("/api/v1/hsds/services", query_string={"page": 2, "per_page": 2})
    body = second.get_json()
    assert {k: v for k, v in body.items() if k != "contents"} == {
        "total_items": 5,
        "total_pages": 3,
        "page_number": 2,
        "size": 2,
        "first_page": False,
        "last_page": False,
        "empty": False,
    }
    for record in body["contents"]:
        assert errors(hsds_validators["service"], record) == []
    beyond = client.get("/api/v1/hsds/services", query_string={"page": 9}).get_json()
    assert (beyond["empty"], beyond["size"], beyond["contents"]) == (True, 0, [])


def test_the_directory_needs_a_signed_in_user(app, client, directory):
    assert client.get("/api/v1/hsds/services").status_code == 401
