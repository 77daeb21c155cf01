"""idgate's public keys, fetched from its JWKS, cached, and refreshed on rotation.

How the cache behaves (docs/guard.md):

* The JWKS is fetched on first need and kept for the lifetime its ``Cache-Control: max-age``
  states (idgate says 300 s), bounded to ``[refresh_interval, 1 hour]``, or for ``max_age`` when
  one is configured. While it is fresh, verifying a token does no I/O.
* A token whose ``kid`` is not in the cache makes the guard fetch the JWKS again (a rotated key
  is published the moment it starts signing), but at most once per ``refresh_interval``, and
  concurrent requests share one fetch: a burst of forged ``kid``\\ s costs idgate one request.
* When the cache has expired the guard fetches again. If idgate cannot be reached, the cached
  keys keep verifying for ``max_stale`` more; after that, or if no key was ever fetched, every
  token is refused with ``503`` (:class:`~idgate.core.errors.Unavailable`). Nothing is accepted
  without a key idgate published. Failed fetches are retried at most once per
  ``refresh_interval``.
* Keys are taken only from the configured (or discovered) JWKS URL, never from a token's
  headers, and only if they fit the algorithm they declare (SECURITY.md JW-01, JW-03, JW-09).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from idgate.core.clock import Clock
from idgate.core.errors import InvalidToken, Unavailable
from idgate.core.tokens.keys import RSA_BITS
from idgate.core.tokens.verification import MAX_KID_LENGTH
from idgate.guard.discovery import Discovery
from idgate.guard.fetch import Fetcher, FetchError

log = logging.getLogger("idgate.guard")

#: The algorithms idgate signs access tokens with when it publishes a JWKS.
ASYMMETRIC_ALGORITHMS = ("EdDSA", "ES256", "RS256")
DEFAULT_MAX_AGE = timedelta(seconds=300)
LONGEST_MAX_AGE = timedelta(hours=1)
#: Members only a private or symmetric JWK has (RFC 7518 6.2.2, 6.3.2, 6.4.1).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)
_KEY_TYPES: dict[str, tuple[str, str | None, type[Any]]] = {
    "EdDSA": ("OKP", "Ed25519", ed25519.Ed25519PublicKey),
    "ES256": ("EC", "P-256", ec.EllipticCurvePublicKey),
    "RS256": ("RSA", None, rsa.RSAPublicKey),
}


@dataclass(frozen=True)
class PublicKey:
    """One published key: its ``kid``, its one algorithm, and the public key."""

    kid: str
    alg: str
    key: Any

    def verification_key(self) -> Any:
        return self.key


def parse_jwk(jwk: Mapping[str, Any], algorithms: Collection[str]) -> PublicKey:
    """Return the key a JWK describes, or raise ``ValueError`` saying why it is unusable.

    The JWK must name its ``kid`` and its ``alg`` (one of ``algorithms``), be meant for
    signatures, match the key type of its algorithm (RSA with at least 3072 bits, JW-09), and hold
    no private member: a JWKS that publishes one has leaked its key, and trusts nothing.
    """
    kid, alg = jwk.get("kid"), jwk.get("alg")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise ValueError("no usable kid")
    if not isinstance(alg, str) or alg not in algorithms or alg not in _KEY_TYPES:
        raise ValueError(f"key {kid}: algorithm {alg!r} is not accepted")
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"key {kid}: not a signature key")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise ValueError(f"key {kid}: the JWK contains private key material")
    kty, crv, expected = _KEY_TYPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise ValueError(f"key {kid}: its key type does not fit {alg}")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ValueError(f"key {kid}: {type(exc).__name__}") from None
    if not isinstance(key, expected):
        raise ValueError(f"key {kid}: its key type does not fit {alg}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < RSA_BITS:
        raise ValueError(f"key {kid}: RSA keys need at least {RSA_BITS} bits")
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"key {kid}: ES256 needs a P-256 key")
    return PublicKey(kid=kid, alg=alg, key=key)


def parse_jwks(document: Mapping[str, Any], algorithms: Collection[str]) -> dict[str, PublicKey]:
    """Return the usable keys of a JWK Set by ``kid``; unusable keys are logged and skipped.

    A ``kid`` that appears twice names no key at all: which one would be meant is unknowable.
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("the JWKS has no 'keys' list")
    keys: dict[str, PublicKey] = {}
    duplicated: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        try:
            key = parse_jwk(entry, algorithms)
        except ValueError as exc:
            log.warning("JWKS key skipped: %s", exc)
            continue
        if key.kid in keys:
            duplicated.add(key.kid)
        keys[key.kid] = key
    for kid in duplicated:
        log.warning("JWKS key skipped: kid %s appears more than once", kid)
        del keys[kid]
    return keys


