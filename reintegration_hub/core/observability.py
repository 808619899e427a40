"""Observability: one log line per record (JSON in production) naming its request or flow
run, and Prometheus metrics of every worker process.

Logs
    ``configure_logging`` puts one handler on the root logger: JSON objects (python-json-logger)
    when ``LOG_FORMAT`` is ``json`` (the default in production), plain text otherwise. Each
    record carries ``timestamp``, ``level``, ``logger``, ``message`` and ``request_id``, plus
    whatever the current context bound (``log_context``): a request its id, a flow run its
    ``flow_run_id``, ``flow`` and ``deployment`` (workflows.records). One ``request`` line per
    request gives method, path, endpoint, status, duration_ms and the user's id, never a name,
    an e-mail address or a query string; a path whose rule has a free-text part (a secret
    token) is logged as the rule.

Request id
    Taken from the ``REQUEST_ID_HEADER`` request header when it is well-formed (1-128 letters,
    digits and ``._:=-``), made otherwise (32 hex digits); returned as ``X-Request-ID``. A
    request handing work to a deployment tags the flow run with ``request_id_tags()``, and the
    run's log lines carry the same id.

Metrics (``GET /metrics``)
    The request-latency histogram by Flask endpoint (prometheus-flask-exporter), and, read at
    scrape time by ``HubCollector`` (one indexed query each): the outbox's queue, overdue
    milestones, the last successful run of each flow. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR``
    makes every worker's observations add up, whichever worker answers the scrape. Served to a
    bearer ``METRICS_TOKEN`` or to the ``METRICS_ALLOW_FROM`` addresses only; with neither set,
    not at all. No label holds personal data: endpoints, statuses, flow names.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import ipaddress
import logging
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TextIO

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_flask_exporter import PrometheusMetrics
from pythonjsonlogger.json import JsonFormatter

from reintegration_hub.core.authz import public
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage, OutboxStatus
from reintegration_hub.core.sentry import FREE_TEXT_VARIABLE, scrub_text
from reintegration_hub.extensions import db

RESPONSE_HEADER = "X-Request-ID"
#: what an incoming request id may be: an id, never text to inject into a log line
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:=-]{1,128}")
#: a flow run's tag naming the request that started it
REQUEST_TAG = "request-id:"
#: request latency buckets (seconds): fine around the pages' 300 ms target
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
_EXTENSION = "reintegration_hub.observability"
_STARTED = "hub.started"
_REQUEST_ID = "hub.request_id"

log = logging.getLogger(__name__)
access_log = logging.getLogger("reintegration_hub.access")

_context: ContextVar[Mapping[str, str] | None] = ContextVar("hub_log_context", default=None)


# --- the context log records carry ---------------------------------------------------------------


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Log records written inside the block carry ``fields`` (those given as None are left
    out), over the fields bound outside it."""
    bound = {key: value for key, value in fields.items() if value is not None}
    token = _context.set({**(_context.get() or {}), **bound})
    try:
        yield
    finally:
        _context.reset(token)


def current_request_id() -> str | None:
    return (_context.get() or {}).get("request_id")


def request_id_tags() -> list[str]:
    """Tags for a flow run started on behalf of the current request (``run_deployment(...,
    tags=request_id_tags())``), so that the run's log lines carry the request's id."""
    request_id = current_request_id()
    return [REQUEST_TAG + request_id] if request_id else []


def request_id_from_tags(tags: Iterable[str]) -> str | None:
    """The request id a flow run was tagged with, if any and well-formed."""
    for tag in tags:
        if tag.startswith(REQUEST_TAG):
            return valid_request_id(tag.removeprefix(REQUEST_TAG))
    return None


def valid_request_id(value: str | None) -> str | None:
    return value if value and VALID_REQUEST_ID.fullmatch(value) else None


