"""What observability costs a request: the request id, the JSON access line and the request
histogram (core.observability), through the test client, with and without them.

    .venv/bin/python -m bench.observability [--requests 2000] [--database-url URL]

Times ``GET /healthz`` (the cheapest endpoint, so the hooks' share is the largest it gets) in
rounds that alternate between the app as built (JSON logs, written to the null device) and the
same app with the hooks taken off (the request-id middleware, the access line, the exporter's
three hooks); then one ``/metrics`` scrape (the gauges' queries) on an empty database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask

from bench.harness import arguments, bench_app, migrated, report, summary, timed
from reintegration_hub.core.observability import RequestIdMiddleware, finish_request

TOKEN = "bench-token"  # noqa: S105 - a throw-away scrape token


def hooks(app: Flask) -> list[tuple[dict[Any, list[Any]], Any]]:
    """Each of our per-request functions, with the list of hooks Flask keeps it in."""
    found = []
    for table in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for function in table.get(None, []):
            if function is finish_request or function.__module__ == "prometheus_flask_exporter":
                found.append((table, function))
    return found


def switch(app: Flask, wrapped: Any, on: bool, taken: list[tuple[Any, Any]]) -> None:
    if on:
        app.wsgi_app = wrapped  # type: ignore[method-assign]
        for table, function in taken:
            table[None].append(function)
        taken.clear()
    else:
        app.wsgi_app = wrapped.wsgi_app  # type: ignore[method-assign]
        for table, function in hooks(app):
            table[None].remove(function)
            taken.append((table, function))


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    os.environ["HUB_LOG_FORMAT"] = "json"
    os.environ["HUB_METRICS_TOKEN"] = TOKEN
    with migrated(bench_app(args.database_url)) as app:
        wrapped = app.wsgi_app
        assert isinstance(wrapped, RequestIdMiddleware)
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        request: Callable[[], Any] = lambda: client.get("/healthz")  # noqa: E731
        samples: dict[bool, list[float]] = {True: [], False: []}
        taken: list[tuple[Any, Any]] = []
        stderr = sys.stderr
        with open(os.devnull, "w") as null:
            sys.stderr = null
            try:
                for _ in range(200):  # warm-up
                    request()
                for round_ in range(args.rounds * 2):
                    on = round_ % 2 == 0
                    switch(app, wrapped, on, taken)
                    samples[on] += timed(request, args.requests // args.rounds)
                switch(app, wrapped, True, taken)
                scrape = timed(
                    lambda: client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}),
                    50,
                )
            finally:
                sys.stderr = stderr
        report("GET /healthz with observability", samples[True])
        report("GET /healthz without", samples[False])
        on, off = summary(samples[True]), summary(samples[False])
        print(
            f"p50 {on['p50']:.3f} ms with, {off['p50']:.3f} ms without: "
            f"{on['p50'] - off['p50']:.3f} ms added per request"
        )
        report("GET /metrics (scrape)", scrape)


if __name__ == "__main__":
    main()
