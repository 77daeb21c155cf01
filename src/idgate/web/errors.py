"""One error shape for the whole API: ``{"code": "<stable code>", "detail": "<for humans>"}``.

Core errors map to HTTP statuses here and only here. Validation errors never echo what was sent
(FastAPI's default 422 body includes each field's ``input``, which may be a password: SECURITY.md
IN-01). Unexpected exceptions become a generic 500 whose body says nothing about the cause.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from idgate.core import errors as core

log = logging.getLogger("idgate.web")

REALM = 'Bearer realm="idgate"'

_STATUS: list[tuple[type[core.IdgateError], int]] = [
    (core.AuthenticationError, 401),
    (core.PermissionDenied, 403),
    (core.NotFound, 404),
    (core.Conflict, 409),
    (core.InvalidInput, 422),
    (core.RateLimited, 429),
    (core.Unavailable, 503),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
}


def status_for(exc: core.IdgateError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **extra}


def rate_limit_headers(limit: int, window: int, remaining: int, reset: float) -> dict[str, str]:
    """The ``RateLimit-*`` headers (draft-ietf-httpapi-ratelimit-headers) for one rule."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, remaining)),
        "RateLimit-Reset": str(max(0, math.ceil(reset))),
        "RateLimit-Policy": f"{limit};w={window}",
    }


def _quoted(value: str) -> str:
    return value.replace("\\", "").replace('"', "'")


def error_response(exc: core.IdgateError) -> JSONResponse:
    status = status_for(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = REALM
        if isinstance(exc, core.InvalidToken):
            # RFC 6750 3.1: say which kind of failure it was.
            headers["WWW-Authenticate"] = (
                f'{REALM}, error="invalid_token", error_description="{_quoted(exc.detail)}"'
            )
    if isinstance(exc, core.RateLimited | core.Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, core.RateLimited) and exc.limit is not None and exc.window is not None:
        headers.update(rate_limit_headers(exc.limit, exc.window, 0, exc.retry_after))
    return JSONResponse(error_body(exc.code, exc.detail), status_code=status, headers=headers)


async def _idgate_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, core.IdgateError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else None
    where = ".".join(str(part) for part in first["loc"][1:]) if first else ""
    detail = "The request is not valid"
    if first:
        detail += f": {where + ': ' if where else ''}{first['msg']}"
    return JSONResponse(
        error_body("validation_error", detail + ".", errors=errors), status_code=422
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request failed."
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", REALM)
    return JSONResponse(error_body(code, detail), status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse(
        error_body("internal_error", "Something went wrong on our side."), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(core.IdgateError, _idgate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
