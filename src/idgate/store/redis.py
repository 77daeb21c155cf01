"""The shared Redis connection (redis-py asyncio), for state every instance must see.

Each feature keeps its keys under ``Settings.redis_prefix`` plus its own sub-prefix, so several
idgate deployments (or test runs) can share one Redis without collisions.

redis-py is imported only when a client is made: a server without Redis (the default) never loads
it, which is a tenth of a worker's start-up (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    """Return a client for ``url`` with short timeouts: a slow Redis must not hang requests."""
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        decode_responses=False,
    )
    return client


class RedisKeys:
    """Builds namespaced keys: ``RedisKeys("idgate:").key("rl", "login", "ip")``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)
