"""The hostile values the input tests send, and the role that sends them (shared by
``test_hostile_input`` and ``test_api_schema``)."""

from __future__ import annotations

import re

from flask import Flask

from reintegration_hub.core.authz import PUBLIC, access_rule
from reintegration_hub.core.roles import Role

NUL = "nul\x00byte"
SURROGATE = "lone\ud800surrogate"
PAST_INT32 = 2**31
PAST_INT64 = 2**63
HUGE_PAGE = "9" * 30
FAR_DATES = ("9999-12-31", "1800-01-01")
#: Audited reads: opening a case, its plan, notes (API), visit or survey form, a referral or a
#: certificate, a document download; an export, a report. Not writes.
READ_ACTIONS = (
    "case.view",
    "case_note.read",
    "delivery.certificate_view",
    "document.download",
    "export",
    "plan.view",
    "referral.view",
    "report",
    "survey.view",
    "visit.view",
)
#: Roles tried first when an endpoint admits several.
ROLE_ORDER = (Role.ADMIN, Role.PROGRAMME_MANAGER, Role.COUNSELLOR, Role.CASE_MANAGER, Role.PARTNER)


def role_for(app: Flask, path: str, method: str) -> Role | None:
    """A role that may call ``method path`` (the administrator when it may); ``path`` is an
    address or an OpenAPI path (``/api/v1/cases/{case_id}``)."""
    method = method.upper()
    endpoint = next(
        (
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if method in (rule.methods or ())
            and re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule) == path
        ),
        None,
    )
    if endpoint is None:
        endpoint, _args = app.url_map.bind("hub.test").match(path, method)
    rule = access_rule(app.view_functions[endpoint])
    if rule == PUBLIC or rule is None:
        return None
    return next(role for role in ROLE_ORDER if role in rule)
