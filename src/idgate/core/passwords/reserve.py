"""Leaving a core to the event loop while it serves requests that need no password.

A hashing pool as large as the machine's cores is what lets logins reach the machine's bcrypt
ceiling. But while every core hashes, the requests that need no password (bearer tokens, JWKS,
health, pages) wait for a core: on two cores, during a login flood, the protected route's p99
was several times its idle p99, and lowering the hashing threads' priority (niceness, even
``SCHED_IDLE``) did not change that, while one hashing thread fewer did (docs/benchmarks.md).

So while such requests are being served, one hashing thread waits before its next hash, and
``size - 1`` hashes run at once; when they stop for ``window`` seconds, every thread hashes
again. A load of logins alone still uses every core. Which requests hashed is known exactly:
the request that asked the pool for a hash (or was refused one) is marked through a context
variable, set by whoever serves the request (``web.middleware``), so nothing lists endpoints.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import TypeVar

T = TypeVar("T")

#: How long after the last request that needed no password one core stays reserved.
RESERVE_WINDOW = 0.25
#: How often a waiting hashing thread looks again whether the reservation has ended.
RESERVE_POLL = 0.05


class _Request:
    __slots__ = ("hashed",)

    def __init__(self) -> None:
        self.hashed = False


_current: ContextVar[_Request | None] = ContextVar("idgate_hashing_request", default=None)


class CoreReserve:
    """Allows ``size`` hashes at once, or ``size - 1`` while other requests are being served.

    ``size``: the pool's threads (with 1 nothing is reserved). ``enabled``: False allows
    ``size`` always. ``window``: seconds the reservation lasts after the last request that
    needed no password. ``clock``: a monotonic clock in seconds (tests).
    """

    def __init__(
        self,
        size: int,
        *,
        enabled: bool = True,
        window: float = RESERVE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.enabled = enabled and size > 1
        self.window = window
        self._clock = clock
        self._last_other = float("-inf")
        self._running = 0
        self._changed = threading.Condition()

    # --- the requests' side (the event loop) ---

    def begin_request(self) -> Token[_Request | None]:
        """Note that a request starts in this context; pass the result to :meth:`end_request`."""
        return _current.set(_Request())

    def end_request(self, token: Token[_Request | None]) -> None:
        """Note that the request ends: if it needed no password, it reserves a core."""
        request = _current.get()
        _current.reset(token)
        if request is not None and not request.hashed:
            self._last_other = self._clock()

    @staticmethod
    def hashing() -> None:
        """Mark the current request as one that hashes (or is refused a hash)."""
        request = _current.get()
        if request is not None:
            request.hashed = True

    def reserved(self) -> bool:
        """Whether a core is left to other requests right now."""
        return self.enabled and self._clock() - self._last_other < self.window

    def allowed(self) -> int:
        """How many hashes may run at once right now."""
        return self.size - 1 if self.reserved() else self.size

    # --- the hashing threads' side ---

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` once fewer than :meth:`allowed` hashes run (on a hashing thread)."""
        with self._changed:
            while self._running >= self.allowed():
                self._changed.wait(RESERVE_POLL)
            self._running += 1
        try:
            return fn()
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify()
