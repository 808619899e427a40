"""Production serving (``make serve``): gunicorn's settings, and the check run before start.

    gunicorn --config python:reintegration_hub.serving wsgi:app
    python -m reintegration_hub.serving      exit 1 naming every missing setting, else 0

Gunicorn reads the settings below (module globals named as its settings); each follows an
environment variable, so an operator sizes the service without editing files:

``WEB_BIND``          address to listen on (``127.0.0.1:8000``): the reverse proxy's upstream
``WEB_CONCURRENCY``   worker processes (``2 x cores + 1``)
``WEB_THREADS``       threads per worker (4)
``WEB_WORKER_CLASS``  ``gthread``; ``sync`` for one request per process (bench.load compares)
``WEB_TIMEOUT``       seconds a request may take before its worker is replaced (60: the
                      largest exports stream for about 10 s at 100,000 cases)
``PROMETHEUS_MULTIPROC_DIR``  where the workers add up ``/metrics`` (Procfile.production:
                      instance/metrics), emptied at each start

Workers are ``gthread``: a streamed export holds one thread, not a whole worker; several
processes use every core despite the GIL. bench.load measured sync and gthread workers within
the noise of each other on the production topology (bench/README.md).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

#: the Prefect server's database: PostgreSQL, never its default SQLite file, which locks
#: under back-to-back runs (``database is locked``)
PREFECT_DATABASE_SETTING = "PREFECT_SERVER_DATABASE_CONNECTION_URL"

bind = [os.environ.get("WEB_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
worker_class = os.environ.get("WEB_WORKER_CLASS") or "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
timeout = int(os.environ.get("WEB_TIMEOUT") or 60)
graceful_timeout = 20  # on SIGTERM, requests in progress get this long to finish
keepalive = 5  # behind a proxy that keeps connections open to its upstream
# a worker is replaced after this many requests (give or take the jitter, so that they are
# not all replaced at once): memory a library holds on to never accumulates for long
max_requests = 5000
max_requests_jitter = 500
# the heartbeat files in memory: a slow disk never makes the master kill a healthy worker
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# what a reverse proxy forwards is believed by the application alone (HUB_TRUSTED_PROXIES,
# werkzeug's ProxyFix), never by gunicorn as well
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
proc_name = "reintegration-hub"
control_socket_disable = True  # no gunicornc socket left in the user's home
errorlog = "-"
# the application writes its own access line (core.observability: JSON in production, with
# the request id); "-" adds gunicorn's
accesslog = os.environ.get("WEB_ACCESS_LOG") or None


def on_starting(server: Any) -> None:
    """Refuse to start, naming what is missing, before any worker is forked (the web
    processes alone: on a machine of their own they need no Prefect server settings); then
    empty the metrics' directory of the workers of an earlier start."""
    from reintegration_hub.config import refusal

    if problems := production_problems(prefect_server=False):
        raise SystemExit(refusal(problems))
    if metrics := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shutil.rmtree(metrics, ignore_errors=True)
        os.makedirs(metrics, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker that ended (replaced after ``max_requests``, or stopped) leaves the request
    counts it added to ``/metrics``, but its gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def production_problems(*, prefect_server: bool = True) -> list[str]:
    """What the environment lacks for production: the application's own settings
    (``config.production_problems``, read as ``create_app`` reads them) and, for the whole
    topology of ``make serve``, the Prefect server's."""
    from flask import Config

    from reintegration_hub.config import DEFAULTS, production_problems

    config = Config(root_path=os.getcwd(), defaults=DEFAULTS)
    config.from_prefixed_env("HUB")
    problems = [] if config["ENV"] == "production" else ["HUB_ENV: production"]
    problems += production_problems(config)
    if not prefect_server:
        return problems
    prefect_db = os.environ.get(PREFECT_DATABASE_SETTING, "")
    if not prefect_db.startswith("postgresql+asyncpg://"):
        problems.append(
            f"{PREFECT_DATABASE_SETTING}: the Prefect server's PostgreSQL database "
            "(postgresql+asyncpg://user@host:5432/prefect), not its default SQLite file"
        )
    if not os.environ.get("PREFECT_API_URL"):
        problems.append("PREFECT_API_URL: the Prefect server's API (http://host:4200/api)")
    return problems


def main() -> int:
    from reintegration_hub.config import refusal

    if problems := production_problems():
        print(refusal(problems), file=sys.stderr)
        return 1
    print("The production settings are complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
