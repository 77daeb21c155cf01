"""The limits-backed rate limiter, in memory and in Redis (shared between clients)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from idgate.core.errors import Unavailable
from idgate.core.ratelimit import Rule
from idgate.store.ratelimit import LimitsRateLimiter, memory_rate_limiter, redis_rate_limiter
from idgate.store.redis import create_redis

Factory = Callable[[], Awaitable[LimitsRateLimiter]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Build limiters that share one store: the process for memory, a Redis prefix for Redis."""
    made: list[LimitsRateLimiter] = []
    clients: list[Redis] = []
    if request.param == "memory":
        shared = memory_rate_limiter()

        async def memory() -> LimitsRateLimiter:
            return shared

        made.append(shared)
        yield memory
    else:
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")

        async def redis() -> LimitsRateLimiter:
            client = create_redis(url)
            clients.append(client)
            limiter = redis_rate_limiter(url, client, prefix + "rl")
            made.append(limiter)
            return limiter

        yield redis
    for limiter in made:
        await limiter.close()
    for client in clients:
        await client.aclose()


async def test_hits_up_to_the_limit_then_refuses(make_limiter: Factory) -> None:
    limiter = await make_limiter()
    rule = Rule(3, 60)
    verdicts = [await limiter.hit(rule, "k") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert 0 < verdicts[-1].reset_after <= 60
    assert (await limiter.hit(rule, "other")).allowed


async def test_clear_forgets_the_hits(make_limiter: Factory) -> None:
    limiter = await make_limiter()
    rule = Rule(1, 3600)
    assert (await limiter.hit(rule, "k")).allowed
    assert not (await limiter.hit(rule, "k")).allowed
    await limiter.clear(rule, "k")
    assert (await limiter.hit(rule, "k")).allowed


async def test_two_limiters_on_one_store_share_the_count(make_limiter: Factory) -> None:
    # For Redis: two clients, as two idgate processes would have.
    first, second = await make_limiter(), await make_limiter()
    rule = Rule(4, 60)
    for limiter in (first, second, first, second):
        assert (await limiter.hit(rule, "shared")).allowed
    assert not (await first.hit(rule, "shared")).allowed
    assert not (await second.hit(rule, "shared")).allowed


@pytest.mark.redis
async def test_an_unreachable_redis_fails_closed(redis_prefix: str) -> None:
    url = "redis://127.0.0.1:1/0"
    client = create_redis(url)
    limiter = redis_rate_limiter(url, client, redis_prefix)
    try:
        with pytest.raises(Unavailable):
            await limiter.hit(Rule(1, 60), "k")
    finally:
        await client.aclose()
