"""The hashing pool: work runs off the event loop, in threads nicer than the loop's."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from idgate.core.errors import Unavailable
from idgate.core.passwords.pool import HASHING_NICENESS, HashingPool
from tests.helpers import wait_until


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_hashing_threads_yield_the_cpu_to_the_event_loop() -> None:
    pool = HashingPool(2)
    try:
        loop_thread = threading.get_native_id()
        ran_on = await pool.run(threading.get_native_id)
        assert ran_on != loop_thread
        assert await pool.run(_niceness) == min(19, _niceness() + HASHING_NICENESS)
        assert _niceness() == os.getpriority(os.PRIO_PROCESS, 0)  # the loop is left as it was
    finally:
        pool.shutdown()


async def test_start_runs_work_without_waiting_or_taking_a_slot() -> None:
    pool = HashingPool(1, queue_size=0)
    started = threading.Event()
    release = threading.Event()
    try:

        def warm_up() -> None:
            started.set()
            release.wait(5)

        pool.start(warm_up)
        assert started.wait(5)
        assert pool.pending == 0  # start-up work is not counted against the queue
    finally:
        release.set()
        pool.shutdown()


async def test_refusal_says_what_a_hash_asked_for_now_would_get() -> None:
    pool = HashingPool(1, queue_size=0)
    release = threading.Event()
    try:
        assert pool.refusal() is None
        pool.admit()  # does not raise either
        busy = asyncio.ensure_future(pool.run(release.wait, 5))
        await wait_until(lambda: pool.pending == 1)
        refusal = pool.refusal()
        assert isinstance(refusal, Unavailable) and refusal.retry_after == 1
        with pytest.raises(Unavailable):
            pool.admit()
        assert pool.shed == 2  # both count as shed
        release.set()
        await busy
        assert pool.refusal() is None
    finally:
        release.set()
        pool.shutdown()
