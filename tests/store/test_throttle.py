"""Throttle stores: atomic read-modify-write, in memory and in Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from idgate.core.clock import FixedClock
from idgate.core.errors import LoginThrottled, Unavailable
from idgate.core.throttle import (
    Admission,
    LoginGuard,
    ThrottleSchedule,
    ThrottleState,
    ThrottleStore,
)
from idgate.store.redis import create_redis
from idgate.store.redis_throttle import RedisThrottleStore
from idgate.store.throttle import MemoryThrottleStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThrottleStore]:
    if request.param == "memory":
        yield MemoryThrottleStore()
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    client = create_redis(url)
    try:
        yield RedisThrottleStore(client, prefix + "throttle:")
    finally:
        await client.aclose()


def bump(state: ThrottleState | None) -> tuple[ThrottleState | None, int]:
    failures = (state.failures if state else 0) + 1
    return ThrottleState(failures, 0.0, 2e9, 1.5), failures


async def test_update_reads_and_writes_one_state(store: ThrottleStore) -> None:
    assert await store.update("a", bump, 0.0) == 1
    assert await store.update("a", bump, 0.0) == 2
    seen: list[ThrottleState | None] = []

    def peek(state: ThrottleState | None) -> tuple[ThrottleState | None, None]:
        seen.append(state)
        return None, None

    await store.update("a", peek, 0.0)
    assert seen == [ThrottleState(2, 0.0, 2e9, 1.5)]
    await store.clear("a")
    await store.update("a", peek, 0.0)
    assert seen[-1] is None


async def test_concurrent_updates_lose_nothing(store: ThrottleStore) -> None:
    results = await asyncio.gather(*(store.update("c", bump, 0.0) for _ in range(25)))
    assert sorted(results) == list(range(1, 26))


async def test_the_guard_on_this_store(store: ThrottleStore) -> None:
    clock = FixedClock()
    guard = LoginGuard(store, clock, ThrottleSchedule(free_failures=3))
    key = LoginGuard.account_key("alice")
    results: list[Any] = await asyncio.gather(
        *(guard.admit(key) for _ in range(10)), return_exceptions=True
    )
    assert sum(isinstance(r, Admission) for r in results) == 3
    assert sum(isinstance(r, LoginThrottled) for r in results) == 7
    clock.advance(seconds=1)
    await guard.succeeded(await guard.admit(key))
    assert (await guard.admit(key)).failures == 1


@pytest.mark.redis
async def test_redis_keys_expire_when_the_state_is_void(redis_url: str, redis_prefix: str) -> None:
    client = create_redis(redis_url)
    try:
        store = RedisThrottleStore(client, redis_prefix)
        now = 1_000_000.0
        await store.update("e", lambda s: (ThrottleState(1, now, now + 120, 0.0), None), now)
        ttl = await client.ttl(redis_prefix + "e")
        assert 0 < ttl <= 120
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_an_unreachable_redis_fails_closed() -> None:
    client = create_redis("redis://127.0.0.1:1/0")
    try:
        store = RedisThrottleStore(client, "x:")
        with pytest.raises(Unavailable):
            await store.update("k", bump, 0.0)
    finally:
        await client.aclose()


async def test_the_memory_store_stays_bounded() -> None:
    store = MemoryThrottleStore(max_entries=100)
    for n in range(250):
        await store.update(f"k{n}", bump, 0.0)
    assert len(store._states) <= 100
    # The most recently updated counters are the ones kept.
    assert await store.update("k249", bump, 0.0) == 2
    assert await store.update("k0", bump, 0.0) == 1
