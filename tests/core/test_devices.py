"""Device tokens: bound to one account, unforgeable, expiring."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from idgate.core.clock import FixedClock
from idgate.core.devices import DeviceTokens

SECRET = b"k" * 32
ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def test_a_token_is_valid_for_its_account_only() -> None:
    tokens = DeviceTokens(SECRET, FixedClock())
    issued = tokens.issue(ALICE)
    assert tokens.verify(issued.token, ALICE) == issued.device_id
    assert tokens.verify(issued.token, BOB) is None
    assert tokens.verify(issued.token, None) is None
    assert str(ALICE) not in issued.token and ALICE.hex not in issued.token
    assert issued.max_age == 180 * 86400


def test_every_token_is_new() -> None:
    tokens = DeviceTokens(SECRET, FixedClock())
    assert len({tokens.issue(ALICE).device_id for _ in range(50)}) == 50


def test_tokens_expire() -> None:
    clock = FixedClock()
    tokens = DeviceTokens(SECRET, clock, ttl=timedelta(days=1))
    issued = tokens.issue(ALICE)
    clock.advance(timedelta(hours=23))
    assert tokens.verify(issued.token, ALICE) is not None
    clock.advance(timedelta(hours=1))
    assert tokens.verify(issued.token, ALICE) is None


def test_another_key_or_a_changed_field_breaks_the_token() -> None:
    clock = FixedClock()
    token = DeviceTokens(SECRET, clock).issue(ALICE).token
    assert DeviceTokens(b"x" * 32, clock).verify(token, ALICE) is None
    version, device, expires, mac = token.split(".")
    tokens = DeviceTokens(SECRET, clock)
    assert tokens.verify(f"{version}.{device}.{int(expires) + 86400}.{mac}", ALICE) is None
    other = tokens.issue(ALICE).token.split(".")[1]
    assert tokens.verify(f"{version}.{other}.{expires}.{mac}", ALICE) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "d1", "d1...", "d2.AAAAAAAAAAAAAAAAAAAAAA.1.x", "d1.!!.1.x", "d1.AA.x.y", "x" * 5000],
)
def test_garbage_is_simply_not_a_device_token(garbage: str) -> None:
    assert DeviceTokens(SECRET, FixedClock()).verify(garbage, ALICE) is None


def test_the_secret_must_be_long_enough() -> None:
    with pytest.raises(ValueError):
        DeviceTokens(b"short", FixedClock())