class ContextFilter(logging.Filter):
    """Adds the bound context (request id, flow run...) to every record a handler emits;
    ``request_id`` is always there, None outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "request_id"):
            record.request_id = None
        return True


# --- formats -------------------------------------------------------------------------------------


class HubJsonFormatter(JsonFormatter):
    """One JSON object a line: timestamp (UTC, ISO 8601), level, logger, message, then the
    record's context and extra fields. E-mail addresses in messages are masked, and a
    traceback ends with the exception's type, not its message (which can quote input)."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if isinstance(log_data.get("message"), str):
            log_data["message"] = scrub_text(log_data["message"])
        first = {key: log_data.pop(key, None) for key in ("timestamp", "level", "logger")}
        return {**first, **log_data}

    def formatException(self, ei: Any) -> str:
        return exception_without_message(ei)


def exception_without_message(
    ei: tuple[type[BaseException], BaseException, TracebackType | None] | Any,
) -> str:
    """The traceback of ``ei`` ending with the exception's type only (and the driver error's
    behind a database error), as Sentry reports it (core.sentry)."""
    kind, error, tb = ei
    summary = f"{kind.__module__}.{kind.__qualname__}"
    orig = getattr(error, "orig", None)
    if orig is not None:
        summary += f" ({type(orig).__module__}.{type(orig).__qualname__})"
    return "Traceback (most recent call last):\n" + "".join(traceback.format_tb(tb)) + summary


