"""``prefect worker start``, whose stop does not wait on a Prefect server that stopped first.

    python -m workflows.worker --pool hub --type process --limit 4

What ``python -m workflows.deployments --work-pool hub --start-worker`` becomes once it has
registered the deployments (``make serve``'s worker processes); the arguments are Prefect's.

A worker that stops sends the server one last event, ``prefect.worker.stopped``, and the process
waits for it to go before it exits. Prefect's events client tries a connection it cannot make
eleven times, a second apart after the third: about 8 s when the server is already gone. It
is, whenever the server stops first, or at the same moment (honcho stops every process of
``make serve`` when one stops, systemd every process of the service at once), and honcho kills
what still runs after 5 s. Here the worker's own events are tried three times at once, as
Prefect does for a connection a load balancer dropped, and then given up: they only say that
the worker started, stopped or handed a flow run to its process. The flow runs' processes send
their own events (heartbeats, states) with Prefect's retries, as they do anywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from prefect.cli import app
from prefect.events.clients import PrefectEventsClient
from prefect.events.worker import (
    EventsWorker,
    emit_events_to_cloud,
    should_emit_events_to_running_server,
)

#: connection attempts for one of the worker's events after the first (Prefect's: 10)
EVENT_RECONNECTIONS = 2


def main(argv: Sequence[str] | None = None) -> None:
    # a server of our own, at PREFECT_API_URL (Prefect Cloud's client is left as it is)
    if should_emit_events_to_running_server() and not emit_events_to_cloud():
        EventsWorker.set_client_override(
            PrefectEventsClient, reconnection_attempts=EVENT_RECONNECTIONS
        )
    sys.argv = ["prefect", "worker", "start", *(sys.argv[1:] if argv is None else argv)]
    app()


if __name__ == "__main__":
    main()
