"""Time, injectable: every expiry decision in idgate asks a :class:`Clock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The source of the current time. Tests pass a :class:`FixedClock` and move it."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to.

    >>> clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(seconds=60)
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, *, seconds: float = 0) -> None:
        self._now += (delta or timedelta()) + timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self._now = moment


def to_timestamp(moment: datetime) -> int:
    """Return whole seconds since the epoch, as JWT NumericDate claims carry them."""
    return int(moment.timestamp())
