"""Per-account login throttling with growing delays, and the device-token exemption.

Failed attempts are counted per account (its canonical username, whether or not it exists, so a
throttled unknown name and a throttled real account look alike: SECURITY.md LG-01), independent
of the client address (LG-03). The first ``free_failures`` cost nothing; after that each failure
doubles the wait before the next attempt, from ``base_delay`` up to ``max_delay``; after
``lockout_failures`` consecutive failures attempts wait ``lockout`` (NIST SP 800-63B 5.2.2 caps
consecutive failures at 100). Every wait is bounded, and the count is forgotten after
``forget_after`` without attempts: there is no permanent lock (LG-04).

Attempts are counted *before* the password is checked and the count is cleared on success, so
concurrent guesses cannot slip through while earlier ones are still being hashed.

A client that presents a valid device token for the account (``core.devices``) is charged on the
device's own counter instead, so failures made elsewhere do not throttle it. A device that fails
``device_max_failures`` times loses that privilege until it logs in successfully, so a stolen
device token buys no more than a few extra guesses.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from idgate.core.clock import Clock
from idgate.core.errors import LoginThrottled

R = TypeVar("R")


@dataclass(frozen=True)
class ThrottleState:
    """The stored state of one counter. Times are Unix seconds."""

    failures: int
    #: No attempt is admitted before this instant.
    not_before: float
    #: The state is void from this instant on (the store may drop it then).
    expires_at: float
    #: The refusal of attempts until this instant has been recorded in the audit log.
    noticed_until: float = 0.0


class ThrottleStore(Protocol):
    """Atomic read-modify-write of :class:`ThrottleState` per key.

    ``idgate.store.throttle`` implements it in process memory, and ``idgate.store.redis_throttle``
    in Redis (``WATCH``/``MULTI``), so every instance sees the same counters.
    """

    async def update(
        self,
        key: str,
        decide: Callable[[ThrottleState | None], tuple[ThrottleState | None, R]],
        now: float,
    ) -> R:
        """Read ``key``'s state, call ``decide`` on it and store what it returns, atomically.

        ``decide`` returns ``(new_state, result)``; ``new_state`` None means "leave it as it
        is". ``decide`` may be called more than once if a concurrent writer interferes.
        """
        ...

    async def clear(self, key: str) -> None:
        """Forget ``key``'s state."""
        ...


@dataclass(frozen=True)
class ThrottleSchedule:
    """How long an account (or device) waits after ``failures`` consecutive failures."""

    free_failures: int = 5
    base_delay: float = 1.0
    max_delay: float = 900.0
    lockout_failures: int = 100
    lockout: float = 86400.0
    forget_after: float = 86400.0

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.lockout_failures <= self.free_failures:
            raise ValueError("need 1 <= free_failures < lockout_failures")
        if not 0 < self.base_delay <= self.max_delay or self.lockout < 0:
            raise ValueError("need 0 < base_delay <= max_delay and lockout >= 0")
        if self.forget_after <= 0:
            raise ValueError("forget_after must be positive")

    def delay_after(self, failures: int) -> float:
        """Return the wait, in seconds, before the attempt that follows ``failures`` failures."""
        if failures >= self.lockout_failures:
            return max(self.lockout, self.max_delay)
        if failures < self.free_failures:
            return 0.0
        exponent = min(failures - self.free_failures, 64)
        return float(min(self.base_delay * 2**exponent, self.max_delay))


@dataclass(frozen=True)
class Admission:
    """An attempt the guard let through; report its outcome with :meth:`LoginGuard.succeeded`."""

    key: str
    trusted_device: bool
    #: Failures counted on ``key``, this attempt included.
    failures: int


@dataclass(frozen=True)
class _Outcome:
    admitted: bool
    failures: int = 0
    retry_after: float = 0.0
    first_refusal: bool = False
    exhausted: bool = False


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginGuard:
    """Decides whether a login (or re-authentication) attempt may check a password at all."""

    def __init__(
        self,
        store: ThrottleStore,
        clock: Clock,
        schedule: ThrottleSchedule | None = None,
        *,
        device_max_failures: int = 10,
    ) -> None:
        if device_max_failures < 1:
            raise ValueError("device_max_failures must be at least 1")
        self.store = store
        self.clock = clock
        self.schedule = schedule or ThrottleSchedule()
        self.device_max_failures = device_max_failures

    @staticmethod
    def account_key(canonical_username: str) -> str:
        return "acct:" + _digest(canonical_username)

    @staticmethod
    def device_key(device_id: str) -> str:
        return "dev:" + _digest(device_id)

    async def admit(self, key: str, *, device_id: str | None = None) -> Admission:
        """Count one attempt on ``key`` (or on the trusted device) or refuse it.

        Raises :class:`LoginThrottled` with ``retry_after`` when the wait is not over; its
        ``first_refusal`` is True once per waiting period, for the audit log.
        """
        if device_id is not None:
            device_key = self.device_key(device_id)
            outcome = await self._attempt(device_key, self.device_max_failures)
            if outcome.admitted:
                return Admission(device_key, True, outcome.failures)
            if not outcome.exhausted:
                raise self._refusal(outcome)
            # A device that failed too often is treated like any other client (OWASP).
        outcome = await self._attempt(key, None)
        if not outcome.admitted:
            raise self._refusal(outcome)
        return Admission(key, False, outcome.failures)

    async def succeeded(self, admission: Admission) -> None:
        """The password was right: the counter that was charged starts again from zero."""
        await self.store.clear(admission.key)

    async def refund(self, admission: Admission) -> None:
        """The attempt never reached the password check (the server shed it): uncount it."""
        now = self.clock.now().timestamp()

        def decide(state: ThrottleState | None) -> tuple[ThrottleState | None, None]:
            if state is None or state.failures < 1:
                return None, None
            return replace(state, failures=state.failures - 1), None

        await self.store.update(admission.key, decide, now)

    async def reset(self, key: str) -> None:
        """Forget a counter (an administrator's decision, or a completed password reset)."""
        await self.store.clear(key)

    def _refusal(self, outcome: _Outcome) -> LoginThrottled:
        error = LoginThrottled(math.ceil(outcome.retry_after))
        error.first_refusal = outcome.first_refusal
        return error

    async def _attempt(self, key: str, max_failures: int | None) -> _Outcome:
        now = self.clock.now().timestamp()
        schedule = self.schedule

        def decide(state: ThrottleState | None) -> tuple[ThrottleState | None, _Outcome]:
            if state is not None and state.expires_at <= now:
                state = None
            failures = state.failures if state else 0
            if max_failures is not None and failures >= max_failures:
                return None, _Outcome(False, failures, exhausted=True)
            if state is not None and now < state.not_before:
                first = state.noticed_until < state.not_before
                noticed = replace(state, noticed_until=state.not_before) if first else None
                return noticed, _Outcome(False, failures, state.not_before - now, first)
            failures += 1
            not_before = now + schedule.delay_after(failures)
            new = ThrottleState(
                failures=failures,
                not_before=not_before,
                expires_at=not_before + schedule.forget_after,
                noticed_until=state.noticed_until if state else 0.0,
            )
            return new, _Outcome(True, failures)

        return await self.store.update(key, decide, now)
