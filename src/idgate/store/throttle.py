"""The :class:`~idgate.core.throttle.ThrottleStore` port: in process memory, or in Redis.

The Redis store makes each read-modify-write atomic with ``WATCH``/``MULTI``/``EXEC`` and expires
every key when its state would be void anyway, so Redis holds no stale counters.
"""

from __future__ import annotations

import asyncio
import itertools
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


class MemoryThrottleStore:
    """Counters in this process only, at most ``max_entries`` of them.

    Past the cap, void states are dropped first, then the least recently updated ones: memory
    stays bounded however many usernames an attacker tries (the global login limit bounds how
    fast anyone can push a counter out).
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._states: dict[str, ThrottleState] = {}
        self._lock = asyncio.Lock()
        self._max_entries = max_entries

    async def update(
        self,
        key: str,
        decide: Callable[[ThrottleState | None], tuple[ThrottleState | None, R]],
        now: float,
    ) -> R:
        async with self._lock:
            new, result = decide(self._states.get(key))
            if new is not None:
                self._states.pop(key, None)
                self._states[key] = new  # last in order = most recently updated
                if len(self._states) > self._max_entries:
                    self._purge(now)
            return result

    async def clear(self, key: str) -> None:
        async with self._lock:
            self._states.pop(key, None)

    def _purge(self, now: float) -> None:
        for key in [k for k, s in self._states.items() if s.expires_at <= now]:
            del self._states[key]
        excess = len(self._states) - self._max_entries * 9 // 10
        for key in list(itertools.islice(self._states, max(0, excess))):
            del self._states[key]


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
