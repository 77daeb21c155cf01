"""Asking idgate about a credential (RFC 7662): for API keys, and for access tokens on routes that
opt in to the revocation check.

The guard authenticates to idgate's introspection endpoint with its own API key (scope
``tokens:introspect``). Answers are cached for ``cache_ttl`` (1 second by default), never beyond
the credential's own expiry, keyed by the credential's SHA-256 so no credential is kept as
such; concurrent requests with the same credential share one call. Within ``cache_ttl`` a
revocation is not yet seen: that is the staleness the cache allows (docs/guard.md).

When idgate cannot be reached, refuses the guard's own key, or rate-limits it, the request is
refused with ``503`` (:class:`~idgate.core.errors.Unavailable`); nothing is accepted unasked.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from idgate.core.clock import Clock
from idgate.core.errors import Unavailable
from idgate.guard.discovery import Discovery
from idgate.guard.fetch import Fetcher, FetchError

log = logging.getLogger("idgate.guard")

#: Answers kept at most; the oldest go first.
MAX_CACHED = 10_000
_INACTIVE: Mapping[str, Any] = {"active": False}


class Introspector:
    """Calls idgate's introspection endpoint, with a short cache."""

    def __init__(
        self,
        discovery: Discovery,
        fetcher: Fetcher,
        clock: Clock,
        *,
        credential: str,
        cache_ttl: timedelta,
        max_cached: int = MAX_CACHED,
    ) -> None:
        self._discovery = discovery
        self._fetcher = fetcher
        self._clock = clock
        self._credential = credential
        self._cache_ttl = cache_ttl
        self._max_cached = max_cached
        self._cache: OrderedDict[str, tuple[Mapping[str, Any], datetime]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Mapping[str, Any]]] = {}
        #: How many times idgate was asked (for monitoring and tests).
        self.calls = 0

    def __repr__(self) -> str:
        return f"Introspector(cache_ttl={self._cache_ttl}, calls={self.calls})"

    async def introspect(self, token: str, hint: str) -> Mapping[str, Any]:
        """Return idgate's answer about ``token``: ``{"active": false}`` or the description.

        Raises :class:`Unavailable` when idgate cannot answer.
        """
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(digest)
        now = self._clock.now()
        if cached is not None:
            if now < cached[1]:
                return cached[0]
            del self._cache[digest]
        while (pending := self._pending.get(digest)) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and task is not None and not task.cancelling():
                    continue  # the request that was asking went away; ask again
                raise
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            answer = await self._ask(token, hint)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: only waiting requests re-raise it
            raise
        else:
            future.set_result(answer)
            self._remember(digest, answer)
            return answer
        finally:
            del self._pending[digest]

    def forget(self) -> None:
        """Drop every cached answer."""
        self._cache.clear()

    async def _ask(self, token: str, hint: str) -> Mapping[str, Any]:
        self.calls += 1
        try:
            url = await self._discovery.introspection_endpoint()
            answer = await self._fetcher.post_form(
                url,
                {"token": token, "token_type_hint": hint},
                {"x-api-key": self._credential},
            )
        except FetchError as exc:
            log.warning("introspection failed: %s", exc)
            raise Unavailable(exc.retry_after or 1, _UNAVAILABLE) from None
        body = answer.body
        if answer.status in {401, 403}:
            # The guard's own key is wrong, revoked, or lacks tokens:introspect.
            log.error(
                "idgate refused this guard's introspection key (%s): check its api_key and "
                "its tokens:introspect scope",
                answer.status,
            )
            raise Unavailable(60, _UNAVAILABLE)
        if answer.status != 200 or body is None or not isinstance(body.get("active"), bool):
            log.warning("introspection answered %s without a valid document", answer.status)
            raise Unavailable(1, _UNAVAILABLE)
        return body if body["active"] else _INACTIVE

    def _remember(self, digest: str, answer: Mapping[str, Any]) -> None:
        if self._cache_ttl <= timedelta(0):
            return
        now = self._clock.now()
        until = now + self._cache_ttl
        expires = answer.get("exp")
        if answer.get("active") and isinstance(expires, int | float):
            # Never past the credential's own expiry.
            try:
                until = min(until, datetime.fromtimestamp(expires, UTC))
            except (ValueError, OverflowError, OSError):
                return
        if until <= now:
            return
        self._cache[digest] = (answer, until)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)


_UNAVAILABLE = "idgate cannot check this credential right now. Try again shortly."
