"""Property-based run of the whole ``/api/v1`` OpenAPI document (schemathesis).

Every operation is called with generated input as an administrator (bearer token) on the demo
data: no answer may be a 5xx, and every answer must match the documented status codes,
content type and response schema.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reintegration_hub.auth import services
from reintegration_hub.demo import data
from reintegration_hub.extensions import db


@pytest.fixture
def api_schema(make_app) -> Iterator[object]:
    app: Flask = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        data.load()
        admin = services.authenticate("admin@demo.example", data.DEMO_PASSWORD)
        _, raw = services.issue_api_token(name="schemathesis", actor=admin)
        db.session.commit()
        config = SchemathesisConfig.from_dict(
            {
                "headers": {"Authorization": f"Bearer {raw}"},
                "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            }
        )
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case) -> None:
    response = case.call()
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
