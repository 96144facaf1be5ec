"""Domain errors raised by services, and the one JSON error shape of the API.

Every API error answers ``{"error": {"code": ..., "message": ..., "field": ...}}``.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the errors a service raises on purpose; ``status`` is its HTTP mapping."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        body.update(self.extra)
        return {"error": body}


class ValidationError(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
