"""How the guard refuses a request: ``401``, ``403`` or ``503``, as idgate does.

Refusals are :class:`GuardRefusal`, a ``fastapi.HTTPException`` with a stable ``code``, so any
FastAPI app renders them (as ``{"detail": "..."}``) with the right status and headers.
:func:`install_error_handler` renders them in idgate's own shape instead,
``{"code": "invalid_token", "detail": "..."}``.

* ``401``: no credential, or one that is invalid, expired, forged or revoked. The
  ``WWW-Authenticate: Bearer realm="..."`` header says so, with ``error="invalid_token"`` for a
  bad token (RFC 6750 3.1).
* ``403``: authenticated but not allowed (a permission, role or scope is missing). A missing
  scope adds ``error="insufficient_scope"`` (RFC 6750 3.1).
* ``503`` with ``Retry-After``: idgate's keys, or its answer about a credential, cannot be had
  right now. The credential may well be valid, so it is not a ``401`` (which tells clients to
  log in again); nothing is accepted either.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from idgate.core import errors as core


class GuardRefusal(HTTPException):
    """A refused request: ``status_code``, a stable ``code`` and a ``detail`` for people."""

    def __init__(
        self, status_code: int, code: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, detail, dict(headers or {}))
        self.code = code


def _quoted(value: str) -> str:
    return value.replace("\\", "").replace('"', "'")


def challenge(realm: str, error: str | None = None, description: str | None = None) -> str:
    """Return a ``WWW-Authenticate`` value (RFC 6750 3)."""
    value = f'Bearer realm="{_quoted(realm)}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{_quoted(description)}"'
    return value


def refusal(exc: core.IdgateError, realm: str) -> GuardRefusal:
    """Return the refusal for a core error (the guard raises only these kinds)."""
    if isinstance(exc, core.InvalidToken):
        return GuardRefusal(
            401,
            exc.code,
            exc.detail,
            {"WWW-Authenticate": challenge(realm, "invalid_token", exc.detail)},
        )
    if isinstance(exc, core.AuthenticationError):
        return GuardRefusal(401, exc.code, exc.detail, {"WWW-Authenticate": challenge(realm)})
    if isinstance(exc, core.Unavailable):
        return GuardRefusal(503, exc.code, exc.detail, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, core.PermissionDenied):
        return GuardRefusal(403, exc.code, exc.detail)
    return GuardRefusal(400, exc.code, exc.detail)


def forbidden(detail: str, *, realm: str | None = None, scope: str | None = None) -> GuardRefusal:
    """Return a ``403 permission_denied``; with ``scope``, an RFC 6750 ``insufficient_scope``."""
    headers = {}
    if scope is not None and realm is not None:
        headers["WWW-Authenticate"] = (
            challenge(realm, "insufficient_scope") + f', scope="{_quoted(scope)}"'
        )
    return GuardRefusal(403, core.PermissionDenied.code, detail, headers)


async def _render(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GuardRefusal)
    return JSONResponse(
        {"code": exc.code, "detail": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


def install_error_handler(app: FastAPI) -> None:
    """Render the guard's refusals as ``{"code": ..., "detail": ...}``, like idgate."""
    app.add_exception_handler(GuardRefusal, _render)
