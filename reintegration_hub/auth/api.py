"""``/api/v1``: the current user, offices and personal API tokens."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_login import current_user

from reintegration_hub.auth import services
from reintegration_hub.auth.models import Office
from reintegration_hub.auth.schemas import (
    ApiTokenSchema,
    NewApiTokenSchema,
    OfficeQuerySchema,
    OfficeSchema,
    UserSchema,
)
from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import get_scoped, roles, scoped, signed_in
from reintegration_hub.core.roles import Role

bp = Blueprint("auth_api", __name__, url_prefix="", description="Accounts and offices")


@bp.get("/me")
@bp.response(200, UserSchema)
@signed_in
def me() -> Any:
    """The signed-in user."""
    return current_user


@bp.get("/me/tokens")
@bp.response(200, ApiTokenSchema(many=True))
@signed_in
def list_tokens() -> Any:
    """The caller's API tokens (never the token itself)."""
    return services.list_api_tokens(actor=current_user)


@bp.post("/me/tokens")
@bp.arguments(ApiTokenSchema)
@bp.response(201, NewApiTokenSchema)
@signed_in
@commits
def issue_token(data: dict[str, Any]) -> Any:
    """Issue a token; the response is the only time it is shown."""
    token, raw = services.issue_api_token(name=data["name"], actor=current_user)
    return {**{name: getattr(token, name) for name in ApiTokenSchema().fields}, "token": raw}


@bp.delete("/me/tokens/<int:token_id>")
@bp.response(204)
@signed_in
@commits
def revoke_token(token_id: int) -> None:
    """Revoke one of the caller's tokens."""
    services.revoke_api_token(token_id, actor=current_user)


@bp.get("/offices")
@bp.arguments(OfficeQuerySchema, location="query")
@bp.response(200, OfficeSchema(many=True))
@bp.paginate(SelectPage)
@signed_in
def list_offices(query: dict[str, Any]) -> Any:
    """Active offices, by kind and name."""
    stmt = scoped(sa.select(Office).where(Office.is_active), Office, current_user)
    if "kind" in query:
        stmt = stmt.where(Office.kind == query["kind"])
    if "country_code" in query:
        stmt = stmt.where(Office.country_code == query["country_code"].upper())
    return stmt.order_by(Office.kind, Office.name, Office.id)


@bp.get("/offices/<int:office_id>")
@bp.response(200, OfficeSchema)
@signed_in
def get_office(office_id: int) -> Any:
    return get_scoped(Office, office_id, current_user)


@bp.post("/offices")
@bp.arguments(OfficeSchema)
@bp.response(201, OfficeSchema)
@roles(Role.ADMIN)
@commits
def create_office(data: dict[str, Any]) -> Any:
    """Create an office (administrators)."""
    return services.create_office(**data, actor=current_user)


@bp.put("/offices/<int:office_id>")
@bp.arguments(OfficeSchema)
@bp.response(200, OfficeSchema)
@roles(Role.ADMIN)
@commits
def update_office(data: dict[str, Any], office_id: int) -> Any:
    """Replace an office's details (administrators)."""
    return services.update_office(office_id, **data, actor=current_user)
