"""The Flask application inside flow tasks: one per worker process, an app context per call.

A task never shares a session, a transaction or an ORM object with another task: it opens a
unit of work, calls one service with ids and values, and returns plain values.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from prefect.runtime import task_run

from reintegration_hub import create_app
from reintegration_hub.core.observability import log_context
from reintegration_hub.extensions import db

_building = threading.Lock()


def get_app() -> Flask:
    """The application of this process, configured from the ``HUB_*`` environment, built on
    first use (never at import), once even when tasks start together in threads."""
    with _building:
        return _built_app()


@functools.cache
def _built_app() -> Flask:
    app = create_app({"API_DOCUMENT": False})  # flow runs serve no request
    _freeze_what_lives_on()
    return app


@functools.cache  # once a process, however often tests build the app again
def _freeze_what_lives_on() -> None:
    """Take what the process holds once the app is built (the modules of Prefect, SQLAlchemy,
    Flask and ours; the app) out of the garbage collector's full collections, which then scan
    only what the runs made since: ~15 ms. Scanning it all took ~200 ms, every few runs and at
    any point of one; a daily sweep at 100,000 plans takes ~0.5 s."""
    gc.freeze()


def reset_app() -> None:
    """Forget the application, so that the next ``get_app`` builds it again (tests)."""
    with _building:
        _built_app.cache_clear()


@contextmanager
def unit_of_work() -> Iterator[Flask]:
    """An app context with a fresh session for one task call: committed when the block ends,
    rolled back when it raises; the session is closed either way. Log records written in it
    name the task run (and the flow run, bound by ``workflows.records``)."""
    app = get_app()
    with app.app_context(), log_context(task_run_id=task_run.id):
        try:
            yield app
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
