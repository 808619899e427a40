"""Flow test helpers: the rows of a flow run's artifact."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from prefect.artifacts import Artifact
from prefect.client.schemas.objects import Artifact as StoredArtifact


def artifact_rows(key: str, flow_run_id: Any) -> list[dict[str, Any]]:
    """The table the flow run ``flow_run_id`` stored as its artifact ``key``."""
    artifact = Artifact.get(key)
    assert isinstance(artifact, StoredArtifact)  # not the coroutine its hints allow for
    assert artifact.flow_run_id == flow_run_id
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(rows, list)
    return rows


def api_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's own server
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - test server
        return json.load(response)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.5)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - test server
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False
