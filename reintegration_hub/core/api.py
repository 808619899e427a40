"""The ``/api/v1`` parent: flask-smorest, bearer tokens, CSRF for cookie sessions, JSON errors.

Every area's ``api.py`` defines a ``bp`` (a :class:`Blueprint` of this module, with a relative
``url_prefix``) and takes its input through schemas derived from ``core.schemas.Schema``;
:func:`register_api` mounts them all under ``/api/v1`` and documents them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

import flask
import flask_smorest
import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, render_template, request
from flask_smorest.error_handler import ErrorSchema
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import unpack_tuple_response
from itsdangerous import BadData, URLSafeSerializer
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from reintegration_hub.core import paging, validation
from reintegration_hub.core.authz import public
from reintegration_hub.core.errors import BadQuery
from reintegration_hub.core.paging import MAX_PER_PAGE
from reintegration_hub.core.schemas import RuleValidator, Schema
from reintegration_hub.extensions import api, csrf, db

API_PREFIX = "/api/v1"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

View = TypeVar("View", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """The blueprint of every API area; ``paginate`` pages a ``select`` without counting it
    (:class:`SelectPage`)."""

    def arguments(self, schema: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """flask-smorest's, with a schema class instantiated once: webargs would make a new
        instance for every request (binding every field and its input rule again)."""
        instance = schema() if isinstance(schema, type) else schema
        decorate: Callable[[Any], Any] = super().arguments(instance, **kwargs)
        return decorate

    def paginate(
        self, pager: Any = None, *, page_size: int = 10, max_page_size: int = MAX_PER_PAGE
    ) -> Callable[[Any], Any]:
        """The endpoint returns a ``select``; the answer is one page of its rows, with the
        ``X-Pagination`` and ``Link`` headers (``pager``: :class:`SelectPage`, the only kind;
        kept so that endpoints read as flask-smorest's)."""
        parameters = page_parameters_schema(page_size, max_page_size)
        parser = parameters()  # one instance, not one per request

        def decorator(func: Any) -> Any:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                asked = self.PAGINATION_ARGUMENTS_PARSER.parse(parser, request, location="query")
                result, status, headers = unpack_tuple_response(
                    current_app.ensure_sync(func)(*args, **kwargs)
                )
                page = SelectPage(result, asked)
                return page.items, status, {**dict(headers or {}), **page.headers()}

            apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
            apidoc["pagination"] = {
                "parameters": {"in": "query", "schema": parameters},
                "response": {400: "BAD_REQUEST", 422: "UNPROCESSABLE_ENTITY"},
            }
            wrapper._apidoc = apidoc  # type: ignore[attr-defined]  # what flask-smorest documents
            return wrapper

        return decorator

    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        resp_doc.setdefault("headers", {}).update(
            {
                self.PAGINATION_HEADER_NAME: {
                    "description": "The page (JSON): where it is, the next, and the total "
                    "when it is known without counting (the last page) or asked for "
                    "(count=exact).",
                    "schema": PageMetadataSchema,
                },
                "Link": {
                    "description": 'The next page\'s address (rel="next"), when there is one.',
                    "schema": {"type": "string"},
                },
            }
        )

    def refuses(self, answers: Mapping[int, str]) -> Callable[[View], View]:
        """Document the refusals an endpoint answers with, status by status, each with the
        JSON error body every refusal has (``DomainError.as_json``)."""

        def document(view: View) -> View:
            for status, description in answers.items():
                view = self.alt_response(status, schema=ErrorSchema, description=description)(view)
            return view

        return document


MULTIPART = "multipart/form-data"


class MultipartParser(FlaskParser):
    """Adds ``form_and_files``: the form fields and the uploaded files of one request."""

    __location_map__ = dict(form_and_files="load_form_and_files", **FlaskParser.__location_map__)

    def load_form_and_files(self, req: flask.Request, schema: ma.Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class MultipartBlueprint(Blueprint):
    """A blueprint with endpoints that take a file upload: flask-smorest documents one request
    body per operation and reads the form and the files as two; the ``form_and_files``
    location reads both as one, documented as one ``multipart/form-data`` body."""

    ARGUMENTS_PARSER = MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": MULTIPART,
    }


def commits(view: View) -> View:
    """An endpoint that writes: what its service did is committed once it returns. A refusal
    raises before, and the request's end rolls its work back (style.md 6: the caller owns the
    transaction; this is the API's one commit)."""

    @functools.wraps(view)
    def committed(*args: Any, **kwargs: Any) -> Any:
        result = view(*args, **kwargs)
        db.session.commit()
        return result

    return committed  # type: ignore[return-value]


#: What the rows of a list past this cursor cannot be: it was not given by this list.
STRANGE_CURSOR = "This after= cursor was not given by this list; start again from the first page."
#: A cursor is a short signed text; anything much longer is not one.
MAX_CURSOR_LENGTH = 1_000


class PageMetadataSchema(Schema, PaginationMetadataSchema):
    next_after = ma.fields.String(
        metadata={"description": "The next page's cursor, for after= (lists in a stable order)."}
    )


@dataclass(frozen=True)
class PageParameters:
    page: int | None
    page_size: int
    after: str | None
    count: str | None


def page_parameters_schema(default_size: int, max_size: int) -> type[ma.Schema]:
    """The query parameters of a paginated endpoint (a class of its own for each: flask-smorest
    documents them from it)."""

    class PageParametersSchema(Schema):
        class Meta:
            unknown = ma.EXCLUDE

        page = ma.fields.Integer(
            load_default=None,
            validate=RuleValidator(validation.PAGE),
            metadata={"description": "Page number (default 1); not with after."},
        )
        page_size = ma.fields.Integer(
            load_default=default_size, validate=ma.validate.Range(min=1, max=max_size)
        )
        after = ma.fields.String(
            load_default=None,
            validate=RuleValidator(validation.TextRule(MAX_CURSOR_LENGTH)),
            metadata={
                "description": "The next_after of a page (X-Pagination): the page that follows "
                "it, found by position in the list's order rather than by counting rows."
            },
        )
        count = ma.fields.String(
            load_default=None,
            validate=ma.validate.OneOf(["exact"]),
            metadata={"description": "exact: count every row for the total (slower)."},
        )

        @ma.post_load
        def parameters(self, data: dict[str, Any], **_kwargs: Any) -> PageParameters:
            return PageParameters(**data)

    return PageParametersSchema


class SelectPage:
    """One page of a SQLAlchemy ``select`` for the API, in two statements or one: the rows
    (one more than the page holds, to know whether another follows) and, only when asked
    (``count=exact``), the count. Lists over hundreds of thousands of rows paid for a full
    count on every page (25 ms of a plan list's 55). The total is still given when the page
    tells it: the last page, reached by number.

    A list whose order is stable (``paging.sort_keys``: no NULLs, a primary key last) also
    pages by keyset: ``next_after`` (and the ``Link`` header) carry the last row's sort key,
    signed, and ``after=`` continues from it with an indexed comparison instead of an offset,
    so no row is skipped or repeated when rows are added meanwhile."""

    def __init__(self, stmt: sa.Select[Any], asked: PageParameters) -> None:
        self.asked = asked
        keys = paging.sort_keys(stmt)
        after: list[Any] | None = None
        if asked.after is not None:
            if asked.page is not None:
                both = "Give page or after, not both."
                raise BadQuery(both, field_errors={"after": [both]})
            if keys is None:
                raise BadQuery(STRANGE_CURSOR, field_errors={"after": [STRANGE_CURSOR]})
            after = read_cursor(asked.after, keys)
        self.number = asked.page or 1
        sliced = stmt
        if after is not None:
            assert keys is not None
            sliced = stmt.where(paging.rows_after(keys, after))
        offset = 0 if after is not None else (self.number - 1) * asked.page_size
        if keys is not None:
            sliced = sliced.add_columns(*(key.column for key in keys))
        rows = db.session.execute(sliced.offset(offset).limit(asked.page_size + 1)).all()
        self.has_next = len(rows) > asked.page_size
        rows = rows[: asked.page_size]
        self.items = [row[0] for row in rows]
        self.next_after = (
            write_cursor(paging.key_values(rows[-1][1:])) if keys and self.has_next else None
        )
        self.total: int | None = None
        if asked.count == "exact":
            self.total = paging.count_rows(stmt)
        elif after is None and not self.has_next and (rows or self.number == 1):
            self.total = offset + len(rows)

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if self.asked.after is None:
            meta["first_page"] = 1
            meta["page"] = self.number
            if self.number > 1:
                meta["previous_page"] = self.number - 1
            if self.has_next:
                meta["next_page"] = self.number + 1
        if self.total is not None:
            meta["total"] = self.total
            meta["total_pages"] = -(-self.total // self.asked.page_size)
            if self.total:
                meta["last_page"] = meta["total_pages"]
        if self.next_after is not None:
            meta["next_after"] = self.next_after
        return dict(PageMetadataSchema().dump(meta))

    def headers(self) -> dict[str, str]:
        headers = {"X-Pagination": json.dumps(self.metadata())}
        if self.has_next:
            args = request.args.to_dict(flat=False)
            args.pop("page", None)
            if self.next_after is not None:
                args["after"] = [self.next_after]
            else:
                args["page"] = [str(self.number + 1)]
            headers["Link"] = f'<{request.base_url}?{urlencode(args, doseq=True)}>; rel="next"'
        return headers


def _cursors() -> URLSafeSerializer:
    return URLSafeSerializer(cast(str | bytes, current_app.secret_key), salt="api-page-cursor")


def write_cursor(values: list[Any]) -> str:
    """The cursor of the row with these sort key values in this endpoint's list."""
    return str(_cursors().dumps([request.endpoint, values]))


def read_cursor(cursor: str, keys: tuple[paging.SortKey, ...]) -> list[Any]:
    """The sort key values a cursor of this endpoint's list carries; ``BadQuery`` (400) for
    anything else: tampered, cut short, from another list or another order."""
    refused = BadQuery(STRANGE_CURSOR, field_errors={"after": [STRANGE_CURSOR]})
    try:
        endpoint, values = _cursors().loads(cursor)
        if endpoint != request.endpoint or not isinstance(values, list):
            raise refused
        return paging.typed_values(keys, values)
    except (BadData, ValueError, TypeError):
        raise refused from None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def protect_cookie_sessions() -> None:
    """A browser session calling the API must send the CSRF token; a bearer token need not."""
    if (
        current_app.config["WTF_CSRF_ENABLED"]
        and request.path.startswith(API_PREFIX + "/")
        and request.method in UNSAFE_METHODS
        and bearer_token() is None
    ):
        csrf.protect()


def api_docs() -> str:
    return render_template("api/docs.html")


def register_api(app: Flask, *blueprints: Blueprint) -> None:
    """The API's blueprints, described in its OpenAPI document; or, without ``API_DOCUMENT``,
    only their routes (whose addresses e-mails may link to)."""
    for blueprint in blueprints:
        csrf.exempt(blueprint)  # protect_cookie_sessions decides instead
        prefix = API_PREFIX + (blueprint.url_prefix or "")
        if app.config["API_DOCUMENT"]:
            api.register_blueprint(blueprint, url_prefix=prefix)
        else:
            app.register_blueprint(blueprint, url_prefix=prefix)
    if not app.config["API_DOCUMENT"]:
        return
    # the OpenAPI document describes no data; the docs page renders it with vendored Swagger UI
    openapi_json = app.view_functions["api-docs.openapi_json"]  # a bound method of the Api

    def openapi_document() -> Any:
        return openapi_json()

    app.view_functions["api-docs.openapi_json"] = public(openapi_document)
    app.add_url_rule(f"{API_PREFIX}/docs", "api_docs", public(api_docs))


def init_api(app: Flask, loader: Callable[[str], Any]) -> None:
    """Bind flask-smorest and let ``loader(raw_token)`` turn a bearer token into a user."""
    from reintegration_hub.extensions import login

    app.before_request(protect_cookie_sessions)
    if app.config["API_DOCUMENT"]:
        api.init_app(app)  # its "Error" schema is the shape DomainError.as_json() answers with

    @login.request_loader
    def load_user_from_token(_request: Any) -> Any:
        token = bearer_token()
        return loader(token) if token else None
