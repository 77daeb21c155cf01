"""The Redis deny-list: entries keyed on (issuer, jti), expiring with the token; fails closed."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from idgate.core.clock import FixedClock
from idgate.core.errors import Unavailable
from idgate.core.tokens.refresh import LiveAccessToken
from idgate.store.redis import RedisKeys, create_redis
from idgate.store.redis_revocations import RedisRevocationList

ISSUER = "https://id.example.test"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = create_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_deny_list(redis: Redis, redis_prefix: str, clock: FixedClock) -> None:
    denied = RedisRevocationList(redis, RedisKeys(redis_prefix), clock)
    later = clock.now() + timedelta(minutes=16)
    await denied.revoke(
        ISSUER,
        [LiveAccessToken("jti-1", later), LiveAccessToken("expired", clock.now())],
    )
    await denied.revoke(ISSUER, [LiveAccessToken("jti-1", later)])  # idempotent
    assert await denied.is_revoked(ISSUER, "jti-1")
    assert not await denied.is_revoked(ISSUER, "expired")
    assert not await denied.is_revoked("https://other.example.test", "jti-1")
    keys = [key async for key in redis.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 1
    (key,) = keys
    assert key.decode().startswith(redis_prefix + "revoked:") and key.endswith(b":jti-1")
    # Redis forgets the entry when the token (plus the largest leeway) has expired.
    ttl = await redis.pttl(key)
    assert 15 * 60 * 1000 < ttl <= 16 * 60 * 1000


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_an_unreachable_redis_fails_closed(clock: FixedClock) -> None:
    client = create_redis(f"redis://127.0.0.1:{closed_port()}/0")
    denied = RedisRevocationList(client, RedisKeys("idgate:"), clock)
    try:
        with pytest.raises(Unavailable):
            await denied.is_revoked(ISSUER, "jti-1")
        with pytest.raises(Unavailable):
            await denied.revoke(
                ISSUER, [LiveAccessToken("jti-1", clock.now() + timedelta(minutes=1))]
            )
    finally:
        await client.aclose()