def cache_lifetime(cache_control: str | None) -> timedelta | None:
    """Return the ``max-age`` of a ``Cache-Control`` header, zero for ``no-store``/``no-cache``,
    or None when it says neither."""
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return timedelta(0)
    match = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(match.group(1))) if match else None


class KeyCache:
    """The keys of one idgate, as the module docstring describes."""

    def __init__(
        self,
        discovery: Discovery,
        fetcher: Fetcher,
        clock: Clock,
        *,
        algorithms: Collection[str],
        max_age: timedelta | None,
        refresh_interval: timedelta,
        max_stale: timedelta,
    ) -> None:
        self._discovery = discovery
        self._fetcher = fetcher
        self._clock = clock
        self._algorithms = frozenset(algorithms)
        self._max_age = max_age
        self._refresh_interval = refresh_interval
        self._max_stale = max_stale
        self._lock = asyncio.Lock()
        self._keys: dict[str, PublicKey] | None = None
        self._fresh_until: datetime | None = None
        self._last_attempt: datetime | None = None
        self._last_forced: datetime | None = None
        self._failed = False
        #: Counts finished fetch attempts, so a request that waited for one does not start another.
        self._generation = 0
        #: How many times the JWKS was requested (for monitoring and tests).
        self.fetches = 0

    @property
    def kids(self) -> frozenset[str]:
        """The ``kid`` of every key cached now."""
        return frozenset(self._keys or ())

    async def key_for(self, kid: str) -> PublicKey:
        """Return the key named ``kid``.

        Raises :class:`InvalidToken` when idgate publishes no such key, and :class:`Unavailable`
        when no usable key set can be had (idgate unreachable, nothing valid cached).
        """
        now = self._clock.now()
        if not self._is_fresh(now):
            await self._refresh_expired()
            now = self._clock.now()
        keys = self._keys
        if keys is None or not self._is_usable(now):
            raise self._unavailable()
        key = keys.get(kid)
        if key is None:
            await self._refresh_for_unknown_kid()
            key = (self._keys or {}).get(kid)
        if key is None:
            if self._failed:
                raise self._unavailable()
            raise InvalidToken("The access token was not signed by a known key.")
        return key

    async def refresh(self) -> None:
        """Fetch the JWKS now (e.g. at start-up); raise :class:`Unavailable` if that fails."""
        async with self._lock:
            await self._fetch()
        if self._failed:
            raise self._unavailable()

    # --- internals -----------------------------------------------------------------------

    def _is_fresh(self, now: datetime) -> bool:
        return self._fresh_until is not None and now < self._fresh_until

    def _is_usable(self, now: datetime) -> bool:
        return self._fresh_until is not None and now < self._fresh_until + self._max_stale

    def _recently(self, moment: datetime | None, now: datetime) -> bool:
        return moment is not None and now - moment < self._refresh_interval

    async def _refresh_expired(self) -> None:
        generation = self._generation
        now = self._clock.now()
        if self._lock.locked() and self._is_usable(now):
            return  # another request is refreshing; the stale keys serve meanwhile
        async with self._lock:
            now = self._clock.now()
            if self._generation != generation or self._is_fresh(now):
                return
            if self._failed and self._recently(self._last_attempt, now):
                return  # idgate failed a moment ago: do not wait for it on every request
            await self._fetch()

    async def _refresh_for_unknown_kid(self) -> None:
        generation = self._generation
        if not self._lock.locked() and self._recently(self._last_forced, self._clock.now()):
            return
        async with self._lock:
            now = self._clock.now()
            if self._generation != generation or self._recently(self._last_forced, now):
                return  # a fetch finished while this request waited, or one was made just now
            self._last_forced = now
            await self._fetch()

    async def _fetch(self) -> None:
        now = self._clock.now()
        self._last_attempt = now
        self.fetches += 1
        try:
            url = await self._discovery.jwks_uri()
            answer = await self._fetcher.get(url)
            if answer.status != 200 or answer.body is None:
                raise FetchError(f"GET {url} answered {answer.status} without a JSON document")
            keys = parse_jwks(answer.body, self._algorithms)
        except (FetchError, ValueError) as exc:
            self._failed = True
            log.warning("could not fetch idgate's keys: %s", exc)
            return
        finally:
            self._generation += 1
        if not keys:
            log.warning("idgate's JWKS at %s holds no key this guard accepts", url)
        lifetime = self._max_age or cache_lifetime(answer.headers.get("cache-control"))
        if lifetime is None:
            lifetime = DEFAULT_MAX_AGE
        lifetime = min(max(lifetime, self._refresh_interval), LONGEST_MAX_AGE)
        self._keys = keys
        self._fresh_until = now + lifetime
        self._failed = False

    def _unavailable(self) -> Unavailable:
        retry = max(1, int(self._refresh_interval.total_seconds()))
        return Unavailable(
            retry, "The keys that verify access tokens cannot be fetched from idgate right now."
        )
