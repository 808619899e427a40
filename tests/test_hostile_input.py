"""Hostile input to every field of the API and of the pages: NUL bytes, lone surrogates,
over-long texts, integers past 2^31 and 2^63, huge page numbers, year-9999 (and 1800) dates.

The API's fields come from its OpenAPI document; the pages' forms are found by crawling the
pages as each role (every link, a few pages per endpoint), and a last test checks that every
WTForms form class of the app was among them. Each field is sent each hostile value that fits
its type, one request per field and value, as a user whose role may call the endpoint. No
answer may be a server error; a value that must be refused is refused (the API names the field
in its 422/400), and the requests with such values write no row: the rows of every table are
counted before and after each endpoint's or form's batch of them (reads that are audited,
such as opening a case, are not writes).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException
from wtforms import Form as WTForm

from partners import referrals
from partners.models import DeclineReason, PartnerMember, SupportOption
from reintegration_hub import create_app
from reintegration_hub.auth import services as auth_services
from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.core import validation
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.roles import Role
from reintegration_hub.deliveries import services as deliveries
from reintegration_hub.deliveries.certificates import CertificateUpload
from reintegration_hub.demo import data
from reintegration_hub.extensions import api, db
from reintegration_hub.plans import services as plans
from tests import conftest
from tests.cases.helpers import details
from tests.database import empty_database
from tests.deliveries.helpers import PNG
from tests.hostile import (
    FAR_DATES,
    HUGE_PAGE,
    NUL,
    PAST_INT32,
    PAST_INT64,
    READ_ACTIONS,
    ROLE_ORDER,
    SURROGATE,
    role_for,
)

DEMO_USERS = {
    Role.ADMIN: "admin@demo.example",
    Role.PROGRAMME_MANAGER: "manager@demo.example",
    Role.COUNSELLOR: "counsellor.riga@demo.example",
    Role.CASE_MANAGER: "casemanager.tbilisi@demo.example",
    Role.PARTNER: "partner.tbilisi@demo.example",
}


@dataclass(frozen=True)
class Hostile:
    """A value sent to one field; ``must_refuse``: no field of its type may take it."""

    value: Any
    must_refuse: bool
    label: str


# --- the world: the demo, plus cases at every step of a plan ---------------------------------


@dataclass
class World:
    app: Flask
    tokens: dict[Role, str]
    session_ids: dict[Role, str]
    forms: dict[tuple[str, str, frozenset[str]], FormSpec] = field(default_factory=dict)
    links: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def client(self, role: Role | None) -> FlaskClient:
        client = self.app.test_client()
        if role is not None:
            with client.session_transaction() as session:
                session["_user_id"] = self.session_ids[role]
                session["_fresh"] = True
        return client

    def rows(self) -> dict[str, int]:
        """Rows of every table (audited reads left out), in one statement."""
        with self.app.app_context():
            counts = []
            for table in db.metadata.sorted_tables:
                stmt = sa.select(sa.func.count()).select_from(table)
                if table.name == AuditEntry.__tablename__:
                    stmt = stmt.where(AuditEntry.action.not_in(READ_ACTIONS))
                counts.append(stmt.scalar_subquery().label(table.name))
            row = db.session.execute(sa.select(*counts)).one()
            db.session.remove()
            return dict(row._mapping)


def _case(
    counsellor: User, tbilisi_manager: User, first_name: str, *, mobile_number: str = ""
) -> Any:
    consent = cases.ConsentInput(
        share_with_origin_office=True,
        share_with_partners=True,
        given_on=dt.date.today(),  # noqa: DTZ011
        sms_contact=bool(mobile_number),
    )
    values = details(
        first_name=first_name,
        origin_office_id=tbilisi_manager.office_id,
        case_manager_id=tbilisi_manager.id,
        mobile_number=mobile_number,
    )
    return cases.register_case(values, consent=consent, confirm_duplicate=True, actor=counsellor)


def _plan_with_a_line(case: Any, counsellor: User, partner_id: int, quantity: int = 1) -> Any:
    plan = plans.start_plan(case.id, actor=counsellor)
    options = db.session.scalars(
        sa.select(SupportOption.id)
        .where(SupportOption.country_code == "GE")
        .order_by(SupportOption.partner_id != partner_id, SupportOption.id)
    )
    for option_id in options:
        try:
            with db.session.begin_nested():
                plans.add_line(plan.id, option_id, quantity=quantity, actor=counsellor)
        except DomainError:
            continue
        break
    return plan


def build_world() -> tuple[dict[Role, str], dict[Role, str]]:
    """The demo, and five cases: a draft plan, a submitted one, an approved one whose
    referral waits for the partner, one whose referral was accepted and one whose referral
    was declined (its line can be replaced)."""
    data.load()
    users = {
        role: db.session.scalar(sa.select(User).where(User.email == email))
        for role, email in DEMO_USERS.items()
    }
    counsellor, manager = users[Role.COUNSELLOR], users[Role.CASE_MANAGER]
    assert counsellor is not None
    assert manager is not None
    partner_id = db.session.scalar(
        sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == users[Role.PARTNER].id)
    )
    steps = []
    for name in ("Tamar", "Ketevan", "Mariam", "Salome"):
        plan = _plan_with_a_line(_case(counsellor, manager, name), counsellor, partner_id)
        plans.submit_plan(plan.id, justification="Over the cap: two children.", actor=counsellor)
        steps.append(plan)
    for plan in steps[1:]:
        plans.confirm_feasibility(plan.id, actor=manager)
        plans.approve_plan(plan.id, actor=users[Role.ADMIN])
    accepted = steps[2].lines[0].referral_id
    referrals.accept_referral(accepted, actor=users[Role.PARTNER])
    declined = steps[3].lines[0].referral_id
    referrals.decline_referral(
        declined, DeclineReason.SERVICE_UNAVAILABLE, actor=users[Role.PARTNER]
    )
    # a returnee texted by SMS whose support was delivered: the feedback form's link is on
    # the case page, the SMS stop button too
    texted = _plan_with_a_line(
        _case(counsellor, manager, "Eka", mobile_number="+995 555 12 34 56"),
        counsellor,
        partner_id,
    )
    plans.submit_plan(texted.id, justification="Over the cap: two children.", actor=counsellor)
    plans.confirm_feasibility(texted.id, actor=manager)
    plans.approve_plan(texted.id, actor=users[Role.ADMIN])
    line = texted.lines[0]
    referrals.accept_referral(line.referral_id, actor=users[Role.PARTNER])
    deliveries.record_delivery(
        line.id,
        deliveries.DeliveryInput(
            delivered_on=dt.date.today(),  # noqa: DTZ011
            amount_minor=line.unit_cost_minor * line.quantity,
            currency=line.currency,
            eur_rate=None,
            invoice_number="INV-1",
        ),
        CertificateUpload("handover.png", io.BytesIO(PNG)),
        actor=manager,
    )
    # the newest case, first in the lists: a draft over the cap (its page asks why)
    _plan_with_a_line(_case(counsellor, manager, "Nino"), counsellor, partner_id, quantity=99)
    tokens = {
        role: auth_services.issue_api_token(name="hostile input", actor=user)[1]
        for role, user in users.items()
    }
    for user in users.values():
        auth_services.start_session(user)  # a server-side session for the pages' crawl
    return tokens, {role: user.get_id() for role, user in users.items()}


@pytest.fixture(scope="module")
def world(
    database_url: str, _migrated: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    app = create_app(
        conftest.test_config(
            database_url,
            RATELIMIT_ENABLED=False,
            PROPAGATE_EXCEPTIONS=False,  # a server error is an answer to report, with the rest
            CERTIFICATE_DIR=str(tmp_path_factory.mktemp("certificates")),
        )
    )
    with app.app_context():
        tokens, session_ids = build_world()
        db.session.commit()
        db.session.remove()
    yield World(app, tokens, session_ids)
    with app.app_context():
        db.session.remove()
        empty_database(db.engine)
        db.engine.dispose()


class Failed:
    """What a request that raised answers here: a server error, reported with the others."""

    status_code = 500
    mimetype = ""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_json(self, silent: bool = False) -> None:
        return None


def answer(client: FlaskClient, url: str, **kw: Any) -> Any:
    """The answer, read to its end and closed as a browser would (a streamed download runs its
    queries then, and its request's context ends); a failure on the way is a server error."""
    try:
        response = client.open(url, **kw)
        response.get_data()
        response.close()
    except Exception as error:  # the error page or the stream itself failed: a server error
        return Failed(error)
    return response


# --- the API, from its OpenAPI document ------------------------------------------------------


def _openapi() -> dict[str, Any]:
    app = create_app(conftest.test_config("sqlite://"))
    with app.app_context():
        return dict(api.spec.to_dict())


SPEC = _openapi()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "allOf" in schema:
        return _resolve(schema["allOf"][0])
    return schema


PATTERN_EXAMPLES = {
    "^[A-Za-z]{2}$": "GE",
    "^[a-z]{2}$": "ka",
    "^[A-Za-z]{3}$": "GEL",
}


def example(schema: dict[str, Any]) -> Any:
    """A plausible value of ``schema`` (required properties only for objects)."""
    schema = _resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        required = schema.get("required", [])
        return {name: example(schema["properties"][name]) for name in required}
    if kind == "array":
        return [example(schema["items"])] if schema.get("minItems") else []
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return dt.date.today().isoformat()  # noqa: DTZ011
    if schema.get("format") == "email":
        return "someone@example.org"
    if schema.get("format") == "decimal":
        return "1"
    return PATTERN_EXAMPLES.get(schema.get("pattern", ""), "Kutaisi")


def hostile_values(schema: dict[str, Any], *, json: bool) -> list[Hostile]:
    """The hostile values for a field of ``schema``; lone surrogates only travel in JSON."""
    schema = _resolve(schema)
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "array":
        return [
            Hostile([h.value], h.must_refuse, f"[{h.label}]")
            for h in hostile_values(schema["items"], json=json)
            if h.must_refuse
        ]
    if kind == "integer":
        return [
            Hostile(PAST_INT32, schema.get("maximum", PAST_INT32) < PAST_INT32, "2^31"),
            Hostile(PAST_INT64, True, "2^63"),
        ]
    if kind == "number" or fmt == "decimal":
        return [Hostile("1e23" if fmt == "decimal" else 1e23, True, "1e23")]
    if kind == "boolean" or fmt == "binary" or "properties" in schema:
        return []
    values = [Hostile(NUL, True, "NUL")]
    if json:
        values.append(Hostile(SURROGATE, True, "surrogate"))
    if fmt == "date":
        values += [Hostile(day, True, day[:4]) for day in FAR_DATES]
    elif "enum" not in schema:
        length = schema.get("maxLength", validation.MAX_TEXT) + 1
        values.append(Hostile("x" * length, True, f"{length} characters"))
    return values


@dataclass(frozen=True)
class ApiCase:
    """One request: ``value`` at ``path`` (a query parameter, or keys into the body)."""

    location: str  # query, json, form
    path: tuple[str | int, ...]
    hostile: Hostile


def api_cases(operation: dict[str, Any]) -> tuple[dict[str, Any], str, list[ApiCase]]:
    """The base body, its content type and the hostile requests of ``operation``."""
    found: list[ApiCase] = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        schema = parameter.get("schema", {})
        for hostile in hostile_values(schema, json=False):
            found.append(ApiCase("query", (parameter["name"],), hostile))
        if parameter["name"] == "page":
            found.append(ApiCase("query", ("page",), Hostile(HUGE_PAGE, True, "huge page")))
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return {}, "", found
    mime, body = next(iter(content.items()))
    schema = _resolve(body["schema"])
    location = "json" if mime == "application/json" else "form"
    base = example(schema)
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(prop)
        if prop.get("readOnly"):
            continue
        for hostile in hostile_values(prop, json=location == "json"):
            found.append(ApiCase(location, (name,), hostile))
        items = _resolve(prop.get("items", {})) if prop.get("type") == "array" else prop
        for inner, inner_prop in items.get("properties", {}).items():  # nested objects
            key: tuple[str | int, ...] = (name, 0, inner) if items is not prop else (name, inner)
            for hostile in hostile_values(inner_prop, json=location == "json"):
                found.append(ApiCase(location, key, hostile))
    return base, mime, found


def _with(base: Any, path: tuple[str | int, ...], value: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``base`` with ``value`` at ``path``, filling the containers on the way."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    schema = _resolve(schema)
    if isinstance(head, int):
        items = list(base or [])
        item_schema = schema.get("items", {})
        current = items[0] if items else example(item_schema)
        return [_with(current, rest, value, item_schema)]
    child = schema.get("properties", {}).get(head, {})
    current = dict(base or {})
    current[head] = _with(current.get(head), rest, value, child)
    return current


def _names_field(errors: Any, name: str) -> bool:
    if isinstance(errors, dict):
        return name in errors or any(_names_field(v, name) for v in errors.values())
    return False


OPERATIONS = [
    (method, path, {**operation, "parameters": item.get("parameters", []) + parameters})
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "patch", "delete"} and api_cases(operation)[2]
    for parameters in [operation.get("parameters", [])]
]


def _url(path: str, operation: dict[str, Any]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            schema = parameter.get("schema", {})
            value = schema["enum"][0] if "enum" in schema else 1
            path = path.replace("{" + parameter["name"] + "}", str(value))
    return path


def _uploads(schema: dict[str, Any]) -> list[str]:
    """The file fields of a multipart body's schema."""
    properties = _resolve(schema).get("properties", {})
    return [name for name, field in properties.items() if field.get("format") == "binary"]


def _send(
    client: FlaskClient,
    method: str,
    url: str,
    token: str,
    kind: str,
    uploads: Sequence[str] = (),
    **kw: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if kind == "form":  # multipart: strings, and a real file where one is wanted
        kw["data"] = {
            k: (io.BytesIO(PNG), f"{k}.png") if k in uploads else str(v)
            for k, v in {**dict.fromkeys(uploads), **kw.pop("json", {})}.items()
        }
        kw["content_type"] = "multipart/form-data"
    return answer(client, url, method=method.upper(), headers=headers, **kw)


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS],
)
def test_the_api_refuses_hostile_values_at_the_field(
    world: World, method: str, path: str, operation: dict[str, Any]
) -> None:
    url = _url(path, operation)
    role = role_for(world.app, url, method.upper())
    token = world.tokens[role] if role else ""
    base, mime, found = api_cases(operation)
    schema: dict[str, Any] = next(
        iter(operation.get("requestBody", {}).get("content", {}).values()), {}
    )
    client = world.client(None)
    kind = "form" if mime.startswith("multipart") else "json"
    uploads = _uploads(schema.get("schema", {})) if kind == "form" else []
    problems: list[str] = []

    def send(case: ApiCase) -> Any:
        if case.location == "query":
            query = {case.path[0]: case.hostile.value}
            response = _send(client, method, url, token, kind, uploads, query_string=query)
        else:
            body = _with(base, case.path, case.hostile.value, schema.get("schema", {}))
            response = _send(client, method, url, token, kind, uploads, json=body)
        what = f"{'.'.join(map(str, case.path))}={case.hostile.label}: {response.status_code}"
        if response.status_code >= 500:
            problems.append(f"{what} (server error)")
        return response, what

    refused = [c for c in found if c.hostile.must_refuse]
    assert refused, "nothing is sent that must be refused"
    before = world.rows()
    for case in refused:
        response, what = send(case)
        payload = response.get_json(silent=True) or {}
        named = _names_field(payload.get("errors"), str(case.path[-1]))
        if response.status_code < 500 and (response.status_code not in {400, 422} or not named):
            problems.append(f"{what} not refused at the field: {payload}")
    assert world.rows() == before, "a refused request wrote rows"
    for case in found:
        if not case.hostile.must_refuse:
            send(case)
    assert not problems, "\n".join(problems)


# --- the pages: every form found by crawling them as each role --------------------------------

#: Pages visited per endpoint, set of query parameters and role (a case list links to every
#: case).
PAGES_PER_ENDPOINT = 3
#: Not pages: downloads (their links carry ``format=``) and files.
NOT_PAGES = frozenset(
    {"cases.document_file", "deliveries.certificate", "partners.import_template", "static"}
)
#: Form fields that are no input of a form: CSRF tokens, where to go afterwards.
NOT_FIELDS = frozenset({"csrf_token", "next"})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # text, integer, decimal, date, choice, other
    value: Any  # a list for a select of several
    attrs: dict[str, Any]


@dataclass
class FormSpec:
    role: Role | None
    page: str
    action: str
    method: str
    fields: list[FieldSpec]

    def data(self, **changes: Any) -> dict[str, Any]:
        """The form as the browser sends it, with ``changes``; a file field gets a PNG."""
        values = {f.name: f.value for f in self.fields if f.kind != "file"}
        files = {
            f.name: (io.BytesIO(PNG), "certificate.png") for f in self.fields if f.kind == "file"
        }
        return {**values, **files, **changes}


def _input_kind(attrs: dict[str, str]) -> str:
    kind = attrs.get("type", "text")
    if kind == "file":
        return "file"
    if kind == "number":
        return "decimal" if attrs.get("step") == "any" else "integer"
    if kind == "date":
        return "date"
    if kind in {"text", "email", "password", "search", "tel", "url", "hidden"}:
        return "text"
    return "other"


class PageParser(HTMLParser):
    """The links and the forms (fields with their current values) of a page; a link to the
    application's public address (``base``: a returnee's feedback link) counts as its path."""

    def __init__(self, base: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.base = base.rstrip("/")
        self.links: list[str] = []
        self.forms: list[tuple[dict[str, str], list[FieldSpec]]] = []
        self._field: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, pairs: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in pairs}
        href = attrs.get("href", "")
        if tag == "a" and self.base and href.startswith(self.base + "/"):
            href = href.removeprefix(self.base)
        if tag == "a" and href.startswith("/"):
            self.links.append(href)
        elif tag == "form":
            self.forms.append((attrs, []))
        elif tag in {"button", "input"} and attrs.get("formaction") and self.forms:
            if not self.forms[-1][0].get("action"):  # the first button's
                self.forms[-1][0]["action"] = attrs["formaction"]
        elif tag == "option" and self._field is not None and self._field["kind"] == "choice":
            self._field["options"].append(attrs.get("value", ""))
            if "selected" in attrs:
                self._field["selected"].append(attrs.get("value", ""))
        elif not self.forms or "name" not in attrs or "disabled" in attrs:
            return
        elif tag == "input" and attrs.get("type") not in {"button", "reset"}:
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self._add(attrs["name"], _input_kind(attrs), attrs.get("value", ""), attrs)
        elif tag in {"textarea", "select"}:
            kind = "text" if tag == "textarea" else "choice"
            self._field = {"name": attrs["name"], "kind": kind, "attrs": attrs, "text": ""}
            self._field |= {"options": [], "selected": []}

    def handle_data(self, text: str) -> None:
        if self._field is not None and self._field["kind"] == "text":
            self._field["text"] += text

    def handle_endtag(self, tag: str) -> None:
        if tag not in {"textarea", "select"} or self._field is None:
            return
        field, self._field = self._field, None
        attrs = {**field["attrs"], "options": field["options"], "tag": tag}
        if tag == "textarea":  # a browser drops the line break that opens the text
            value: str | list[str] = field["text"].removeprefix("\r\n").removeprefix("\n")
        elif "multiple" in attrs:
            value = field["selected"]
        else:
            value = (field["selected"] or field["options"] or [""])[0]
        self._add(field["name"], field["kind"], value, attrs)

    def _add(self, name: str, kind: str, value: Any, attrs: dict[str, Any]) -> None:
        if name not in NOT_FIELDS:
            self.forms[-1][1].append(FieldSpec(name, kind, value, attrs))


def _plausible(spec: FieldSpec) -> Any:
    """The value to send where the page left a field empty that the form (or the service
    behind it) will want: so that the rest of the form is valid and each request is refused
    for its hostile value alone."""
    free_text = spec.attrs.get("tag") == "textarea" or spec.attrs.get("type") == "password"
    if spec.value or not ("required" in spec.attrs or free_text):
        return spec.value
    if spec.kind == "choice":
        return next((o for o in spec.attrs["options"] if o), spec.value)
    if spec.attrs.get("type") == "email":
        return "someone@example.org"
    if spec.kind == "date":
        return dt.date.today().isoformat()  # noqa: DTZ011
    # a text long enough for a password, plain enough for a key
    return {"integer": "1", "decimal": "1"}.get(spec.kind, "kutaisi_imereti")


def crawl(world: World) -> None:
    """Visit the pages from the home page (the log-in page without a role), as each role;
    keep every distinct form and every link's query parameters."""
    adapter = world.app.url_map.bind("hub.test")
    for role in (None, *reversed(ROLE_ORDER)):  # a form is sent as the most specific role
        client = world.client(role)
        queue, seen, visited = ["/" if role else "/login"], dict[str, int](), set[str]()
        while queue:
            url = queue.pop(0)
            split = urlsplit(url)
            query = dict(parse_qsl(split.query))
            if url in visited or "format" in query:
                continue
            visited.add(url)
            try:
                endpoint, _args = adapter.match(split.path, "GET")
            except HTTPException:  # not a page (a POST-only address)
                continue
            # a page with other parameters may show other forms (the option picker replacing
            # a line): a few pages of each endpoint and set of parameters
            kind = f"{endpoint}?{'&'.join(sorted(query))}"
            if endpoint in NOT_PAGES or seen.get(kind, 0) >= PAGES_PER_ENDPOINT:
                continue
            seen[kind] = seen.get(kind, 0) + 1
            response = answer(client, url)
            assert response.status_code < 500, f"{url} as {role}: {response.status_code}"
            if response.mimetype != "text/html":
                continue
            parser = PageParser(world.app.config["PUBLIC_BASE_URL"])
            parser.feed(response.get_data(as_text=True))
            queue += [link for link in parser.links if link not in visited]
            for link in parser.links:
                parts = urlsplit(link)
                for name, _value in parse_qsl(parts.query):
                    world.links.setdefault((parts.path, name), set()).add(link)
            for attrs, fields in parser.forms:
                action = attrs.get("action") or url
                method = attrs.get("method", "get").lower()
                try:
                    target, _ = adapter.match(urlsplit(action).path, method.upper())
                except HTTPException:  # a form our app does not answer
                    target = action
                # one form per endpoint and set of fields (every case page has the same)
                key = (method, target, frozenset(f.name for f in fields))
                if any(f.kind != "other" for f in fields) and key not in world.forms:
                    filled = [FieldSpec(f.name, f.kind, _plausible(f), f.attrs) for f in fields]
                    world.forms[key] = FormSpec(role, url, action, method, filled)


@pytest.fixture(scope="module")
def crawled(world: World) -> World:
    if not world.forms:
        crawl(world)
    return world


def form_hostile_values(spec: FieldSpec) -> list[Hostile]:
    """What a page's field is sent; every one of them must be refused by a form."""
    if spec.kind == "text":
        length = int(spec.attrs.get("maxlength") or validation.MAX_TEXT) + 1
        return [Hostile(NUL, True, "NUL"), Hostile("x" * length, True, f"{length} characters")]
    if spec.kind == "integer":
        return [Hostile(str(PAST_INT32), True, "2^31"), Hostile(str(PAST_INT64), True, "2^63")]
    if spec.kind == "decimal":
        return [Hostile("1e23", True, "1e23"), Hostile("NaN", True, "NaN")]
    if spec.kind == "date":
        return [Hostile(day, True, day[:4]) for day in FAR_DATES]
    return []  # choices, check boxes, files, buttons


def _marked_invalid(page: str, name: str) -> bool:
    """Whether the page marks the field ``name`` as invalid (Bootstrap's ``is-invalid``)."""
    tags = re.findall(rf'<(?:input|textarea|select)[^>]*name="{re.escape(name)}"[^>]*>', page)
    return any("is-invalid" in tag for tag in tags)


@pytest.mark.crawl
def test_every_form_of_the_pages_refuses_hostile_values(crawled: World) -> None:
    """Each POST form of the pages, each field, each hostile value: no server error, and no
    row written by any of them (counted before and after each form's requests)."""
    problems = []
    posted = 0
    for spec in crawled.forms.values():
        if spec.method != "post":
            continue
        client = crawled.client(spec.role)
        before = crawled.rows()
        rows_seen = set()
        for field_spec in spec.fields:
            row_field = re.sub(r"-\d+-", "-n-", field_spec.name)  # one row of a list of rows
            if row_field in rows_seen:
                continue
            rows_seen.add(row_field)
            for hostile in form_hostile_values(field_spec):
                data = spec.data(**{field_spec.name: hostile.value})
                response = answer(client, spec.action, method="POST", data=data)
                posted += 1
                what = f"{spec.action} {field_spec.name}={hostile.label}"
                if response.status_code >= 500:
                    problems.append(f"{what}: 500")
                elif response.status_code in {301, 302, 303}:  # a small form: a flash says why
                    shown = answer(client, response.headers["Location"])
                    if "alert-danger" not in shown.get_data(as_text=True):
                        problems.append(f"{what}: answered without saying what is wrong")
                elif field_spec.attrs.get("type") == "hidden":  # not shown: said above the form
                    if "alert-danger" not in response.get_data(as_text=True):
                        problems.append(f"{what}: the page does not say what is wrong")
                elif not _marked_invalid(response.get_data(as_text=True), field_spec.name):
                    problems.append(f"{what}: the page shows no error at the field")
        after = crawled.rows()
        if after != before:
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            problems.append(f"{spec.action} (from {spec.page}) wrote rows: {changed}")
    assert not problems, "\n".join(problems)
    assert posted > 0


@pytest.mark.crawl
def test_every_query_parameter_of_the_pages_takes_hostile_values(crawled: World) -> None:
    """Each GET form's field and each parameter of a link, hostile: never a server error."""
    problems = []
    requests: list[tuple[Role | None, str, dict[str, str]]] = []
    for spec in crawled.forms.values():
        if spec.method == "get":
            for field_spec in spec.fields:
                for value in (NUL, HUGE_PAGE, FAR_DATES[0]):
                    requests.append((spec.role, spec.action, spec.data(**{field_spec.name: value})))
    for (path, name), urls in crawled.links.items():
        url = sorted(urls)[0]
        query = dict(parse_qsl(urlsplit(url).query))
        for value in (NUL, HUGE_PAGE, str(2**36), FAR_DATES[0]):
            requests.append((Role.ADMIN, path, {**query, name: value}))
    for role, path, query in requests:
        response = answer(crawled.client(role), f"{urlsplit(path).path}?{urlencode(query)}")
        if response.status_code >= 500:
            problems.append(f"{path} {query}: {response.status_code}")
    assert not problems, "\n".join(problems)


def _app_form_classes() -> set[type[WTForm]]:
    import importlib
    import pkgutil

    import partners
    import reintegration_hub

    for package in (reintegration_hub, partners):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found: set[type[WTForm]] = set()
    todo: list[type[WTForm]] = [WTForm]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(("reintegration_hub.", "partners.")):
            found.add(cls)
    return found


def _rule_fields(cls: type[WTForm]) -> set[str]:
    """The names of the fields that take input rules (text, numbers, dates)."""
    from reintegration_hub.core.forms import FIELD_KINDS

    kinds = tuple(kind for kind, _ in FIELD_KINDS)
    return {
        name
        for name in dir(cls)
        if getattr(getattr(cls, name), "_formfield", False)
        and issubclass(getattr(cls, name).field_class, kinds)
    }


@pytest.mark.crawl
def test_every_form_class_of_the_app_was_tried(crawled: World) -> None:
    """Every WTForms form class (its text, number and date fields) is among the forms the
    crawl found, so the tests above sent hostile values to all of them; and each derives from
    the base forms that attach the input rules."""
    from reintegration_hub.core.forms import Form, SubForm

    seen = [  # a GET form's fields, and its page's other parameters (a page number)
        frozenset(key[2]) | {n for (path, n) in crawled.links if path == urlsplit(f.action).path}
        for key, f in crawled.forms.items()
    ]
    missing, not_based = [], []
    for cls in _app_form_classes():
        if cls in {Form, SubForm}:
            continue
        if not issubclass(cls, Form | SubForm):
            not_based.append(cls.__qualname__)
        names = _rule_fields(cls)
        found = any(
            all(any(n == f or n.endswith("-" + f) for n in names_seen) for f in names)
            for names_seen in seen
        )
        if names and not found:
            missing.append(f"{cls.__module__}.{cls.__qualname__}: {sorted(names)}")
    # the returnee's public feedback form, reached through its link on the case page
    assert any(urlsplit(f.action).path.startswith("/f/") for f in crawled.forms.values())
    assert not not_based, f"derive from core.forms.Form or SubForm: {sorted(not_based)}"
    assert not missing, "no page showed these forms:\n" + "\n".join(sorted(missing))
