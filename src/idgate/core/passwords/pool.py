"""A dedicated thread pool for password hashing, so bcrypt never runs on the event loop.

bcrypt and argon2 release the GIL while they work, so a pool as large as the machine's cores runs
that many hashes truly in parallel while the event loop keeps serving requests that need no hashing.

The pool is bounded: at most ``size`` hashes run and ``queue_size`` wait. A request that finds
the queue full is shed at once with :class:`~idgate.core.errors.Unavailable` (503 and
``Retry-After``) instead of waiting behind a login flood (ASVS 15.2.2). Requests that need no
hashing (bearer-token routes, JWKS, health) never touch the pool and keep their latency.

A request refused before any work was done for it (:meth:`HashingPool.admit`, and the JSON
endpoints' door in ``web.overload``) gets its ``503`` only after a short pause, ``shed_delay``.
A flood client that sends its next attempt as soon as the last is answered (most credential
stuffing tools: a fixed number of connections, each in a loop) is then held to a few attempts a
second per connection, instead of as many as the server can refuse: each refusal is cheap, but
thousands a second of them take the event loop from every other request (docs/benchmarks.md).
The pause holds no thread, connection or lock, only a timer; at most ``MAX_HELD_REFUSALS``
refusals wait at once, and any past that are answered at once.

While the event loop serves requests that need no password, one thread waits and leaves its core
to them (``core.passwords.reserve``); logins alone still use every core.

Hashing threads run at a lower scheduling priority (Linux niceness +10) than the event loop: they
still use every idle core, but a login flood cannot take the CPU from requests that need none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from idgate.core.errors import Unavailable
from idgate.core.passwords.reserve import CoreReserve

P = ParamSpec("P")
T = TypeVar("T")

#: Waiting hashes allowed per thread when no queue size is given.
QUEUE_PER_THREAD = 8

#: Refusals that may wait out their pause at once; past that they are answered without one, so
#: that a flood of many connections cannot make the pauses themselves a cost (memory, sockets).
MAX_HELD_REFUSALS = 1024

#: How much nicer than the event loop hashing threads are (CFS gives a nice-10 thread ~10% of a
#: core that a nice-0 thread also wants, and all of an idle one).
HASHING_NICENESS = 10


def default_pool_size() -> int:
    """Return the number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class HashingPool:
    """Runs CPU-heavy password work off the event loop, shedding load past its queue.

    ``size``: threads (default: the CPUs this process may use). ``queue_size``: hashes allowed to
    wait for a thread (default ``8 * size``; 0 means none may wait). ``retry_after``: seconds a
    shed request is told to wait. ``shed_delay``: seconds a request refused before any work waits
    before it is answered (:meth:`hold`; 0: no pause), ``max_held`` of them at once.
    ``reserve_core``: while other requests are served, run one hash fewer at once
    (:attr:`reserve`). ``sleep``: how to wait (tests).
    """

    def __init__(
        self,
        size: int | None = None,
        *,
        queue_size: int | None = None,
        retry_after: int = 1,
        shed_delay: float = 0.0,
        max_held: int = MAX_HELD_REFUSALS,
        reserve_core: bool = True,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.size = size or default_pool_size()
        self.queue_size = QUEUE_PER_THREAD * self.size if queue_size is None else queue_size
        if self.size < 1 or self.queue_size < 0:
            raise ValueError("the hashing pool needs at least 1 thread and a queue size >= 0")
        if not 0 <= shed_delay <= retry_after:
            raise ValueError("the shed delay must be between 0 and the Retry-After")
        self.retry_after = retry_after
        self.shed_delay = shed_delay
        self.max_held = max_held
        self._sleep = sleep
        #: Refusals waiting out their pause right now (touched only on the event loop).
        self.held = 0
        #: Which requests need no password, and how many hashes may run at once meanwhile;
        #: whoever serves requests calls its ``begin_request`` and ``end_request``.
        self.reserve = CoreReserve(self.size, enabled=reserve_core)
        self._executor = ThreadPoolExecutor(
            self.size, thread_name_prefix="idgate-hash", initializer=_lower_priority
        )
        # Counted until the thread is done with the task, even if its caller gave up waiting:
        # a cancelled request must not free a slot that a hash is still using.
        self._lock = threading.Lock()
        self._pending = 0
        #: How many requests were shed since start (for metrics and tests).
        self.shed = 0

    @property
    def pending(self) -> int:
        """Hashes running or waiting right now."""
        return self._pending

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in the pool and return its result.

        Raises :class:`Unavailable` at once when ``size + queue_size`` tasks are already pending.
        """
        self.reserve.hashing()
        with self._lock:
            if self._pending >= self.size + self.queue_size:
                raise self._shed()
            self._pending += 1
        try:
            future = self._executor.submit(self.reserve.run, lambda: fn(*args, **kwargs))
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    async def hold(self) -> None:
        """Wait ``shed_delay`` before a refusal from :meth:`refusal` is answered, unless
        ``max_held`` already wait.

        Only for requests that hold nothing (no pooled connection, transaction or lock): the
        caller answers its refusal when this returns. :meth:`run` never pauses, since its
        caller may hold a transaction.
        """
        if self.shed_delay <= 0 or self.held >= self.max_held:
            return
        self.held += 1
        try:
            await self._sleep(self.shed_delay)
        finally:
            self.held -= 1

    def refusal(self) -> Unavailable | None:
        """Return the :class:`Unavailable` a hash asked for now would get (counted as shed), or
        None if it would be accepted.

        A login asks this before any other work, so that a request the pool would refuse costs
        no database read or write first: during a login flood most requests are shed, and what
        each one costs is taken from every other request of the event loop
        (docs/benchmarks.md). Such a caller then waits out :meth:`hold` and raises the refusal.
        A request accepted here can still be shed by :meth:`run`, at once.
        """
        self.reserve.hashing()
        with self._lock:
            if self._pending >= self.size + self.queue_size:
                return self._shed()
        return None

    def _shed(self) -> Unavailable:
        self.shed += 1
        return Unavailable(
            self.retry_after, "The server is busy checking passwords. Try again shortly."
        )

    def start(self, fn: Callable[[], object]) -> None:
        """Start ``fn`` on a hashing thread without waiting for it (start-up warm-up work).

        It is not counted against the queue; it is dropped if the pool shuts down first.
        """
        self._executor.submit(fn)

    def _release(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    """Make the calling pool thread nicer (on Linux a thread id names that one thread)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted: run as is
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASHING_NICENESS))
