"""The core reserve: one hash fewer at once while requests that need no password are served."""

from __future__ import annotations

import asyncio
import threading

import pytest

from idgate.core.passwords.pool import HashingPool
from idgate.core.passwords.reserve import CoreReserve


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def serve(reserve: CoreReserve, *, hashes: bool) -> None:
    """One request, as ``web.middleware`` brackets it."""
    token = reserve.begin_request()
    if hashes:
        CoreReserve.hashing()
    reserve.end_request(token)


def test_a_request_that_needs_no_password_reserves_a_core_for_the_window() -> None:
    clock = Clock()
    reserve = CoreReserve(4, window=0.25, clock=clock)
    assert not reserve.reserved() and reserve.allowed() == 4
    serve(reserve, hashes=True)  # a login: logins alone use every core
    assert reserve.allowed() == 4
    serve(reserve, hashes=False)  # a bearer request
    assert reserve.reserved() and reserve.allowed() == 3
    clock.now += 0.2
    assert reserve.allowed() == 3
    clock.now += 0.1
    assert not reserve.reserved() and reserve.allowed() == 4


@pytest.mark.parametrize(("size", "enabled"), [(1, True), (2, False)])
def test_nothing_is_reserved_with_one_thread_or_when_disabled(size: int, enabled: bool) -> None:
    reserve = CoreReserve(size, enabled=enabled, clock=Clock())
    serve(reserve, hashes=False)
    assert not reserve.reserved() and reserve.allowed() == size


def test_marks_outside_a_request_change_nothing() -> None:
    reserve = CoreReserve(2, clock=Clock())
    CoreReserve.hashing()  # no request in this context: ignored
    assert not reserve.reserved()


def test_run_waits_for_a_thread_while_a_core_is_reserved() -> None:
    clock = Clock()
    reserve = CoreReserve(2, window=1.0, clock=clock)
    serve(reserve, hashes=False)
    first_running, release_first = threading.Event(), threading.Event()
    second_running = threading.Event()

    def first() -> None:
        first_running.set()
        release_first.wait(5)

    a = threading.Thread(target=reserve.run, args=(first,))
    b = threading.Thread(target=reserve.run, args=(second_running.set,))
    a.start()
    assert first_running.wait(5)
    b.start()
    # One of the two threads waits while the core is reserved...
    assert not second_running.wait(0.2)
    # ...and hashes as soon as the reservation ends, though the first still runs.
    clock.now += 2
    assert second_running.wait(5)
    release_first.set()
    a.join(5)
    b.join(5)


def test_run_lets_the_next_hash_start_when_one_ends() -> None:
    reserve = CoreReserve(2, window=60.0, clock=Clock())
    serve(reserve, hashes=False)
    assert reserve.allowed() == 1
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(reserve.run(lambda: n)))
        for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(results) == [0, 1, 2]


async def test_the_pool_marks_its_requests_and_gates_its_threads() -> None:
    pool = HashingPool(2, queue_size=4)
    reserve = pool.reserve
    reserve.window = 60.0
    try:
        token = reserve.begin_request()
        assert await pool.run(lambda: 1) == 1  # a request that hashes
        reserve.end_request(token)
        assert not reserve.reserved()
        token = reserve.begin_request()
        assert pool.refusal() is None  # asking counts as hashing too (a shed login)
        reserve.end_request(token)
        assert not reserve.reserved()
        reserve.end_request(reserve.begin_request())  # a bearer request
        assert reserve.reserved()
        # Reserved: of two hashes submitted at once, one waits for the other.
        gate = threading.Event()
        running: list[int] = []
        lock = threading.Lock()

        def hash_(n: int) -> int:
            with lock:
                running.append(n)
            gate.wait(5)
            return n

        tasks = [asyncio.ensure_future(pool.run(hash_, n)) for n in range(2)]
        await asyncio.sleep(0.2)
        assert len(running) == 1 and pool.pending == 2
        gate.set()
        assert sorted(await asyncio.gather(*tasks)) == [0, 1]
    finally:
        pool.shutdown()
