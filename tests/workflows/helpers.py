"""Flow test helpers: the rows of a flow run's artifact."""

from __future__ import annotations

import json
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
