"""Where idgate's JWKS and introspection endpoint are: configured, discovered, or the defaults.

When the guard needs a URL that was not configured, it looks for
``{issuer}/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0, RFC 8414). A
document that names another issuer is refused (OpenID Connect Discovery 4.3): it is not idgate's.
Without a document (404) the guard uses idgate's own paths, ``{issuer}/.well-known/jwks.json``
and ``{issuer}/introspect``. The answer is kept for the guard's lifetime once found; a failure is
retried on the next need.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from idgate.guard.fetch import Fetcher, FetchError, check_url

log = logging.getLogger("idgate.guard")

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
INTROSPECTION_PATH = "/introspect"


@dataclass(frozen=True)
class Endpoints:
    """The two URLs the guard calls."""

    jwks_uri: str
    introspection_endpoint: str


class Discovery:
    """Finds :class:`Endpoints` once, on first use."""

    def __init__(
        self,
        issuer: str,
        fetcher: Fetcher,
        *,
        jwks_uri: str | None = None,
        introspection_endpoint: str | None = None,
    ) -> None:
        self._base = issuer.rstrip("/")
        self._issuer = issuer
        self._fetcher = fetcher
        self._jwks_uri = jwks_uri
        self._introspection = introspection_endpoint
        self._found: Endpoints | None = None
        if jwks_uri is not None and introspection_endpoint is not None:
            self._found = Endpoints(jwks_uri, introspection_endpoint)
        self._lock = asyncio.Lock()

    async def jwks_uri(self) -> str:
        """Return the JWKS URL (configured, or discovered); raise :class:`FetchError`."""
        if self._jwks_uri is not None:
            return self._jwks_uri
        return (await self.endpoints()).jwks_uri

    async def introspection_endpoint(self) -> str:
        """Return the introspection URL (configured, or discovered); raise :class:`FetchError`."""
        if self._introspection is not None:
            return self._introspection
        return (await self.endpoints()).introspection_endpoint

    async def endpoints(self) -> Endpoints:
        """Return the endpoints, discovering them first if needed; raise :class:`FetchError`."""
        if self._found is not None:
            return self._found
        async with self._lock:
            if self._found is None:
                self._found = await self._discover()
            return self._found

    async def _discover(self) -> Endpoints:
        url = self._base + DISCOVERY_PATH
        answer = await self._fetcher.get(url)
        document = answer.body
        if answer.status in {404, 410}:
            document = {}
        elif answer.status != 200 or document is None:
            raise FetchError(f"GET {url} answered {answer.status} without a JSON document")
        elif document.get("issuer") != self._issuer:
            log.error(
                "the discovery document at %s names the issuer %r, not %r: refusing it",
                url,
                document.get("issuer"),
                self._issuer,
            )
            raise FetchError(f"the discovery document at {url} is for another issuer")
        jwks = self._jwks_uri or _url(document.get("jwks_uri")) or self._base + JWKS_PATH
        introspection = (
            self._introspection
            or _url(document.get("introspection_endpoint"))
            or self._base + INTROSPECTION_PATH
        )
        try:
            for value, what in ((jwks, "jwks_uri"), (introspection, "introspection endpoint")):
                check_url(value, allow_http=self._fetcher.allow_http, what=what)
        except ValueError as exc:
            log.error("the discovery document at %s is refused: %s", url, exc)
            raise FetchError(str(exc)) from None
        return Endpoints(jwks, introspection)


def _url(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
