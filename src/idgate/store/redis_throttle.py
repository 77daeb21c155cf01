"""The :class:`~idgate.core.throttle.ThrottleStore` port in Redis, shared by every instance.

Each read-modify-write is atomic with ``WATCH``/``MULTI``/``EXEC``, and every key expires when its
state would be void anyway, so Redis holds no stale counters.
"""

from __future__ import annotations

import asyncio
import math
import random
import zlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from idgate.core.errors import Unavailable
from idgate.core.throttle import ThrottleState

R = TypeVar("R")

_FIELDS = ("failures", "not_before", "expires_at", "noticed_until")
_MAX_RETRIES = 50
_STRIPES = 64


class RedisThrottleStore:
    """Counters in Redis hashes under ``prefix``, shared by every idgate instance."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        # Attempts on one key from this process queue here, so optimistic transactions only
        # ever race against other processes (a flood on one account would otherwise retry
        # endlessly).
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    async def update(
        self,
        key: str,
        decide: Callable[[ThrottleState | None], tuple[ThrottleState | None, R]],
        now: float,
    ) -> R:
        name = self.prefix + key
        lock = self._locks[zlib.crc32(name.encode()) % _STRIPES]
        try:
            async with lock, self.redis.pipeline(transaction=True) as pipe:
                for attempt in range(_MAX_RETRIES):
                    try:
                        await pipe.watch(name)
                        raw = await pipe.hgetall(name)
                        new, result = decide(_state(raw))
                        if new is None:
                            await pipe.unwatch()  # type: ignore[no-untyped-call]
                            return result
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.hset(
                            name,
                            mapping={
                                "failures": new.failures,
                                "not_before": repr(new.not_before),
                                "expires_at": repr(new.expires_at),
                                "noticed_until": repr(new.noticed_until),
                            },
                        )
                        pipe.expire(name, max(1, math.ceil(new.expires_at - now)))
                        await pipe.execute()
                        return result
                    except WatchError:
                        # Another process wrote first: read again after a short, random pause.
                        await asyncio.sleep(random.uniform(0, 0.002) * (attempt + 1))  # noqa: S311
        except RedisError:
            raise Unavailable(5, "The login throttle is unavailable. Try again shortly.") from None
        raise Unavailable(1, "Too many concurrent attempts. Try again shortly.")

    async def clear(self, key: str) -> None:
        try:
            await self.redis.delete(self.prefix + key)
        except RedisError:
            raise Unavailable(5, "The login throttle is unavailable. Try again shortly.") from None


def _state(raw: Mapping[Any, Any]) -> ThrottleState | None:
    if not raw:
        return None
    try:
        values = {name: bytes(raw[name.encode()]).decode() for name in _FIELDS}
        return ThrottleState(
            failures=int(values["failures"]),
            not_before=float(values["not_before"]),
            expires_at=float(values["expires_at"]),
            noticed_until=float(values["noticed_until"]),
        )
    except (KeyError, ValueError):
        # Not written by this version: start the count over; the next write replaces it.
        return None
