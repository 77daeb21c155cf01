"""Rate-limit rules and their enforcement, on the in-process limiter and the in-memory store."""

from __future__ import annotations

import pytest

from idgate.core.audit import AuditEventType
from idgate.core.clock import FixedClock
from idgate.core.errors import RateLimited
from idgate.core.models import RequestOrigin
from idgate.core.ratelimit import DEFAULT_LIMITS, RateLimits, Rule, parse_limits, parse_rules
from idgate.store.memory import MemoryStore, MemoryUnitOfWork
from idgate.store.ratelimit import memory_rate_limiter

ALICE_IP = RequestOrigin(ip="198.51.100.1")
BOB_IP = RequestOrigin(ip="198.51.100.2")


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("10/minute", (Rule(10, 60),)),
        ("10/minute;100/hour", (Rule(10, 60), Rule(100, 3600))),
        ("5 per 15 minutes", (Rule(5, 900),)),
        ("5/15minutes", (Rule(5, 900),)),
        ("1/second; 2/day", (Rule(1, 1), Rule(2, 86400))),
        ("3/Hours", (Rule(3, 3600),)),
        ("off", ()),
        ("", ()),
    ],
)
def test_parse_rules(text: str, rules: tuple[Rule, ...]) -> None:
    assert parse_rules(text) == rules


@pytest.mark.parametrize("text", ["ten/minute", "10", "10/fortnight", "0/minute", "5/0minutes"])
def test_unreadable_rules_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_rules(text)


def test_overrides_replace_defaults_and_are_checked() -> None:
    limits = parse_limits({"login.ip": "20/minute", "register.global": "off"})
    assert limits["login.ip"] == (Rule(20, 60),)
    assert limits["register.global"] == ()
    assert limits["register.ip"] == parse_rules(DEFAULT_LIMITS["register.ip"])
    with pytest.raises(ValueError, match="scope"):
        parse_limits({"login.everyone": "1/minute"})
    with pytest.raises(ValueError, match="scope"):
        parse_limits({"login": "1/minute"})


def test_the_defaults_follow_the_security_bar() -> None:
    # SECURITY.md §3: login 10/min and 100/h per IP, register 5/h; AK-04: each key is limited.
    limits = parse_limits({})
    assert limits["login.ip"] == (Rule(10, 60), Rule(100, 3600))
    assert limits["register.ip"] == (Rule(5, 3600),)
    assert limits["api_key.account"] == (Rule(1200, 60),)


def make_limits(**overrides: str) -> RateLimits:
    return RateLimits(memory_rate_limiter(), parse_limits(overrides), FixedClock())


async def test_per_ip_limit_counts_each_address_separately() -> None:
    limits = make_limits(**{"login.ip": "3/minute"})
    uow = MemoryUnitOfWork(MemoryStore())
    for _ in range(3):
        quota = await limits.enforce(uow, "login", ALICE_IP)
    assert quota is not None and quota.remaining == 0 and quota.rule == Rule(3, 60)
    with pytest.raises(RateLimited) as refused:
        await limits.enforce(uow, "login", ALICE_IP)
    assert 1 <= refused.value.retry_after <= 60
    assert (refused.value.limit, refused.value.window) == (3, 60)
    assert await limits.enforce(uow, "login", BOB_IP) is not None


async def test_global_limit_counts_every_client_together() -> None:
    limits = make_limits(**{"login.global": "2/minute", "login.ip": "off"})
    uow = MemoryUnitOfWork(MemoryStore())
    await limits.enforce(uow, "login", ALICE_IP)
    await limits.enforce(uow, "login", BOB_IP)
    with pytest.raises(RateLimited):
        await limits.enforce(uow, "login", RequestOrigin(ip="203.0.113.9"))


async def test_account_limit_applies_only_with_an_account() -> None:
    limits = make_limits(**{"refresh.account": "1/minute"})
    uow = MemoryUnitOfWork(MemoryStore())
    assert await limits.enforce(uow, "refresh", ALICE_IP, scopes=("account",)) is None
    await limits.enforce(uow, "refresh", ALICE_IP, scopes=("account",), account="alice")
    with pytest.raises(RateLimited):
        # The same account from another address: still the same count.
        await limits.enforce(uow, "refresh", BOB_IP, scopes=("account",), account="alice")
    await limits.enforce(uow, "refresh", ALICE_IP, scopes=("account",), account="bob")


async def test_the_first_refusal_of_a_window_is_audited_once() -> None:
    store = MemoryStore()
    limits = make_limits(**{"register.ip": "1/hour"})
    await limits.enforce(MemoryUnitOfWork(store), "register", ALICE_IP)
    for _ in range(5):
        uow = MemoryUnitOfWork(store)
        with pytest.raises(RateLimited):
            await limits.enforce(uow, "register", ALICE_IP)
        await uow.commit()
    events = [e for e in store.audit if e.type == AuditEventType.RATE_LIMITED]
    assert len(events) == 1
    event = events[0]
    assert event.ip == ALICE_IP.ip and event.reason == "register.ip"
    assert event.details == {"endpoint": "register", "scope": "ip", "limit": "1/3600s"}


async def test_unknown_endpoints_fail_closed() -> None:
    limits = make_limits()
    with pytest.raises(ValueError, match="no rate limits"):
        await limits.enforce(MemoryUnitOfWork(MemoryStore()), "logn", ALICE_IP)


async def test_disabled_limits_count_nothing() -> None:
    limits = RateLimits(
        memory_rate_limiter(), parse_limits({"login.ip": "1/hour"}), FixedClock(), enabled=False
    )
    uow = MemoryUnitOfWork(MemoryStore())
    for _ in range(3):
        assert await limits.enforce(uow, "login", ALICE_IP) is None
