"""The ``/api/v1`` parent: flask-smorest, bearer tokens, CSRF for cookie sessions, JSON errors.

Every area's ``api.py`` defines a ``bp`` (a :class:`Blueprint` of this module, with a relative
``url_prefix``) and takes its input through schemas derived from ``core.schemas.Schema``;
:func:`register_api` mounts them all under ``/api/v1`` and documents them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import flask
import flask_smorest
import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, render_template, request
from flask_smorest import Page
from flask_smorest.error_handler import ErrorSchema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from reintegration_hub.core import validation
from reintegration_hub.core.authz import public
from reintegration_hub.core.schemas import RuleValidator
from reintegration_hub.extensions import api, csrf, db

API_PREFIX = "/api/v1"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

View = TypeVar("View", bound=Callable[..., Any])


class Blueprint(flask_smorest.Blueprint):
    """The blueprint of every API area: ``paginate`` also bounds the page number
    (``validation.PAGE``), so that an offset always fits the database."""

    def paginate(self, pager: Any = None, **kwargs: Any) -> Callable[[Any], Any]:
        decorate = super().paginate(pager, **kwargs)

        def bounded(func: Any) -> Any:
            wrapper = decorate(func)
            # the page parameters' schema class, made for this endpoint alone: parsed from
            # and documented with the bound
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            schema._declared_fields["page"].validators.append(RuleValidator(validation.PAGE))
            return wrapper

        return bounded

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


class SelectPage(Page):
    """Pages over a SQLAlchemy ``select``: the count and the slice run in the database."""

    @property
    def item_count(self) -> int:
        rows = self.collection.order_by(None).subquery()
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(rows)) or 0)

    @property
    def items(self) -> list[Any]:
        params = self.page_params
        stmt = self.collection.offset(params.first_item).limit(params.page_size)
        return list(db.session.scalars(stmt))


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
    for blueprint in blueprints:
        csrf.exempt(blueprint)  # protect_cookie_sessions decides instead
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
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
    api.init_app(app)  # its "Error" schema is the shape DomainError.as_json() answers with

    @login.request_loader
    def load_user_from_token(_request: Any) -> Any:
        token = bearer_token()
        return loader(token) if token else None
