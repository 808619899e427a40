"""Reintegration Hub: plans, partner marketplace and follow-up for return and reintegration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then ``HUB_*`` environment variables, then ``config``."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    from reintegration_hub.config import load_config

    load_config(app, config)
    observe(app)
    trust_proxies(app)
    import_models()
    init_extensions(app)
    register_blueprints(app)
    register_cli(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies, the client's address (sign-in limits, the
    sessions list) and scheme are what they forward; nothing forwarded is believed without."""
    if hops := app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def observe(app: Flask) -> None:
    """JSON logs naming each request, and Prometheus metrics (core.observability)."""
    from reintegration_hub.core.observability import init_observability
    from reintegration_hub.followups.worklist import overdue_count
    from reintegration_hub.operations.services import last_successes

    init_observability(app, overdue_milestones=overdue_count, flow_successes=last_successes)


def import_models() -> None:
    """Every model module, so that the metadata (and Alembic) sees the whole schema."""
    import partners.models  # noqa: F401
    import reintegration_hub.auth.models
    import reintegration_hub.cases.models
    import reintegration_hub.core.audit
    import reintegration_hub.core.inbox
    import reintegration_hub.core.money
    import reintegration_hub.core.outbox
    import reintegration_hub.deliveries.models
    import reintegration_hub.feedback.models
    import reintegration_hub.followups.models
    import reintegration_hub.monitoring.models
    import reintegration_hub.operations.models
    import reintegration_hub.plans.models
    import reintegration_hub.programmes.models  # noqa: F401


def init_extensions(app: Flask) -> None:
    from reintegration_hub.auth.services import load_session_user, user_for_token
    from reintegration_hub.cases.sms import sms_permitted
    from reintegration_hub.core.api import init_api
    from reintegration_hub.core.outbox import init_outbox
    from reintegration_hub.core.sentry import init_sentry
    from reintegration_hub.core.web import init_web, register_error_handlers
    from reintegration_hub.extensions import bootstrap, csrf, db, limiter, login, migrate
    from reintegration_hub.notifications.services import accounts_of, languages_of

    init_sentry(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    login.init_app(app)
    login.user_loader(load_session_user)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    init_web(app)
    init_api(app, loader=user_for_token)
    init_outbox(app, languages=languages_of, accounts=accounts_of, sms_permitted=sms_permitted)
    register_error_handlers(app)


def register_blueprints(app: Flask) -> None:
    from partners import api as partners_api
    from partners import views as partners_views
    from reintegration_hub.audit import views as audit_views
    from reintegration_hub.auth import api as auth_api
    from reintegration_hub.auth import views as auth_views
    from reintegration_hub.cases import api as cases_api
    from reintegration_hub.cases import views as cases_views
    from reintegration_hub.core.api import register_api
    from reintegration_hub.deliveries import api as deliveries_api
    from reintegration_hub.deliveries import views as deliveries_views
    from reintegration_hub.feedback import api as feedback_api
    from reintegration_hub.feedback import views as feedback_views
    from reintegration_hub.followups import api as followups_api
    from reintegration_hub.followups import views as followups_views
    from reintegration_hub.home import views as home_views
    from reintegration_hub.monitoring import api as monitoring_api
    from reintegration_hub.monitoring import report_views as monitoring_report_views
    from reintegration_hub.monitoring import views as monitoring_views
    from reintegration_hub.navigation import init_navigation
    from reintegration_hub.notifications import api as notifications_api
    from reintegration_hub.notifications import views as notifications_views
    from reintegration_hub.operations import views as operations_views
    from reintegration_hub.plans import api as plans_api
    from reintegration_hub.plans import views as plans_views
    from reintegration_hub.programmes import api as programmes_api
    from reintegration_hub.programmes import views as programmes_views

    app.register_blueprint(home_views.bp)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(programmes_views.bp)
    app.register_blueprint(cases_views.bp)
    app.register_blueprint(partners_views.bp)
    app.register_blueprint(plans_views.bp)
    app.register_blueprint(deliveries_views.bp)
    app.register_blueprint(feedback_views.bp)
    app.register_blueprint(followups_views.bp)
    app.register_blueprint(monitoring_views.bp)
    app.register_blueprint(notifications_views.bp)
    app.register_blueprint(monitoring_report_views.bp)
    app.register_blueprint(operations_views.bp)
    register_api(
        app,
        auth_api.bp,
        programmes_api.bp,
        partners_api.bp,
        cases_api.bp,
        cases_api.documents_bp,
        plans_api.bp,
        deliveries_api.bp,
        feedback_api.bp,
        followups_api.bp,
        monitoring_api.bp,
        notifications_api.bp,
    )
    init_navigation(app)


def register_cli(app: Flask) -> None:
    from reintegration_hub.cases.cli import documents_cli
    from reintegration_hub.demo.cli import demo_cli
    from reintegration_hub.followups.cli import followups_cli
    from reintegration_hub.monitoring.cli import monitoring_cli
    from reintegration_hub.operations.cli import backup_cli
    from reintegration_hub.programmes.cli import programmes_cli, setup_command

    app.cli.add_command(setup_command)
    app.cli.add_command(backup_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(documents_cli)
    app.cli.add_command(followups_cli)
    app.cli.add_command(monitoring_cli)
    app.cli.add_command(programmes_cli)
