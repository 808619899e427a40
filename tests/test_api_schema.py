"""Property-based run of the whole ``/api/v1`` OpenAPI document (schemathesis).

Every operation is called with generated input as an administrator (bearer token) on the demo
data: no answer may be a 5xx, and every answer must match the documented status codes,
content type and response schema. A second run puts a hostile value (a NUL byte, a lone
surrogate, an over-long text, an integer past 2^31 or 2^63, a date in 9999 or 1800) into one
field of each generated request, sent as a role allowed to call the operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reintegration_hub.auth import services
from reintegration_hub.auth.models import User
from reintegration_hub.core import validation
from reintegration_hub.core.roles import Role
from reintegration_hub.demo import data
from reintegration_hub.extensions import db
from tests.hostile import FAR_DATES, NUL, PAST_INT32, PAST_INT64, SURROGATE, role_for

#: Valid requests (positive mode), each then given one hostile value by the hooks below.
HOSTILE_CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"mode": "positive"},
    }
)


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
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_openapi_document(case) -> None:
    case.validate_response(case.call(), checks=CHECKS)


# --- the same run with hostile values -----------------------------------------------------------

HOSTILE_TEXTS = (NUL, "x" * (validation.MAX_TEXT + 1))
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[path[0]] = _replaced(copy[path[0]], path[1:], new)
    return copy


def hostile_strategy(value: Any, *, json: bool) -> st.SearchStrategy[Any]:
    """``value`` (a generated body or query) with one of its texts, numbers or dates replaced
    by a hostile value; lone surrogates only where JSON carries them."""
    choices: list[tuple[tuple[Any, ...], Any]] = []
    for path, leaf in _leaves(value):
        if isinstance(leaf, bool) or not path:
            continue
        if isinstance(leaf, int):
            choices += [(path, number) for number in (PAST_INT32, PAST_INT64)]
        elif isinstance(leaf, str) and DATE.fullmatch(leaf):
            choices += [(path, day) for day in FAR_DATES]
        elif isinstance(leaf, str):
            texts = (*HOSTILE_TEXTS, SURROGATE) if json else HOSTILE_TEXTS
            choices += [(path, text) for text in texts]
    if not choices:
        return st.just(value)
    return st.sampled_from(choices).map(lambda change: _replaced(value, *change))


def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    json = all(b.media_type == "application/json" for b in context.operation.body)
    return hostile_strategy(body, json=json)


def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    return hostile_strategy(query, json=False)


@pytest.fixture
def hostile_api_schema(make_app) -> object:
    """The schema of the app on the demo data, each operation called as a role allowed to
    call it, with a hostile value in one field of each request (hooks of this schema only)."""
    app: Flask = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        data.load()
        tokens: dict[Role, str] = {}
        for user in db.session.scalars(sa.select(User).order_by(User.id)).all():
            tokens.setdefault(user.role, services.issue_api_token(name="hostile", actor=user)[1])
        db.session.commit()
        db.session.remove()
    # no application context kept open: each request has its own, so its own user
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=HOSTILE_CONFIG)

    def map_case(context: Any, case: Any) -> Any:
        role = role_for(app, case.operation.path, case.method)
        if role is not None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[role]}"}
        return case

    for hook in (flatmap_body, flatmap_query, map_case):
        schema.hooks.register_hook_with_name(hook, hook.__name__)
    return schema


hostile_schema = schemathesis.pytest.from_fixture("hostile_api_schema")


@hostile_schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_answers_hostile_values_without_a_server_error(case) -> None:
    case.validate_response(case.call(), checks=CHECKS)
