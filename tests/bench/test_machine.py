"""Waiting for a quiet machine between scenarios: bounded, and done once the CPUs are idle."""

from __future__ import annotations

import pytest

from bench import machine


def test_cpu_times_count_busy_jiffies_within_the_total() -> None:
    busy, total = machine._cpu_times()
    assert 0 < busy <= total


def test_a_quiet_machine_is_not_waited_for_beyond_one_window() -> None:
    # Any load counts as quiet with a threshold above 100%: one window, then done.
    assert machine.wait_quiet(limit=30, busy_below=1.01, window=0.05) < 30


def test_the_wait_is_bounded_when_the_machine_never_goes_quiet() -> None:
    # No load is below 0% busy: the wait ends at its limit instead of looping on.
    assert machine.wait_quiet(limit=0.3, busy_below=0.0, window=0.05) >= 0.3


def test_busy_windows_are_waited_out_until_one_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cumulative (busy, total) jiffies: windows 90% busy, 90% busy, then 10% busy.
    readings = iter([(0, 0), (90, 100), (180, 200), (190, 300), (1000, 400)])
    monkeypatch.setattr(machine, "_cpu_times", lambda: next(readings))
    machine.wait_quiet(limit=30, busy_below=0.25, window=0.01)
    assert next(readings) == (1000, 400)  # stopped at the quiet window, read nothing more
