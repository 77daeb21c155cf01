"""The access-token deny-list (``core.ports.RevocationList``): in the database, or in Redis.

The database one (the default) joins the request's transaction. The Redis one, chosen when
Redis is configured, writes at once and lets Redis expire each entry at the token's expiry; if
Redis cannot answer, the check raises ``Unavailable`` (a 503) rather than let a revoked token
through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.clock import Clock
from idgate.core.errors import Unavailable
from idgate.core.tokens.refresh import LiveAccessToken
from idgate.store.models import RevokedTokenRow
from idgate.store.redis import RedisKeys


class SqlRevocationList:
    """Deny-list rows in ``revoked_tokens``, primary key (jti, issuer); expired rows are purged."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def revoke(self, issuer: str, tokens: Sequence[LiveAccessToken]) -> None:
        now = self._clock.now()
        live = {t.jti: t.expires_at for t in tokens if t.expires_at > now}
        await self._session.execute(
            delete(RevokedTokenRow)
            .where(RevokedTokenRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        if not live:
            return
        values = [
            {"jti": jti, "issuer": issuer, "expires_at": expires, "revoked_at": now}
            for jti, expires in live.items()
        ]
        # Two requests may revoke the same token at once (a double logout, two reuse
        # detections): the second insert is a no-op, not an integrity error.
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(insert(RevokedTokenRow).values(values).on_conflict_do_nothing())

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        found = await self._session.scalar(
            select(RevokedTokenRow.jti).where(
                RevokedTokenRow.jti == jti, RevokedTokenRow.issuer == issuer
            )
        )
        return found is not None


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
