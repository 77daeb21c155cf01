"""Outbound requests to idgate: discovery, the JWKS and introspection (SECURITY.md OC-07).

Every request goes to a URL the guard was configured with (or that idgate's own discovery
document named), never to one a token names. TLS certificates are verified (httpx's default;
an injected client keeps its own settings), timeouts are short, redirects are never followed, and
answers are read up to a size limit and must be JSON objects.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

#: No answer idgate gives the guard (JWKS, discovery, introspection) comes near this.
MAX_RESPONSE_BYTES = 256 * 1024


class FetchError(Exception):
    """A request to idgate failed: unreachable, timed out, redirected, oversized or not JSON.

    ``retry_after`` is the delay idgate asked for (a 429 or 503 answer), if any.
    """

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    """A JSON answer: its status, headers and decoded body (a JSON object, or None)."""

    status: int
    headers: httpx.Headers
    body: dict[str, Any] | None


def is_loopback(host: str) -> bool:
    """Return whether ``host`` is this machine (``localhost``, 127.0.0.0/8 or ``::1``)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool, what: str) -> str:
    """Return ``url`` if the guard may send requests to it, else raise ``ValueError``.

    HTTPS is required, except towards this machine (local development) or with ``allow_http``:
    a JWKS fetched over plain HTTP could be replaced on the way, and every token with it.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"the {what} must be an absolute https:// URL, not {url!r}")
    if parts.username or parts.password:
        raise ValueError(f"the {what} must not contain credentials")
    if parts.scheme == "http" and not (allow_http or is_loopback(parts.hostname)):
        raise ValueError(
            f"the {what} {url!r} is plain HTTP: use https:// (allow_http=True only for tests "
            "and private networks you trust)"
        )
    return url


class Fetcher:
    """Sends the guard's requests through one httpx client with the rules of this module."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float, allow_http: bool) -> None:
        self._client = client
        self._timeout = httpx.Timeout(timeout)
        self.allow_http = allow_http

    async def get(self, url: str) -> Answer:
        """GET ``url``; raise :class:`FetchError` unless an answer (of any status) came back."""
        return await self._send("GET", url)

    async def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Answer:
        """POST ``form`` (form-encoded) to ``url`` with ``headers``."""
        return await self._send("POST", url, data=dict(form), headers=dict(headers))

    async def _send(
        self,
        method: str,
        url: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        check_url(url, allow_http=self.allow_http, what="URL")
        request_headers = {"accept": "application/json", **(headers or {})}
        try:
            async with self._client.stream(
                method,
                url,
                data=data,
                headers=request_headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                body = await _read_limited(response)
        except httpx.HTTPError as exc:
            raise FetchError(f"{method} {url} failed: {type(exc).__name__}") from None
        if response.is_redirect:
            # A redirect could lead anywhere; the configured URL is the only one trusted.
            raise FetchError(f"{method} {url} answered a redirect, which is not followed")
        if response.status_code in {429, 503}:
            raise FetchError(
                f"{method} {url} answered {response.status_code}",
                retry_after=_retry_after(response.headers),
            )
        return Answer(response.status_code, response.headers, _json_object(body))


async def _read_limited(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise FetchError("the answer is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise FetchError("the answer is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _retry_after(headers: httpx.Headers) -> int | None:
    value = headers.get("retry-after", "").strip()
    return min(int(value), 3600) if value.isdigit() else None
