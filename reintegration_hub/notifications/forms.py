from __future__ import annotations

from flask_wtf import FlaskForm


class RetryForm(FlaskForm):
    """The "send again" button of a failed message: a POST with its CSRF token, nothing else."""
