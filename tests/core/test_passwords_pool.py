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
        busy = asyncio.ensure_future(pool.run(release.wait, 5))
        await wait_until(lambda: pool.pending == 1)
        refusal = pool.refusal()
        assert isinstance(refusal, Unavailable) and refusal.retry_after == 1
        with pytest.raises(Unavailable):
            await pool.run(release.wait, 5)
        assert pool.shed == 2  # both count as shed
        release.set()
        await busy
        assert pool.refusal() is None
    finally:
        release.set()
        pool.shutdown()


async def test_hold_pauses_a_refusal_for_the_shed_delay() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pool = HashingPool(1, shed_delay=0.25, sleep=sleep)
    try:
        await pool.hold()
        assert slept == [0.25]
        assert pool.held == 0
    finally:
        pool.shutdown()


async def test_no_pause_without_a_shed_delay() -> None:
    async def sleep(seconds: float) -> None:
        raise AssertionError("no pause was asked for")

    pool = HashingPool(1, sleep=sleep)
    try:
        assert pool.shed_delay == 0
        await pool.hold()
    finally:
        pool.shutdown()


async def test_at_most_max_held_refusals_wait_and_the_rest_are_answered_at_once() -> None:
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await gate.wait()

    pool = HashingPool(1, shed_delay=0.5, max_held=3, sleep=sleep)
    try:
        waiting = [asyncio.ensure_future(pool.hold()) for _ in range(3)]
        await wait_until(lambda: pool.held == 3)
        # A fourth finds the pauses full: it returns without waiting for the gate.
        await asyncio.wait_for(pool.hold(), 5)
        assert pool.held == 3
        gate.set()
        await asyncio.gather(*waiting)
        assert pool.held == 0
        # A pause that is cancelled (the client went away) frees its place too.
        gate.clear()
        cancelled = asyncio.ensure_future(pool.hold())
        await wait_until(lambda: pool.held == 1)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert pool.held == 0
    finally:
        pool.shutdown()


def test_the_shed_delay_is_at_most_the_retry_after() -> None:
    with pytest.raises(ValueError):
        HashingPool(1, shed_delay=1.5)
    with pytest.raises(ValueError):
        HashingPool(1, shed_delay=-0.1)
