"""The one error type services raise; the app renders it as {"error": {code, message, details}}."""
from __future__ import annotations

from typing import Any

from takeoff.core.logs import current_request_id


class AppError(Exception):
    """An error a client can act on: HTTP status, stable code, one readable message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """Response headers that go with the error (Retry-After on a 429)."""
        return {}


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class Invalid(AppError):
    status, code = 422, "invalid"


class TooLarge(AppError):
    status, code = 413, "too_large"


class RateLimited(AppError):
    """429: too many attempts or requests; `retry_after` seconds go out as the Retry-After header."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, details: list[Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, details=details, code=code)
        self.retry_after = None if retry_after is None else max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The one error shape of the HTTP API; with the request's id (also in the X-Request-ID header) when there is one."""
    body: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    rid = current_request_id()
    if rid is not None:
        body["request_id"] = rid
    return {"error": body}


def _error_responses() -> dict[int | str, dict[str, Any]]:
    """The error responses every API operation declares in OpenAPI, all in the one error shape."""
    from pydantic import BaseModel, Field

    class ErrorDetail(BaseModel):
        code: str = Field(description="stable machine-readable code, e.g. not_found, invalid, permission_denied")
        message: str = Field(description="one readable sentence")
        details: list[Any] = Field(description="per-field problems ({field, message}) or other specifics")
        request_id: str | None = Field(None, description="the request's id, as in the X-Request-ID response header")

    class ErrorBody(BaseModel):
        """The one error shape of the HTTP API."""

        error: ErrorDetail

    when = {400: "Malformed JSON or body, or JSON nested too deep", 401: "Missing, invalid, expired or revoked token",
            403: "The caller's roles lack the permission, or the decision belongs to another role",
            404: "Unknown route or object", 409: "The object's state forbids it",
            413: "Body over the size limit",
            422: "Invalid input; details name each field", 429: "Rate limited"}
    return {status: {"model": ErrorBody, "description": text} for status, text in when.items()}


ERROR_RESPONSES = _error_responses()


def invalid(message: object, field: str | None = None) -> Invalid:
    """A 422 with one readable message (a rule's ValueError, say) whose details name the field when given."""
    msg = str(message)
    return Invalid(msg, details=[{"field": field, "message": msg}] if field else None)
