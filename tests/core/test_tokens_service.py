"""TokenService on the in-memory store: rotation, reuse detection, expiry, binding, revocation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from idgate.core.audit import AuditEventType, Outcome
from idgate.core.clock import FixedClock
from idgate.core.errors import InvalidClientId, InvalidGrant, InvalidToken
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.tokens.access import MAX_LEEWAY, AccessTokens
from idgate.core.tokens.keys import KeySet, StaticKeyProvider, new_signing_key
from idgate.core.tokens.refresh import RefreshPolicy, hash_refresh_token
from idgate.core.tokens.service import TokenPair, TokenService
from idgate.store.memory import MemoryStore, MemoryUnitOfWork
from idgate.store.uow import run_in_unit_of_work

T = TypeVar("T")
ORIGIN = RequestOrigin(ip="198.51.100.1", user_agent="pytest", request_id="r1")
POLICY = RefreshPolicy(
    idle=timedelta(hours=1), absolute=timedelta(hours=3), reuse_grace=timedelta(seconds=10)
)


class World:
    def __init__(self, policy: RefreshPolicy = POLICY) -> None:
        self.clock = FixedClock()
        self.store = MemoryStore()
        key = new_signing_key("EdDSA", self.clock.now())
        self.access = AccessTokens(
            StaticKeyProvider(KeySet([key], key.kid)),
            issuer="https://id.example.test",
            audience="api",
            ttl=timedelta(minutes=15),
            clock=self.clock,
        )
        self.tokens = TokenService(self.access, policy, self.clock)
        self.user = User(
            id=uuid.uuid4(), username="alice", password_hash="h", created_at=self.clock.now()
        )
        self.store.users[self.user.id] = self.user
        self.store.canonical["alice"] = self.user.id

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await run_in_unit_of_work(lambda: MemoryUnitOfWork(self.store), work)

    async def login(self, client_id: str | None = None) -> TokenPair:
        return await self.run(
            lambda uow: self.tokens.issue(uow, self.user, ORIGIN, client_id=client_id)
        )

    async def refresh(self, token: str, client_id: str | None = None) -> TokenPair:
        return await self.run(
            lambda uow: self.tokens.refresh(uow, token, ORIGIN, client_id=client_id)
        )

    async def access_ok(self, pair: TokenPair) -> bool:
        async def check(uow: UnitOfWork) -> None:
            await self.tokens.authenticate(uow, pair.access.token)

        try:
            await self.run(check)
        except InvalidToken:
            return False
        return True

    def events(self, kind: AuditEventType) -> list[str | None]:
        return [e.reason for e in self.store.audit if e.type == kind]


async def test_a_login_starts_a_family_bound_to_user_and_client() -> None:
    world = World()
    pair = await world.login()
    assert len(pair.refresh_token) >= 43  # 32 random bytes, base64url
    assert pair.refresh_token.count(".") == 0  # opaque, not a JWT
    (family,) = world.store.families.values()
    assert family.user_id == world.user.id and family.client_id == "idgate"
    assert family.expires_at == world.clock.now() + POLICY.absolute
    (stored,) = world.store.refresh_tokens.values()
    assert stored.token_hash == hash_refresh_token(pair.refresh_token)
    assert pair.refresh_token not in repr(world.store)  # only the hash is kept (RT-01)
    claims = world.access.verify(pair.access.token)
    assert claims.session_id == str(family.id) and claims.client_id == "idgate"
    assert pair.refresh_expires_in == int(POLICY.idle.total_seconds())
    assert world.events(AuditEventType.TOKEN_ISSUED) == [None]


async def test_every_refresh_rotates() -> None:
    world = World()
    first = await world.login()
    world.clock.advance(seconds=60)
    second = await world.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access.jti != first.access.jti
    assert second.family_id == first.family_id
    world.clock.advance(seconds=60)
    third = await world.refresh(second.refresh_token)
    assert third.family_id == first.family_id
    assert world.events(AuditEventType.TOKEN_REFRESHED) == [None, None]


async def test_reuse_after_the_grace_revokes_the_family_and_its_access_tokens() -> None:
    world = World()
    first = await world.login()
    second = await world.refresh(first.refresh_token)
    world.clock.advance(seconds=11)
    with pytest.raises(InvalidGrant, match="already used"):
        await world.refresh(first.refresh_token)
    # The thief's (or the victim's) newer token is dead too, and so are the access tokens.
    with pytest.raises(InvalidGrant, match="revoked"):
        await world.refresh(second.refresh_token)
    assert not await world.access_ok(first)
    assert not await world.access_ok(second)
    (family,) = world.store.families.values()
    assert family.revoked_reason == "reuse_detected"
    (event,) = [e for e in world.store.audit if e.type == AuditEventType.REFRESH_REUSE_DETECTED]
    assert event.outcome == Outcome.FAILURE and event.subject_id == world.user.id
    assert event.details == {"client_id": "idgate", "sid": str(family.id)}
    # Deny-list entries outlive the token by the largest leeway.
    assert world.store.revoked[(world.access.issuer, second.access.jti)] == (
        second.access.expires_at + MAX_LEEWAY
    )


async def test_a_second_use_within_the_grace_is_a_lost_race_not_reuse() -> None:
    world = World()
    first = await world.login()
    second = await world.refresh(first.refresh_token)
    world.clock.advance(seconds=9)
    with pytest.raises(InvalidGrant, match="just used"):
        await world.refresh(first.refresh_token)
    assert await world.access_ok(second)
    assert (await world.refresh(second.refresh_token)).family_id == first.family_id
    assert world.events(AuditEventType.REFRESH_RACE_LOST) == ["already_rotated"]


async def test_without_a_grace_every_second_use_is_reuse() -> None:
    world = World(RefreshPolicy(reuse_grace=timedelta(0)))
    first = await world.login()
    second = await world.refresh(first.refresh_token)
    with pytest.raises(InvalidGrant, match="already used"):
        await world.refresh(first.refresh_token)
    assert not await world.access_ok(second)


async def test_idle_expiry() -> None:
    world = World()
    pair = await world.login()
    world.clock.advance(POLICY.idle - timedelta(seconds=1))
    pair = await world.refresh(pair.refresh_token)  # activity resets the idle clock
    world.clock.advance(POLICY.idle)
    with pytest.raises(InvalidGrant, match="expired"):
        await world.refresh(pair.refresh_token)
    assert world.events(AuditEventType.REFRESH_FAILED) == ["expired"]


async def test_absolute_expiry_despite_activity() -> None:
    world = World()
    pair = await world.login()
    for _ in range(3):
        world.clock.advance(timedelta(minutes=50))
        pair = await world.refresh(pair.refresh_token)
    # The last token's idle expiry is capped by the family's absolute one.
    (family,) = world.store.families.values()
    assert pair.refresh_expires_at == family.expires_at
    world.clock.set(family.expires_at)
    with pytest.raises(InvalidGrant, match="expired"):
        await world.refresh(pair.refresh_token)


async def test_bound_to_the_client() -> None:
    world = World()
    pair = await world.login(client_id="mobile-app")
    with pytest.raises(InvalidGrant, match="another client"):
        await world.refresh(pair.refresh_token)
    with pytest.raises(InvalidGrant, match="another client"):
        await world.refresh(pair.refresh_token, client_id="web")
    # Refusing the wrong client did not consume the token.
    assert (await world.refresh(pair.refresh_token, client_id="mobile-app")).client_id == (
        "mobile-app"
    )
    with pytest.raises(InvalidClientId):
        await world.login(client_id="no spaces allowed")


@pytest.mark.parametrize("presented", ["", "x", "x" * 600, "a.b.c"])
async def test_unknown_or_malformed_tokens(presented: str) -> None:
    world = World()
    await world.login()
    with pytest.raises(InvalidGrant):
        await world.refresh(presented)
    assert world.events(AuditEventType.REFRESH_FAILED) in (["unknown"], ["malformed"])


async def test_an_access_token_is_not_a_refresh_token() -> None:
    world = World()
    pair = await world.login()
    with pytest.raises(InvalidGrant):
        await world.refresh(pair.access.token)


async def test_disabled_users_and_revoked_before() -> None:
    world = World()
    pair = await world.login()
    world.store.users[world.user.id].disabled = True
    with pytest.raises(InvalidGrant):
        await world.refresh(pair.refresh_token)
    world.store.users[world.user.id].disabled = False
    # A family created before the account's revoked-before instant is dead.
    world.store.users[world.user.id].revoked_before = world.clock.now() + timedelta(seconds=1)
    with pytest.raises(InvalidGrant, match="revoked"):
        await world.refresh(pair.refresh_token)
    assert world.events(AuditEventType.REFRESH_FAILED) == ["account_inactive", "revoked"]


async def test_logout_ends_the_family_and_the_access_token() -> None:
    world = World()
    pair = await world.login()
    other = await world.login()
    claims = world.access.verify(pair.access.token)
    await world.run(lambda uow: world.tokens.logout(uow, ORIGIN, user=world.user, claims=claims))
    assert not await world.access_ok(pair)
    with pytest.raises(InvalidGrant, match="revoked"):
        await world.refresh(pair.refresh_token)
    # Another session of the same user lives on.
    assert await world.access_ok(other)
    assert (await world.refresh(other.refresh_token)).family_id == other.family_id


async def test_logout_with_a_refresh_token_only() -> None:
    world = World()
    pair = await world.login(client_id="cli")
    with pytest.raises(InvalidGrant, match="not issued to this client"):
        await world.run(
            lambda uow: world.tokens.logout(uow, ORIGIN, refresh_token=pair.refresh_token)
        )
    assert await world.access_ok(pair)  # a refused logout revoked nothing
    await world.run(
        lambda uow: world.tokens.logout(
            uow, ORIGIN, refresh_token=pair.refresh_token, client_id="cli"
        )
    )
    assert not await world.access_ok(pair)
    # An unknown refresh token is not an error: there is nothing to end.
    await world.run(lambda uow: world.tokens.logout(uow, ORIGIN, refresh_token="unknown"))


async def test_revoke_user_ends_every_family() -> None:
    world = World()
    pairs = [await world.login(), await world.login(client_id="b")]

    async def revoke(uow: UnitOfWork) -> None:
        await world.tokens.revoke_user(uow, world.user, ORIGIN, reason="logout_all")

    await world.run(revoke)
    for pair in pairs:
        assert not await world.access_ok(pair)
        with pytest.raises(InvalidGrant):
            await world.refresh(pair.refresh_token, client_id=pair.client_id)
    assert world.store.users[world.user.id].revoked_before == world.clock.now().replace(
        microsecond=0
    )
    assert world.events(AuditEventType.TOKENS_REVOKED) == ["logout_all"]
    # A login after the revocation works, even within the same second.
    assert await world.access_ok(await world.login())


def test_policy_bounds() -> None:
    with pytest.raises(ValueError, match="exceed"):
        RefreshPolicy(idle=timedelta(days=2), absolute=timedelta(days=1))
    with pytest.raises(ValueError, match="positive"):
        RefreshPolicy(idle=timedelta(0))
    with pytest.raises(ValueError, match="grace"):
        RefreshPolicy(reuse_grace=timedelta(minutes=5))
