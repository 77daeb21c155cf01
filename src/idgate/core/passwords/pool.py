"""A dedicated thread pool for password hashing, so bcrypt never runs on the event loop.

bcrypt and argon2 release the GIL while they work, so a pool as large as the machine's cores runs
that many hashes truly in parallel while the event loop keeps serving requests that need no hashing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def default_pool_size() -> int:
    """Return the number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class HashingPool:
    """Runs CPU-heavy password work off the event loop."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or default_pool_size()
        self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="idgate-hash")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in the pool and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
