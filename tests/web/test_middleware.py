"""The security headers middleware: what it replaces, what it leaves to the route."""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send

from idgate.core.errors import IdgateError, Unavailable
from idgate.web.middleware import API_CSP, HSTS, SecurityMiddleware, _secure_headers


def names(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name for name, _ in headers]


def test_idgate_replaces_what_it_always_decides() -> None:
    route = [
        (b"x-request-id", b"from-the-route"),
        (b"X-Frame-Options", b"ALLOWALL"),
        (b"x-content-type-options", b"sniff"),
        (b"strict-transport-security", b"max-age=0"),
        (b"pragma", b"x"),
        (b"content-type", b"application/json"),
    ]
    headers = _secure_headers(route, "abc", API_CSP, https=True)
    assert dict(headers)[b"x-request-id"] == b"abc"
    assert dict(headers)[b"x-frame-options"] == b"DENY"
    assert dict(headers)[b"x-content-type-options"] == b"nosniff"
    assert dict(headers)[b"strict-transport-security"] == HSTS.encode()
    assert dict(headers)[b"cache-control"] == b"no-store"
    assert dict(headers)[b"pragma"] == b"no-cache"
    assert b"X-Frame-Options" not in names(headers)
    lowered = [name.lower() for name in names(headers)]
    assert len(lowered) == len(set(lowered)), "no header may appear twice"
    assert (b"content-type", b"application/json") in headers


def test_the_route_may_choose_its_own_policies() -> None:
    route = [
        (b"cache-control", b"public, max-age=300"),
        (b"pragma", b"route"),
        (b"content-security-policy", b"default-src 'self'"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"unsafe-none"),
    ]
    headers = dict(_secure_headers(route, "abc", API_CSP, https=False))
    assert headers[b"cache-control"] == b"public, max-age=300"
    assert headers[b"pragma"] == b"route"
    assert headers[b"content-security-policy"] == b"default-src 'self'"
    assert headers[b"referrer-policy"] == b"same-origin"
    assert headers[b"cross-origin-opener-policy"] == b"unsafe-none"
    assert b"strict-transport-security" not in headers  # plain http


def test_defaults_when_the_route_sets_nothing() -> None:
    headers = dict(_secure_headers([], "abc", API_CSP, https=False))
    assert headers == {
        b"x-request-id": b"abc",
        b"x-content-type-options": b"nosniff",
        b"x-frame-options": b"DENY",
        b"referrer-policy": b"no-referrer",
        b"cross-origin-opener-policy": b"same-origin",
        b"content-security-policy": API_CSP.encode(),
        b"cache-control": b"no-store",
        b"pragma": b"no-cache",
    }


async def test_an_admission_refusal_is_the_answer_and_the_application_never_runs() -> None:
    called: list[str] = []

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def admission(scope: Scope) -> IdgateError | None:
        return Unavailable(7, "Busy.") if scope["path"] == "/busy" else None

    middleware = SecurityMiddleware(
        application, hsts=False, docs_paths=frozenset(), max_body_size=100, admission=admission
    )

    async def call(path: str) -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            raise AssertionError("a refused request's body is never read")

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [],
            "client": None,
        }
        await middleware(scope, receive, send)
        return sent

    start, body = await call("/busy")
    assert called == []
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == b"7"
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert json.loads(body["body"]) == {"code": "unavailable", "detail": "Busy."}
    start, _ = await call("/other")
    assert start["status"] == 204 and called == ["/other"]
