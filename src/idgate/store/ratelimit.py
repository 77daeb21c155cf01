"""The :class:`~idgate.core.ratelimit.RateLimiter` port on the ``limits`` library.

Moving windows (exact counts over the last N seconds), in process memory by default, or in Redis
when ``IDGATE_REDIS_URL`` is set, so every worker and instance shares one count per key. A Redis
that does not answer makes the limited endpoints answer 503: rate limits fail closed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from idgate.core.errors import Unavailable
from idgate.core.ratelimit import Rule, Verdict

if TYPE_CHECKING:
    from redis.asyncio import Redis


def _item(rule: Rule) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(rule.amount, rule.seconds, namespace="idgate")


class LimitsRateLimiter:
    """Implements :class:`idgate.core.ratelimit.RateLimiter` over a ``limits`` async storage."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, rule: Rule, key: str) -> Verdict:
        item = _item(rule)
        try:
            allowed = await self._strategy.hit(item, key)
            stats = await self._strategy.get_window_stats(item, key)
        except StorageError:
            raise Unavailable(5, "The rate limiter is unavailable. Try again shortly.") from None
        reset_after = max(0.0, stats.reset_time - time.time())
        return Verdict(allowed, rule.amount, stats.remaining, reset_after)

    async def clear(self, rule: Rule, key: str) -> None:
        try:
            await self._strategy.clear(_item(rule), key)
        except StorageError:
            raise Unavailable(5, "The rate limiter is unavailable. Try again shortly.") from None

    async def close(self) -> None:
        """Stop the memory storage's expiry task (Redis connections belong to the caller)."""
        timer = getattr(self.storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()


def memory_rate_limiter() -> LimitsRateLimiter:
    """Counters in this process only: right for one process, wrong for several."""
    return LimitsRateLimiter(MemoryStorage())


def redis_rate_limiter(url: str, redis: Redis, prefix: str) -> LimitsRateLimiter:
    """Counters in the Redis behind ``redis`` (its connection pool is shared), under ``prefix``."""
    storage = RedisStorage(
        f"async+{url}",
        implementation="redispy",
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
        key_prefix=prefix,
        wrap_exceptions=True,
    )
    return LimitsRateLimiter(storage)
