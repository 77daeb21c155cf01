"""The hashing pool: off the event loop, bounded, shedding load with a fast 503."""

from __future__ import annotations

import asyncio
import threading

import pytest

from idgate.core.errors import Unavailable
from idgate.core.passwords.pool import HashingPool
from tests.helpers import wait_until


def test_default_sizes() -> None:
    pool = HashingPool(3)
    try:
        assert (pool.size, pool.queue_size) == (3, 24)
    finally:
        pool.shutdown()
    with pytest.raises(ValueError):
        HashingPool(1, queue_size=-1)


async def test_work_runs_in_a_pool_thread() -> None:
    pool = HashingPool(2)
    try:
        name = await pool.run(lambda: threading.current_thread().name)
        assert name.startswith("idgate-hash")
    finally:
        pool.shutdown()


async def test_a_full_queue_sheds_at_once_and_recovers() -> None:
    pool = HashingPool(1, queue_size=1, retry_after=2)
    release = threading.Event()
    try:
        running = asyncio.ensure_future(pool.run(release.wait))
        waiting = asyncio.ensure_future(pool.run(release.wait))
        await wait_until(lambda: pool.pending == 2)
        with pytest.raises(Unavailable) as shed:
            await pool.run(lambda: None)
        assert shed.value.retry_after == 2 and pool.shed == 1
        release.set()
        assert await running and await waiting
        await wait_until(lambda: pool.pending == 0)
        assert await pool.run(lambda: 42) == 42
    finally:
        release.set()
        pool.shutdown()


async def test_a_cancelled_caller_keeps_its_slot_until_the_thread_is_done() -> None:
    pool = HashingPool(1, queue_size=0)
    release = threading.Event()
    try:
        task = asyncio.ensure_future(pool.run(release.wait))
        await wait_until(lambda: pool.pending == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The hash is still running in its thread: the slot is still taken.
        assert pool.pending == 1
        with pytest.raises(Unavailable):
            await pool.run(lambda: None)
        release.set()
        await wait_until(lambda: pool.pending == 0)
    finally:
        release.set()
        pool.shutdown()
