"""The :class:`~idgate.core.throttle.ThrottleStore` port in process memory.

The Redis store, shared by every instance, is ``store.redis_throttle`` (imported only when Redis
is configured, so that a server without it never loads redis-py).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TypeVar

from idgate.core.throttle import ThrottleState

R = TypeVar("R")


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
