from __future__ import annotations

from reintegration_hub.core.forms import Form


class RetryForm(Form):
    """The "send again" button of a failed message: a POST with its CSRF token, nothing else."""
