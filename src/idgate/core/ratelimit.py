"""Rate limits per client IP, per account and per endpoint, over a :class:`RateLimiter` port.

A limit is written like ``"10/minute;100/hour"``: every rule must hold. Each endpoint has rules
per *scope*:

* ``ip``: the client address (the one a trusted proxy reported, see ``web.origin``);
* ``account``: the account (or OAuth client) the request names or acts for;
* ``global``: every client together, the endpoint's ceiling.

:data:`DEFAULT_LIMITS` holds the defaults (SECURITY.md §3 "Per-IP limits"); ``IDGATE_RATE_LIMITS``
overrides any of them. An endpoint enforces its limits *before* any password is hashed, so a
refused request costs a counter increment and nothing else (ASVS 2.4.1, SECURITY.md LG-05).

Adding limits to a new endpoint takes one name in :data:`DEFAULT_LIMITS` and one line in its
router (``dependencies=[rate_limit("my_endpoint")]``, see ``idgate.web.ratelimit``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import RateLimited
from idgate.core.models import RequestOrigin
from idgate.core.ports import UnitOfWork

SCOPES = ("global", "ip", "account")

#: ``"<endpoint>.<scope>": "<rules>"``. Per-IP numbers follow SECURITY.md §3; global ceilings and
#: per-account limits are engineering choices, documented in docs/rate-limits.md.
DEFAULT_LIMITS: dict[str, str] = {
    "login.ip": "10/minute;100/hour",
    "login.global": "1200/minute",
    "register.ip": "5/hour",
    "register.global": "300/minute",
    "password_change.ip": "10/minute",
    "password_change.account": "5/15minutes",
    "refresh.ip": "60/minute",
    "refresh.account": "30/minute",
    # Every request made with one API key (the account scope is the key), SECURITY.md AK-04.
    "api_key.account": "1200/minute",
    "social_login.ip": "30/minute;300/hour",
    "social_login.global": "1200/minute",
    "account_token.ip": "30/minute",
    "account_token.account": "10/minute",
    # POST /introspect, per client address and per calling service (SECURITY.md OP-15).
    "introspect.ip": "1200/minute",
    "introspect.account": "1200/minute",
}

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RULE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d*)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_DISABLED = {"", "off", "none", "0"}


@dataclass(frozen=True)
class Rule:
    """At most ``amount`` requests in any ``seconds``-long moving window."""

    amount: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.amount}/{self.seconds}s"


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse ``"10/minute;100/hour"`` (also ``"5 per 15 minutes"``); ``"off"`` gives no rule.

    Raises ``ValueError`` naming the part it cannot read.
    """
    if text.strip().lower() in _DISABLED:
        return ()
    rules = []
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        match = _RULE.match(part)
        if not match:
            raise ValueError(
                f"cannot read the rate limit {part.strip()!r}: write it like '10/minute', "
                "'100/hour' or '5/15minutes'"
            )
        amount, multiple, unit = int(match[1]), int(match[2] or 1), match[3].lower()
        if amount < 1 or multiple < 1:
            raise ValueError(f"the rate limit {part.strip()!r} must allow at least 1 request")
        rules.append(Rule(amount, multiple * _UNITS[unit]))
    return tuple(rules)


def parse_limits(overrides: Mapping[str, str]) -> dict[str, tuple[Rule, ...]]:
    """Return :data:`DEFAULT_LIMITS` with ``overrides`` applied, parsed; ``ValueError`` if bad."""
    merged = dict(DEFAULT_LIMITS)
    for name, value in overrides.items():
        endpoint, _, scope = name.partition(".")
        if not endpoint or scope not in SCOPES:
            raise ValueError(
                f"rate limit name {name!r} must be '<endpoint>.<scope>' with scope one of "
                + ", ".join(SCOPES)
            )
        merged[name] = value
    return {name: parse_rules(value) for name, value in merged.items()}


