from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from reintegration_hub.core.authz import public, signed_in
from reintegration_hub.core.db import now_utc
from reintegration_hub.home import services, todo

bp = Blueprint("home", __name__)


@bp.get("/")
@signed_in
def index() -> Any:
    """The signed-in user's home page: what their role does here, where to start, and what
    waits for them (``todo``)."""
    return render_template(
        f"home/{current_user.role.value}.html",
        overview=services.overview(actor=current_user),
        work=todo.my_work(actor=current_user),
        today=now_utc().date(),
    )


@bp.get("/healthz")
@public
def health() -> Any:
    return {"status": "ok"}
