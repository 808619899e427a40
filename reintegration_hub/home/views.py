from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
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
    """Alive: the process answers (a load balancer's liveness check)."""
    return {"status": "ok"}


@bp.get("/readyz")
@public
def ready() -> Any:
    """Ready to serve: the database answers, and the Prefect API when one is configured
    (``HUB_PREFECT_API_URL``); 503 naming what does not."""
    checks = services.readiness(current_app.config.get("PREFECT_API_URL"))
    ready = all(state == "ok" for state in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
