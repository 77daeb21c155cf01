"""The access-token deny-list (``core.ports.RevocationList``) in Redis.

Chosen with ``IDGATE_REVOCATION_STORE=redis``: each entry is written at once and Redis expires it
at the token's expiry. If Redis cannot answer, the check raises ``Unavailable`` (a 503) rather
than let a revoked token through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from idgate.core.clock import Clock
from idgate.core.errors import Unavailable
from idgate.core.tokens.refresh import LiveAccessToken
from idgate.store.redis import RedisKeys


class RedisRevocationList:
    """One Redis key per denied token, ``<prefix>revoked:<issuer digest>:<jti>``; it expires
    with the token."""

    def __init__(self, redis: Redis, keys: RedisKeys, clock: Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock

    def _key(self, issuer: str, jti: str) -> str:
        issuer_digest = hashlib.sha256(issuer.encode()).hexdigest()[:16]
        return self._keys.key("revoked", issuer_digest, jti)

    async def revoke(self, issuer: str, tokens: Sequence[LiveAccessToken]) -> None:
        now = self._clock.now()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for item in tokens:
                    ttl_ms = int((item.expires_at - now).total_seconds() * 1000)
                    if ttl_ms > 0:
                        pipe.set(self._key(issuer, item.jti), b"1", px=ttl_ms)
                await pipe.execute()
        except RedisError:
            raise Unavailable(5, "The revocation list is not reachable.") from None

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        try:
            return bool(await self._redis.exists(self._key(issuer, jti)))
        except RedisError:
            raise Unavailable(5, "The revocation list is not reachable.") from None
