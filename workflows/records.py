"""Every flow of the engine leaves one row in the application's ``flow_runs`` table.

``recorded_flow`` is a drop-in for Prefect's ``@flow``: the flow's body runs between two short
transactions of its own, one that records the start (state ``running``, the Prefect flow-run
id) and one that records the end (``succeeded`` with the counts it returned, or ``failed`` with
the error's type, never its message). A run killed outright stays ``running``. Administrators
read these rows on the "Flow runs" page; no request ever asks Prefect.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from prefect import Flow, flow
from prefect.context import FlowRunContext
from prefect.runtime import deployment, flow_run

from reintegration_hub.core.observability import log_context, request_id_from_tags
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.operations.services import error_summary, finish_flow_run, start_flow_run
from workflows.app import unit_of_work

P = ParamSpec("P")
R = TypeVar("R")

ACTOR = SystemActor("flow_runs")
log = logging.getLogger(__name__)


def counts_of(result: Any) -> dict[str, Any]:
    """The counts a flow returned, as a JSON-ready dict: ``as_dict()`` when it has one, the
    fields of a dataclass, a mapping as it is, a bare number as ``{"count": n}``."""
    if result is None:
        return {}
    as_dict = getattr(result, "as_dict", None)
    if callable(as_dict):
        return dict(as_dict())
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, int | float):
        return {"count": result}
    return {}


def recorded_flow(
    *,
    name: str,
    counts: Callable[[Any], Mapping[str, Any]] = counts_of,
    **options: Any,
) -> Callable[[Callable[P, R]], Flow[P, R]]:
    """``@flow(name=name, **options)`` whose every run is recorded in ``flow_runs``;
    ``counts`` turns the flow's result into the counts stored. ``fn`` may be sync or async."""

    def decorate(fn: Callable[P, R]) -> Flow[P, R]:
        run: Any
        if inspect.iscoroutinefunction(fn):
            # the record's two short transactions block the loop a moment, before and after
            # the flow's own work

            @functools.wraps(fn)
            async def run(*args: P.args, **kwargs: P.kwargs) -> Any:
                with _recording(name, counts) as outcome:
                    outcome.append(await fn(*args, **kwargs))
                return outcome[0]

        else:

            @functools.wraps(fn)
            def run(*args: P.args, **kwargs: P.kwargs) -> R:
                with _recording(name, counts) as outcome:
                    result = fn(*args, **kwargs)
                    outcome.append(result)
                return result

        # Prefect reads the parameters' types from the signature and resolves string
        # annotations in the wrapper's module: give it the flow's own, already resolved
        resolved = inspect.signature(fn, eval_str=True)
        run.__signature__ = resolved
        run.__annotations__ = {
            key: value
            for key, value in (
                *((p.name, p.annotation) for p in resolved.parameters.values()),
                ("return", resolved.return_annotation),
            )
            if value is not inspect.Signature.empty
        }
        run.__recorded_as__ = name  # tests find recorded flows
        made: Flow[P, R] = flow(name=name, **options)(run)
        return made

    return decorate


@contextmanager
def _recording(name: str, counts: Callable[[Any], Mapping[str, Any]]) -> Iterator[list[Any]]:
    """Record the start, run the block (which appends the flow's result), record the end;
    log records written meanwhile name the flow run (``run_context``)."""
    with log_context(**run_context(name)):
        record_id = _start(name)
        outcome: list[Any] = []
        try:
            yield outcome
        except BaseException as exc:
            _finish(record_id, error=error_summary(exc))
            raise
        _finish(record_id, counts=dict(counts(outcome[0])))


def run_context(name: str) -> dict[str, str | None]:
    """What the log lines of this flow run carry: the flow, and in an orchestrated run its
    Prefect id, its deployment's name and the id of the request that started it (the run's
    ``request-id:`` tag, see ``core.observability.request_id_tags``)."""
    run_id = flow_run.id
    if run_id is None:  # called as a plain function (``.fn``)
        return {"flow": name}
    try:
        # one API read per deployment and process, cached
        deployment_name = deployment.name if deployment_id() else None
    except Exception as exc:  # a log field is never worth failing the flow
        log.warning("deployment of flow run %s unknown: %s", run_id, error_summary(exc))
        deployment_name = None
    return {
        "flow": name,
        "flow_run_id": run_id,
        "deployment": deployment_name,
        "request_id": request_id_from_tags(flow_run.tags),
    }


def deployment_id() -> uuid.UUID | None:
    """The deployment of the flow run in progress, from the run Prefect already read;
    ``None`` outside a flow run and for a run of no deployment. Not ``prefect.runtime``'s
    ``deployment.id``: for a run of no deployment (a test, a script, a bench), it reads
    the run from the API again, through a new client, ~25 ms a call."""
    context = FlowRunContext.get()
    return context.flow_run.deployment_id if context and context.flow_run else None


def _start(name: str) -> int:
    run_id = flow_run.id
    with unit_of_work():
        return start_flow_run(name, prefect_flow_run_id=run_id, actor=ACTOR).id


def _finish(
    record_id: int, *, counts: Mapping[str, Any] | None = None, error: str | None = None
) -> None:
    """Record the end; a failure to do so is logged, never raised over the flow's outcome."""
    try:
        with unit_of_work():
            finish_flow_run(record_id, counts=counts, error=error, actor=ACTOR)
    except Exception as exc:
        log.warning("flow run record %d not finished: %s", record_id, error_summary(exc))
