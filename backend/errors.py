"""Domain errors and the shared error envelope: {"error": {code, message, details}}."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError as DatabaseDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("wes.errors")


class DomainError(Exception):
    """A business rule said no. Subclasses fix the HTTP status."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 after_rollback: Callable[[Any], None] | None = None):
        """`after_rollback(session)`: what must be kept although the refused action is rolled back
        (a device command's refusal telling the supervisor, say); it runs in the transaction that
        stores the refusal, and may fill in `details`."""
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        self.after_rollback = after_rollback


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "not_authenticated"


class TooManyRequests(DomainError):
    """Try again later: answered 429 with `Retry-After` (whole seconds), also given as details.retry_after."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None, details: Any = None) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(message, code=code, details={**(details or {}), "retry_after": self.retry_after})


class ErrorBody(BaseModel):
    code: str = Field(description="what went wrong, in snake_case (`validation_failed`, `unknown_task` …)")
    message: str = Field(description="the same in words, for a person")
    details: Any = Field(description="what the code needs: the field, line or row, limits; null when nothing")


class ErrorEnvelope(BaseModel):
    """Every 4xx answer of the API."""

    error: ErrorBody


def envelope(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


def _clean_validation_errors(errors: list[dict]) -> list[dict]:
    cleaned = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        cleaned.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")})
    return cleaned


UNSTORABLE_MESSAGE = "a value is out of range or holds characters that cannot be stored"


def unstorable_input(exc: BaseException) -> DomainError:
    """The refusal for input the database could not take (a number too big, a NUL byte) that the request's
    types let through: the last line of defence behind `backend.bounds`, never the first."""
    log.warning("input refused by the database: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:200])
    return Invalid(UNSTORABLE_MESSAGE, code="unstorable_value")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_req: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(envelope(exc.code, exc.message, exc.details), exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        details = _clean_validation_errors(exc.errors())
        first = details[0] if details else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return JSONResponse(envelope("validation_failed", message, details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        return JSONResponse(envelope(code, str(exc.detail)), exc.status_code, headers=headers)

    @app.exception_handler(DatabaseDataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(_req: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL's "integer out of range" / "cannot contain NUL", SQLite's "int too large to convert".
        refusal = unstorable_input(exc)
        return JSONResponse(envelope(refusal.code, refusal.message), refusal.status_code)
