"""Service accounts and API keys on the in-memory store: scopes, expiry, rotation, revocation,
last-used tracking, and one answer (after the same work) for every bad key."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from idgate.core.apikeys import InvalidApiKey, NewApiKey, ServiceAccount, generate_key
from idgate.core.audit import AuditEventType, Outcome
from idgate.core.clock import FixedClock
from idgate.core.errors import Conflict, InvalidInput
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import Authority
from idgate.core.service_accounts import (
    LAST_USED_RESOLUTION,
    MAX_ACTIVE_KEYS_PER_ACCOUNT,
    ScopeNotAllowed,
    ServiceAccountService,
)
from idgate.store.memory import MemoryStore, MemoryUnitOfWork
from idgate.store.uow import run_in_unit_of_work

ORIGIN = RequestOrigin(ip="198.51.100.9", user_agent="pytest", request_id="r")
T = TypeVar("T")


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = FixedClock()
        self.service = ServiceAccountService(self.clock, default_ttl=timedelta(days=90))
        self.store.roles.add("editor")
        self.store.role_permissions |= {("editor", "posts:*"), ("editor", "reports:read")}

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await run_in_unit_of_work(lambda: MemoryUnitOfWork(self.store), work)

    def add_user(self, name: str, *roles: str) -> User:
        user = User(id=uuid.uuid4(), username=name, password_hash="x", created_at=self.clock.now())
        self.store.users[user.id] = user
        self.store.canonical[name] = user.id
        self.store.memberships |= {(user.id, r) for r in ("user", *roles)}
        return user

    async def account(self, owner: User, name: str = "ci") -> ServiceAccount:
        return await self.run(
            lambda uow: self.service.create_account(uow, owner, name, ORIGIN, actor_id=owner.id)
        )

    async def key(self, account: ServiceAccount, *scopes: str, **kwargs: Any) -> NewApiKey:
        return await self.run(
            lambda uow: self.service.create_key(uow, account, ORIGIN, scopes=scopes, **kwargs)
        )

    async def authenticate(self, presented: str) -> Any:
        return await self.run(lambda uow: self.service.authenticate(uow, presented, ORIGIN))


@pytest.fixture
def world() -> World:
    return World()


async def test_create_key_is_shown_once_and_stored_hashed(world: World) -> None:
    alice = world.add_user("alice", "editor")
    account = await world.account(alice)
    new = await world.key(account, "posts:read", name="deploy")
    (stored,) = world.store.api_keys.values()
    assert new.secret.startswith("idg_") and new.secret not in repr(new)
    assert stored.key_hash != new.secret and new.secret not in str(stored)
    assert stored.hint == f"idg_...{new.secret[-4:]}"
    assert stored.expires_at == world.clock.now() + timedelta(days=90)
    verified = await world.authenticate(new.secret)
    assert verified.account.id == account.id and verified.owner.id == alice.id
    assert verified.key.scopes == ("posts:read",)
    assert set(verified.owner_permissions) == {"posts:*", "reports:read"}
    events = [e.type for e in world.store.audit]
    assert events == [AuditEventType.SERVICE_ACCOUNT_CREATED, AuditEventType.API_KEY_CREATED]
    assert all(new.secret not in str(e.details) for e in world.store.audit)


async def test_scopes_cannot_exceed_the_owner_or_the_granter(world: World) -> None:
    alice = world.add_user("alice", "editor")
    account = await world.account(alice)
    with pytest.raises(ScopeNotAllowed, match="admin:users"):
        await world.key(account, "posts:read", "admin:users")
    with pytest.raises(ScopeNotAllowed):
        await world.key(account, "reports:*")  # the owner holds only reports:read
    # A key that may write keys cannot mint one with more than its own scopes (AK-05).
    narrow = Authority(("posts:*", "reports:read"), scopes=("posts:read",))
    with pytest.raises(ScopeNotAllowed, match="You may not grant"):
        await world.key(account, "posts:delete", granter=narrow)
    assert (await world.key(account, "posts:read", granter=narrow)).key.scopes == ("posts:read",)
    with pytest.raises(InvalidInput):
        await world.key(account, "Not A Permission")


async def test_every_bad_key_gets_the_same_error_after_the_same_work(world: World) -> None:
    alice = world.add_user("alice", "editor")
    bob = world.add_user("bob", "editor")
    good = await world.key(await world.account(alice), "posts:read")
    revoked = await world.key(await world.account(alice, "old"), "posts:read")
    expiring = await world.key(
        await world.account(alice, "tmp"), "posts:read", ttl=timedelta(minutes=5)
    )
    bobs = await world.key(await world.account(bob), "posts:read")
    await world.run(lambda uow: world.service.revoke_key(uow, revoked.key, ORIGIN))
    world.clock.advance(timedelta(minutes=10))
    world.store.users[bob.id].disabled = True

    calls: list[str] = []
    original = MemoryUnitOfWork._bind

    def counting_bind(self: MemoryUnitOfWork) -> None:
        original(self)
        for repo_name in ("_api_keys", "_users", "_roles", "_service_accounts"):
            repo = getattr(self, repo_name)
            for attr in dir(repo):
                if attr.startswith("_"):
                    continue
                method = getattr(repo, attr)

                def wrap(fn: Any, name: str = f"{repo_name}.{attr}") -> Any:
                    async def wrapped(*a: Any, **k: Any) -> Any:
                        calls.append(name)
                        return await fn(*a, **k)

                    return wrapped

                setattr(repo, attr, wrap(method))

    MemoryUnitOfWork._bind = counting_bind  # type: ignore[method-assign]
    try:
        seen = []
        for presented in (
            generate_key(),  # well-formed but unknown
            "idg_not-even-a-key",
            revoked.secret,
            expiring.secret,
            bobs.secret,  # owner disabled
        ):
            calls.clear()
            with pytest.raises(InvalidApiKey) as caught:
                await world.authenticate(presented)
            seen.append((caught.value.code, caught.value.detail, tuple(calls)))
    finally:
        MemoryUnitOfWork._bind = original  # type: ignore[method-assign]
    assert len(set(seen)) == 1, seen
    assert seen[0][:2] == ("invalid_api_key", "Invalid API key.")
    assert seen[0][2] == ("_api_keys.find_by_hash",)
    rejected = [e for e in world.store.audit if e.type == AuditEventType.API_KEY_REJECTED]
    assert [e.reason for e in rejected] == [
        "unknown",
        "malformed",
        "revoked",
        "expired",
        "owner_disabled",
    ]
    assert all(e.outcome == Outcome.FAILURE for e in rejected)
    assert (await world.authenticate(good.secret)).key.id == good.key.id


async def test_last_used_is_written_at_most_once_a_minute(world: World) -> None:
    alice = world.add_user("alice", "editor")
    new = await world.key(await world.account(alice), "posts:read")
    await world.authenticate(new.secret)
    first = world.store.api_keys[new.key.id].last_used_at
    assert first == world.clock.now()
    world.clock.advance(seconds=30)
    await world.authenticate(new.secret)
    assert world.store.api_keys[new.key.id].last_used_at == first
    world.clock.advance(LAST_USED_RESOLUTION)
    await world.authenticate(new.secret)
    assert world.store.api_keys[new.key.id].last_used_at == world.clock.now()


async def test_rotation_with_and_without_grace(world: World) -> None:
    alice = world.add_user("alice", "editor")
    account = await world.account(alice)
    old = await world.key(account, "posts:read", ttl=timedelta(days=30))
    world.clock.advance(timedelta(days=1))
    new = await world.run(
        lambda uow: world.service.rotate_key(uow, old.key, ORIGIN, grace=timedelta(hours=1))
    )
    assert new.key.scopes == old.key.scopes and new.secret != old.secret
    assert new.key.expires_at == world.clock.now() + timedelta(days=30)
    await world.authenticate(old.secret)  # still inside the grace period
    world.clock.advance(timedelta(hours=1))
    with pytest.raises(InvalidApiKey):
        await world.authenticate(old.secret)
    await world.authenticate(new.secret)
    newer = await world.run(lambda uow: world.service.rotate_key(uow, new.key, ORIGIN))
    with pytest.raises(InvalidApiKey):
        await world.authenticate(new.secret)
    await world.authenticate(newer.secret)
    with pytest.raises(Conflict):
        current = world.store.api_keys[new.key.id]
        await world.run(lambda uow: world.service.rotate_key(uow, current, ORIGIN))
    with pytest.raises(InvalidInput):
        await world.run(
            lambda uow: world.service.rotate_key(uow, newer.key, ORIGIN, grace=timedelta(days=8))
        )


async def test_a_key_never_exceeds_its_owners_current_permissions(world: World) -> None:
    alice = world.add_user("alice", "editor")
    new = await world.key(await world.account(alice), "posts:*")
    verified = await world.authenticate(new.secret)
    assert Authority(verified.owner_permissions, scopes=verified.key.scopes).allows("posts:delete")
    world.store.memberships.discard((alice.id, "editor"))
    verified = await world.authenticate(new.secret)
    assert not Authority(verified.owner_permissions, scopes=verified.key.scopes).allows(
        "posts:delete"
    )


async def test_limits_and_names(world: World) -> None:
    alice = world.add_user("alice", "editor")
    account = await world.account(alice)
    with pytest.raises(Conflict):
        await world.account(alice)  # same name, same owner
    with pytest.raises(InvalidInput):
        await world.account(alice, "bad/name")
    for _ in range(MAX_ACTIVE_KEYS_PER_ACCOUNT):
        await world.key(account)
    with pytest.raises(Conflict, match="at most"):
        await world.key(account)
    with pytest.raises(InvalidInput, match="lifetime"):
        await world.key(await world.account(alice, "other"), ttl=timedelta(seconds=5))
    no_expiry = await world.key(await world.account(alice, "forever"), ttl=None)
    assert no_expiry.key.expires_at is None