class HubTextFormatter(logging.Formatter):
    """Plain lines for a developer's terminal, the context in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = [
            f"{key}={value}"
            for key in ("request_id", "flow_run_id", "deployment")
            if (value := getattr(record, key, None))
        ]
        record.context = f" [{' '.join(fields)}]" if fields else ""
        return super().format(record)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record comes (as logging's last resort
    does), so that a replaced stderr (a test's capture) gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def log_format(config: Mapping[str, Any]) -> str:
    chosen = config.get("LOG_FORMAT") or ("json" if config["ENV"] == "production" else "text")
    if chosen not in {"json", "text"}:
        from reintegration_hub.config import ConfigError

        raise ConfigError(f'HUB_LOG_FORMAT must be "json" or "text", not {chosen!r}')
    return str(chosen)


def configure_logging(app: Flask) -> None:
    """The root logger writes through one handler of ours, in the app's format and level.

    Idempotent (the last app built sets the format: it is the process's). Another console
    handler on the root (Prefect's, in a flow process) is removed so that each record is one
    line; Flask's own handler of the app's logger too.
    """
    from flask.logging import default_handler

    level = str(app.config["LOG_LEVEL"]).upper()
    if not isinstance(logging.getLevelNamesMapping().get(level), int):
        from reintegration_hub.config import ConfigError

        raise ConfigError(f"HUB_LOG_LEVEL must be a level such as INFO, not {level!r}")
    formatter = HubJsonFormatter() if log_format(app.config) == "json" else HubTextFormatter()
    root = logging.getLogger()
    consoles = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler) or (
            isinstance(handler, logging.StreamHandler) and handler.stream in consoles
        ):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger(app.name).removeHandler(default_handler)


# --- requests ------------------------------------------------------------------------------------


class RequestIdMiddleware:
    """Names each request: its id bound for every log record written while the app handles
    it (the service calls included), and its start time for the access line."""

    def __init__(self, wsgi_app: Callable[..., Any], header: str) -> None:
        self.wsgi_app = wsgi_app
        self.environ_key = "HTTP_" + header.upper().replace("-", "_") if header else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ[_STARTED] = time.perf_counter()
        incoming = environ.get(self.environ_key) if self.environ_key else None
        request_id = valid_request_id(incoming) or uuid.uuid4().hex
        environ[_REQUEST_ID] = request_id
        token = _context.set({"request_id": request_id})
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            _context.reset(token)


@functools.lru_cache(maxsize=512)
def _loggable_rule(rule: str) -> bool:
    return FREE_TEXT_VARIABLE.search(rule) is None


def finish_request(response: Response) -> Response:
    """The response names its request (``X-Request-ID``); one access line is logged."""
    environ = request.environ
    request_id = environ.get(_REQUEST_ID)
    if request_id:
        response.headers[RESPONSE_HEADER] = request_id
    if access_log.isEnabledFor(logging.INFO):
        rule = request.url_rule
        path = None
        if rule is not None:
            path = request.path if _loggable_rule(rule.rule) else rule.rule
        started = environ.get(_STARTED)
        duration = round((time.perf_counter() - started) * 1000, 2) if started else None
        user_id = _signed_in_id(g.get("_login_user"))
        access_log.info(
            "%s %s %s",
            request.method,
            path or "-",
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "endpoint": request.endpoint,
                "status": response.status_code,
                "duration_ms": duration,
                "user_id": user_id,
            },
        )
    return response


def _signed_in_id(user: Any) -> int | None:
    """The id of the user the request loaded, read from the session's identity map: never a
    statement (after a commit the user is expired, and reading ``user.id`` would reload it);
    None when nobody is signed in (logging loads nobody)."""
    state = sa.inspect(user, raiseerr=False) if user is not None else None
    identity = state.identity if state is not None else None
    return int(identity[0]) if identity else None


# --- metrics -------------------------------------------------------------------------------------


#: the application's gauges: name, help, label names
GAUGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "hub_outbox_messages",
        "Outbox messages waiting to be sent (queued) or given up on for good (failed)",
        ("status",),
    ),
    (
        "hub_outbox_oldest_queued_age_seconds",
        "Age of the oldest queued outbox message (0 when none is queued)",
        (),
    ),
    (
        "hub_outbox_oldest_due_wait_seconds",
        "How long the queued message longest due has waited past its send time (0 when none)",
        (),
    ),
    ("hub_milestones_overdue", "Milestones in the overdue state", ()),
    (
        "hub_flow_last_success_timestamp_seconds",
        "End of the last successful run of each flow (Unix time), from the flow_runs records",
        ("flow",),
    ),
    (
        "hub_metrics_collector_up",
        "1 when the application's gauges could be read from the database, else 0",
        (),
    ),
)


class HubCollector:
    """The application's gauges, each read by one indexed query when Prometheus scrapes
    (never per request); needs an app context. The areas above ``core`` give the readers of
    their own tables."""

    def __init__(
        self,
        overdue_milestones: Callable[[], int],
        flow_successes: Callable[[], Mapping[str, dt.datetime]],
    ) -> None:
        self.overdue_milestones = overdue_milestones
        self.flow_successes = flow_successes

    def describe(self) -> list[Metric]:
        return list(_gauges().values())  # names only: no query when registered

    def collect(self) -> Iterator[Metric]:
        gauges = _gauges()
        up = gauges.pop("hub_metrics_collector_up")
        now = now_utc()
        try:
            queue = outbox_queue()
            overdue = self.overdue_milestones()
            successes = self.flow_successes()
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: the database does not answer: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()  # reads only: end their transaction
        queued, oldest, due = queue.get(OutboxStatus.QUEUED, (0, None, None))
        gauges["hub_outbox_messages"].add_metric(["queued"], queued)
        gauges["hub_outbox_messages"].add_metric(
            ["failed"], queue.get(OutboxStatus.FAILED, (0, None, None))[0]
        )
        gauges["hub_outbox_oldest_queued_age_seconds"].add_metric([], _seconds(now, oldest))
        gauges["hub_outbox_oldest_due_wait_seconds"].add_metric([], _seconds(now, due))
        gauges["hub_milestones_overdue"].add_metric([], overdue)
        for flow_name, finished_at in sorted(successes.items()):
            gauges["hub_flow_last_success_timestamp_seconds"].add_metric(
                [flow_name], _aware(finished_at).timestamp()
            )
        up.add_metric([], 1)
        yield from gauges.values()
        yield up


def _gauges() -> dict[str, GaugeMetricFamily]:
    return {
        name: GaugeMetricFamily(name, text, labels=list(labels)) for name, text, labels in GAUGES
    }


def outbox_queue() -> dict[str, tuple[int, dt.datetime | None, dt.datetime | None]]:
    """Queued and failed outbox messages: by status, their number, the oldest one's creation
    and the earliest send time. One statement on the (status, next attempt) index."""
    rows = db.session.execute(
        sa.select(
            OutboxMessage.status,
            sa.func.count(),
            sa.func.min(OutboxMessage.created_at),
            sa.func.min(OutboxMessage.next_attempt_at),
        )
        .where(OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.FAILED]))
        .group_by(OutboxMessage.status)
    ).all()
    return {str(status): (count, oldest, due) for status, count, oldest, due in rows}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _seconds(now: dt.datetime, since: dt.datetime | None) -> float:
    return max((now - _aware(since)).total_seconds(), 0.0) if since is not None else 0.0


def _allowed_networks(value: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    items = value if isinstance(value, list | tuple) else str(value or "").split(",")
    try:
        return [ipaddress.ip_network(str(item).strip()) for item in items if str(item).strip()]
    except ValueError:
        from reintegration_hub.config import ConfigError

        raise ConfigError(
            "HUB_METRICS_ALLOW_FROM must be addresses or networks separated by commas, "
            f"e.g. 127.0.0.1,10.0.0.0/8, not {value!r}"
        ) from None


def metrics_refusal() -> Response | None:
    """None when this request may read the metrics, else the answer refusing it: 404 when
    metrics are not served, 401 (bearer) or 403 otherwise."""
    state = current_app.extensions[_EXTENSION]
    token, networks = state["token"], state["networks"]
    if not token and not networks:
        return Response("Not Found\n", 404, mimetype="text/plain")
    if token:
        sent = request.headers.get("Authorization", "")
        scheme, _, credential = sent.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), token.encode()
        ):
            return None
    if networks:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            address = None
        if address is not None and any(address in network for network in networks):
            return None
    if token:
        return Response(
            "A bearer token is needed.\n",
            401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response("Forbidden\n", 403, mimetype="text/plain")


#: the exporter's mark of a view whose requests it does not count (typed for mypy)
do_not_track: Callable[[Callable[..., Response]], Callable[..., Response]] = (
    PrometheusMetrics.do_not_track()
)


@do_not_track
@public  # refused here unless a token or an allowed address (see metrics_refusal)
def metrics() -> Response:
    refusal = metrics_refusal()
    if refusal is not None:
        return refusal
    state = current_app.extensions[_EXTENSION]
    if state["multiprocess"]:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(state["collector"])
    else:
        registry = state["registry"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask, collector: HubCollector) -> None:
    """The request histogram (by endpoint and status) on a registry of this app's own, and
    ``GET /metrics``. Under ``PROMETHEUS_MULTIPROC_DIR`` a scrape reads every process's files."""
    token = app.config.get("METRICS_TOKEN")
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    multiprocess = bool(directory)
    if directory:  # a command run with the web processes' settings (flask db upgrade) too
        os.makedirs(directory, exist_ok=True)
    disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series
    registry = CollectorRegistry()
    if not multiprocess:
        registry.register(collector)
    PrometheusMetrics(app, path=None, registry=registry, group_by="endpoint", buckets=BUCKETS)
    app.extensions[_EXTENSION] = {
        "token": str(token) if token else None,
        "networks": _allowed_networks(app.config.get("METRICS_ALLOW_FROM")),
        "multiprocess": multiprocess,
        "registry": registry,
        "collector": collector,
    }
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


def init_observability(
    app: Flask,
    *,
    overdue_milestones: Callable[[], int],
    flow_successes: Callable[[], Mapping[str, dt.datetime]],
) -> None:
    """Logs, the request id and metrics; first in ``create_app``, so that the logs are set
    before any extension writes one and the access line comes after every other hook.
    ``overdue_milestones`` and ``flow_successes`` read the gauges of the areas above core."""
    configure_logging(app)
    app.wsgi_app = RequestIdMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, str(app.config.get("REQUEST_ID_HEADER") or "")
    )
    app.after_request(finish_request)
    init_metrics(app, HubCollector(overdue_milestones, flow_successes))
