"""Domain errors raised by services; entry points turn them into HTTP answers.

Messages are safe to show the user and may be lazy translations (``lazy_gettext``): they are
rendered in the reader's language when shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the operation."""

    status_code = 400

    def __init__(self, message: Any, *, field_errors: Mapping[str, Sequence[Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = dict(field_errors or {})

    def __str__(self) -> str:
        return str(self.message)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.status_code,
            "status": type(self).__name__,
            "message": str(self.message),
            "errors": {f: [str(m) for m in msgs] for f, msgs in self.field_errors.items()},
        }


class NotFound(DomainError):
    """The object does not exist, or is outside the actor's scope (never say which)."""

    status_code = 404


class PermissionDenied(DomainError):
    status_code = 403


class Conflict(DomainError):
    """The object's current state forbids the change (duplicate, stale, already done)."""

    status_code = 409


class InvalidInput(DomainError):
    status_code = 422


class BadQuery(DomainError):
    """A query-string parameter is not what it must be (``core.web.query_int`` and kin)."""

    status_code = 400
