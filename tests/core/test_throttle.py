"""The per-account login throttle: growing, bounded delays and the device-token exemption."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from idgate.core.clock import FixedClock
from idgate.core.errors import LoginThrottled
from idgate.core.throttle import Admission, LoginGuard, ThrottleSchedule
from idgate.store.throttle import MemoryThrottleStore

ACCOUNT = LoginGuard.account_key("alice")


def make_guard(clock: FixedClock, **schedule: Any) -> LoginGuard:
    return LoginGuard(
        MemoryThrottleStore(), clock, ThrottleSchedule(**schedule), device_max_failures=3
    )


async def fail(guard: LoginGuard, times: int, key: str = ACCOUNT) -> list[Admission]:
    return [await guard.admit(key) for _ in range(times)]


def test_the_schedule_doubles_to_a_cap_and_locks_for_a_bounded_time() -> None:
    schedule = ThrottleSchedule()
    assert [schedule.delay_after(n) for n in range(1, 5)] == [0, 0, 0, 0]
    assert [schedule.delay_after(n) for n in range(5, 10)] == [1, 2, 4, 8, 16]
    assert schedule.delay_after(15) == 900 and schedule.delay_after(99) == 900
    assert schedule.delay_after(100) == 86400 and schedule.delay_after(10**6) == 86400


@pytest.mark.parametrize(
    "bad",
    [
        {"free_failures": 0},
        {"free_failures": 100, "lockout_failures": 100},
        {"base_delay": 0},
        {"base_delay": 10, "max_delay": 5},
        {"forget_after": 0},
    ],
)
def test_nonsense_schedules_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ThrottleSchedule(**bad)  # type: ignore[arg-type]


async def test_five_free_failures_then_growing_delays() -> None:
    clock = FixedClock()
    guard = make_guard(clock)
    admissions = await fail(guard, 5)
    assert [a.failures for a in admissions] == [1, 2, 3, 4, 5]
    with pytest.raises(LoginThrottled) as refused:
        await guard.admit(ACCOUNT)
    assert refused.value.retry_after == 1
    clock.advance(seconds=1)
    await guard.admit(ACCOUNT)  # the 6th attempt; now 2 s
    clock.advance(seconds=1.5)
    with pytest.raises(LoginThrottled) as refused:
        await guard.admit(ACCOUNT)
    assert refused.value.retry_after == 1
    clock.advance(seconds=0.5)
    await guard.admit(ACCOUNT)
    with pytest.raises(LoginThrottled) as refused:
        await guard.admit(ACCOUNT)
    assert refused.value.retry_after == 4


async def test_refused_attempts_do_not_make_the_wait_longer() -> None:
    clock = FixedClock()
    guard = make_guard(clock)
    await fail(guard, 5)
    for _ in range(50):
        with pytest.raises(LoginThrottled):
            await guard.admit(ACCOUNT)
    clock.advance(seconds=1)
    assert (await guard.admit(ACCOUNT)).failures == 6


async def test_only_the_first_refusal_of_a_wait_is_flagged_for_the_audit_log() -> None:
    clock = FixedClock()
    guard = make_guard(clock)
    await fail(guard, 5)
    flags = []
    for _ in range(3):
        with pytest.raises(LoginThrottled) as refused:
            await guard.admit(ACCOUNT)
        flags.append(refused.value.first_refusal)
    clock.advance(seconds=1)
    await guard.admit(ACCOUNT)
    with pytest.raises(LoginThrottled) as refused:
        await guard.admit(ACCOUNT)
    assert flags == [True, False, False] and refused.value.first_refusal


async def test_success_resets_the_count() -> None:
    clock = FixedClock()
    guard = make_guard(clock)
    await fail(guard, 4)
    await guard.succeeded(await guard.admit(ACCOUNT))
    assert [a.failures for a in await fail(guard, 5)] == [1, 2, 3, 4, 5]


async def test_after_the_lockout_threshold_the_wait_is_long_but_bounded() -> None:
    clock = FixedClock()
    guard = make_guard(
        clock, free_failures=2, lockout_failures=4, max_delay=60, lockout=3600, forget_after=600
    )
    await fail(guard, 2)
    clock.advance(seconds=1)
    await guard.admit(ACCOUNT)
    clock.advance(seconds=2)
    await guard.admit(ACCOUNT)  # the 4th failure: locked for an hour
    with pytest.raises(LoginThrottled) as refused:
        await guard.admit(ACCOUNT)
    assert refused.value.retry_after == 3600
    clock.advance(timedelta(hours=1))
    assert (await guard.admit(ACCOUNT)).failures == 5  # still counting, still bounded


async def test_failures_are_forgotten_after_a_quiet_period() -> None:
    clock = FixedClock()
    guard = make_guard(clock, forget_after=3600)
    await fail(guard, 5)
    clock.advance(seconds=1 + 3600)
    assert (await guard.admit(ACCOUNT)).failures == 1


async def test_concurrent_attempts_are_all_counted() -> None:
    # Attempts are counted before the password is checked: a burst cannot slip past the limit.
    guard = make_guard(FixedClock())
    results = await asyncio.gather(
        *(guard.admit(ACCOUNT) for _ in range(20)), return_exceptions=True
    )
    admitted = [r for r in results if isinstance(r, Admission)]
    assert len(admitted) == 5
    assert all(isinstance(r, LoginThrottled) for r in results if r not in admitted)


async def test_a_trusted_device_is_not_throttled_by_failures_elsewhere() -> None:
    clock = FixedClock()
    guard = make_guard(clock)
    await fail(guard, 5)
    with pytest.raises(LoginThrottled):
        await guard.admit(ACCOUNT)
    admission = await guard.admit(ACCOUNT, device_id="device-1")
    assert admission.trusted_device and admission.key == LoginGuard.device_key("device-1")
    await guard.succeeded(admission)
    # The attacker's failures still stand for everyone else.
    with pytest.raises(LoginThrottled):
        await guard.admit(ACCOUNT)


async def test_a_device_that_fails_too_often_loses_its_exemption() -> None:
    clock = FixedClock()
    guard = make_guard(clock)  # device_max_failures=3
    await fail(guard, 5)
    for _ in range(3):
        assert (await guard.admit(ACCOUNT, device_id="stolen")).trusted_device
    with pytest.raises(LoginThrottled):
        # Exhausted: judged like any client, and the account is throttled.
        await guard.admit(ACCOUNT, device_id="stolen")
    clock.advance(seconds=1)
    admission = await guard.admit(ACCOUNT, device_id="stolen")
    assert not admission.trusted_device and admission.failures == 6
    # Another device of the owner is unaffected.
    assert (await guard.admit(ACCOUNT, device_id="owner")).trusted_device


async def test_a_device_is_throttled_by_its_own_failures() -> None:
    clock = FixedClock()
    guard = LoginGuard(
        MemoryThrottleStore(), clock, ThrottleSchedule(free_failures=2), device_max_failures=10
    )
    await guard.admit(ACCOUNT, device_id="d")
    await guard.admit(ACCOUNT, device_id="d")
    with pytest.raises(LoginThrottled):
        await guard.admit(ACCOUNT, device_id="d")
    # The account itself was never charged.
    assert (await guard.admit(ACCOUNT)).failures == 1


async def test_a_refunded_attempt_does_not_count() -> None:
    guard = make_guard(FixedClock())
    await fail(guard, 3)
    await guard.refund(await guard.admit(ACCOUNT))
    assert (await guard.admit(ACCOUNT)).failures == 4