@dataclass(frozen=True)
class Verdict:
    """What the limiter said about one hit of one rule."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the window has room again (0 when it has room now).
    reset_after: float


class RateLimiter(Protocol):
    """Counts hits per key in moving windows. ``idgate.store.ratelimit`` implements it on the
    ``limits`` library, in process memory or in Redis (shared by every instance).

    Example of a (single-process, unbounded) implementation::

        class ListLimiter:
            def __init__(self, clock): self.hits, self.clock = defaultdict(list), clock
            async def hit(self, rule, key):
                now = self.clock.now().timestamp()
                recent = [t for t in self.hits[key] if t > now - rule.seconds]
                allowed = len(recent) < rule.amount
                self.hits[key] = recent + [now] * allowed
                ...
    """

    async def hit(self, rule: Rule, key: str) -> Verdict:
        """Count one request for ``key`` under ``rule`` if the window has room; say whether."""
        ...

    async def clear(self, rule: Rule, key: str) -> None:
        """Forget every hit of ``key`` under ``rule``."""
        ...


@dataclass(frozen=True)
class Quota:
    """The tightest rule an allowed request passed: for ``RateLimit-*`` response headers."""

    rule: Rule
    remaining: int
    reset_after: float


def _digest(value: str) -> str:
    # Keys name accounts and addresses; the store only needs them distinct, not readable.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimits:
    """Enforces the per-endpoint rules; records the first refusal of each window in the audit log.

    ``limits`` maps ``"<endpoint>.<scope>"`` to its rules (see :func:`parse_limits`).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        limits: Mapping[str, tuple[Rule, ...]],
        clock: Clock,
        *,
        enabled: bool = True,
    ) -> None:
        self.limiter = limiter
        self.limits = dict(limits)
        self.clock = clock
        self.enabled = enabled
        self.endpoints = frozenset(name.partition(".")[0] for name in self.limits)

    def rules(self, endpoint: str, scope: str) -> tuple[Rule, ...]:
        """Return the rules of ``endpoint`` for ``scope`` (empty when that scope is unlimited)."""
        if endpoint not in self.endpoints:
            # A typo in a router must not silently leave an endpoint unlimited: fail closed.
            raise ValueError(f"no rate limits are defined for the endpoint {endpoint!r}")
        return self.limits.get(f"{endpoint}.{scope}", ())

    async def enforce(
        self,
        uow: UnitOfWork,
        endpoint: str,
        origin: RequestOrigin,
        *,
        scopes: Iterable[str] = ("global", "ip"),
        account: str | None = None,
    ) -> Quota | None:
        """Count this request against ``endpoint``'s rules for ``scopes``.

        Raises :class:`RateLimited` (429, with ``retry_after``) as soon as one rule is exhausted;
        otherwise returns the tightest quota left, or None when nothing limits the request.
        The ``account`` scope applies only when ``account`` is given.
        """
        if not self.enabled:
            return None
        subjects = {"global": "*", "ip": origin.ip or "unknown", "account": account}
        tightest: Quota | None = None
        for scope in scopes:
            subject = subjects.get(scope)
            rules = self.rules(endpoint, scope)
            if subject is None or not rules:
                continue
            key = f"{endpoint}:{scope}:{_digest(subject)}"
            for rule in rules:
                verdict = await self.limiter.hit(rule, key)
                if not verdict.allowed:
                    retry_after = max(1, math.ceil(verdict.reset_after))
                    await self._record(uow, endpoint, scope, rule, key, origin, account)
                    raise RateLimited(
                        retry_after,
                        limit=rule.amount,
                        window=rule.seconds,
                    )
                if tightest is None or verdict.remaining < tightest.remaining:
                    tightest = Quota(rule, verdict.remaining, verdict.reset_after)
        return tightest

    async def _record(
        self,
        uow: UnitOfWork,
        endpoint: str,
        scope: str,
        rule: Rule,
        key: str,
        origin: RequestOrigin,
        account: str | None,
    ) -> None:
        # One audit event per exhausted window, not per refused request: a flood of refusals must
        # not turn into a flood of database writes.
        notice = await self.limiter.hit(Rule(1, rule.seconds), f"notice:{key}:{rule}")
        if not notice.allowed:
            return
        details: dict[str, str] = {"endpoint": endpoint, "scope": scope, "limit": str(rule)}
        if scope == "account" and account is not None:
            details["account"] = account
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.RATE_LIMITED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                reason=f"{endpoint}.{scope}",
                details=details,
            )
        )
