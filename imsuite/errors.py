"""The one error type every service raises, with the stable codes clients can switch on."""

from typing import Any


class ErrorCode:
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


HTTP_STATUS = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


class DomainError(Exception):
    """A refusal with a stable code; each adapter (REST, WebSocket, bot, admin) renders it its own way."""

    def __init__(
        self, code: str, message: str, details: dict[str, Any] | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status  # where HTTP has a better answer than the code's (413 for a too large upload)

    def as_dict(self) -> dict[str, Any]:
        return {"error_code": self.code, "message": self.message, "details": self.details}

    @property
    def http_status(self) -> int:
        return self.status or HTTP_STATUS.get(self.code, 400)


def validation_error(
    field: str, reason: str, message: str | None = None, status: int | None = None
) -> DomainError:
    """Shorthand for the most common refusal: one field is wrong."""
    return DomainError(
        ErrorCode.VALIDATION_ERROR, message or f"Invalid {field}.", {"field": field, "reason": reason}, status
    )


def not_found(what: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found.")


def permission_denied(
    reason: str, message: str = "You are not allowed to do this.", **details: Any
) -> DomainError:
    return DomainError(ErrorCode.PERMISSION_DENIED, message, {"reason": reason, **details})
