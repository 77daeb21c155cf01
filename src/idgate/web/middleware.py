"""Pure-ASGI middleware: request ids, security headers, the access log, the last-resort 500.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so it adds almost nothing to each request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idgate.core.passwords.reserve import CoreReserve
from idgate.logs import request_id_var
from idgate.web.errors import error_response
from idgate.web.origin import SCOPE_KEY, ClientAddressResolver
from idgate.web.overload import Admission

access_log = logging.getLogger("idgate.access")
error_log = logging.getLogger("idgate.web")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: For JSON and everything else idgate serves: nothing may load, frame or be framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: The interactive API docs (development only, by default) load their UI from a CDN.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
    "https://fastapi.tiangolo.com https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"

# Headers idgate always sets, replacing any the route set; then those a route may choose itself.
_FORCED = frozenset({b"x-request-id", b"x-content-type-options", b"x-frame-options"})
_ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
_DEFAULTS = (
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# Most answers carry tokens or personal data (ASVS 14.3.2, RFC 6749 5.1).
_NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
_CSP = b"content-security-policy"
_HSTS = (b"strict-transport-security", HSTS.encode())


def _secure_headers(
    headers: Iterable[tuple[bytes, bytes]], request_id: str, csp: str, https: bool
) -> list[tuple[bytes, bytes]]:
    """Return the response's raw headers with idgate's security headers added.

    Built on the raw pairs (ASGI gives lower-case names) rather than ``MutableHeaders``, whose
    every lookup scans and every write rebuilds the list: this runs on every response.
    """
    given = list(headers)
    present = {name.lower() for name, _ in given}
    replaced = _FORCED
    if https:
        replaced = replaced | {_HSTS[0]}
    if b"cache-control" not in present:
        replaced = replaced | {b"pragma"}
    raw = [(name, value) for name, value in given if name.lower() not in replaced]
    raw.append((b"x-request-id", request_id.encode("latin-1")))
    raw.extend(_ALWAYS)
    raw.extend(pair for pair in _DEFAULTS if pair[0] not in present)
    if _CSP not in present:
        raw.append((_CSP, csp.encode()))
    if b"cache-control" not in present:
        raw.extend(_NO_STORE)
    if https:
        raw.append(_HSTS)
    return raw


class SecurityMiddleware:
    """Adds the security headers to every response and logs one access line per request.

    ``hsts``: send Strict-Transport-Security (when idgate is served over https).
    ``docs_paths``: paths that get the relaxed docs CSP instead of the API one.
    ``max_body_size``: larger request bodies get a 413 before anything reads them (ASVS 15.2.2).
    ``client_addresses``: resolves the client address (trusted proxies); the access log and
    every later reader of the request use the address it gives.
    ``admission``: asked before the application runs; a refusal it returns is the answer, sent
    with the same headers and logged like any other (``web.overload``).
    ``reserve``: told when each request begins and ends, so that the hashing pool leaves a core to
    requests that need no password (``core.passwords.reserve``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool,
        docs_paths: frozenset[str],
        max_body_size: int,
        client_addresses: ClientAddressResolver | None = None,
        admission: Admission | None = None,
        reserve: CoreReserve | None = None,
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_paths = docs_paths
        self.max_body_size = max_body_size
        self.client_addresses = client_addresses or ClientAddressResolver()
        self.admission = admission
        self.reserve = reserve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        client_ip = scope[SCOPE_KEY] = self.client_addresses.resolve(scope)
        reset = request_id_var.set(request_id)
        reserve = self.reserve
        serving = reserve.begin_request() if reserve is not None else None
        started = time.perf_counter()
        status = 500
        response_started = False
        https = self.hsts or scope.get("scheme") == "https"
        csp = DOCS_CSP if scope["path"] in self.docs_paths else API_CSP

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = _secure_headers(
                    message.get("headers", ()), request_id, csp, https
                )
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise BodyTooLarge()
            return message

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_size:
                await _send_json(send_with_headers, 413, "payload_too_large", TOO_LARGE)
            else:
                refusal = await self.admission(scope) if self.admission is not None else None
                if refusal is not None:
                    await error_response(refusal)(scope, receive, send_with_headers)
                else:
                    await self.app(scope, receive_limited, send_with_headers)
        except Exception:
            error_log.exception("unhandled error")
            if not response_started:
                await _send_json(
                    send_with_headers, 500, "internal_error", "Something went wrong on our side."
                )
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],  # never the query string: it may carry secrets
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": client_ip,
                },
            )
            request_id_var.reset(reset)
            if reserve is not None and serving is not None:
                reserve.end_request(serving)


TOO_LARGE = "The request body is too large."


class BodyTooLarge(HTTPException):
    """Raised while a body is read past the limit; the error handlers turn it into a 413."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


async def _send_json(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"code": code, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
