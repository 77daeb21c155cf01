"""SessionService on the in-memory store, with a fixed clock: life cycle and timeouts."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from idgate.core.clock import FixedClock
from idgate.core.models import RequestOrigin, User
from idgate.core.sessions import SessionPolicy, SessionService
from idgate.store.memory import MemoryStore, MemoryUnitOfWork

ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="ua/1", request_id="r1")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(clock: FixedClock) -> SessionService:
    return SessionService(SessionPolicy(), clock, lambda uow: uow.sessions)


@pytest.fixture
async def user(store: MemoryStore, clock: FixedClock) -> User:
    alice = User(id=uuid.uuid4(), username="alice", password_hash="h", created_at=clock.now())
    async with MemoryUnitOfWork(store) as uow:
        await uow.users.add(alice, "alice")
        await uow.commit()
    return alice


async def test_ids_are_random_and_stored_as_hashes(
    service: SessionService, store: MemoryStore, user: User
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        first = await service.login(uow, user, ORIGIN)
        second = await service.login(uow, user, ORIGIN)
        await uow.commit()
    assert first.cookie_value != second.cookie_value and len(first.cookie_value) == 43
    assert first.session.csrf_token != second.session.csrf_token
    assert len(first.session.csrf_token) == 43
    assert first.session.key == hashlib.sha256(first.cookie_value.encode()).hexdigest()
    assert first.cookie_value not in repr(first) and first.cookie_value not in str(store)


async def test_login_replaces_the_pre_session(
    service: SessionService, store: MemoryStore, user: User
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        pre = await service.begin(uow, ORIGIN)
        assert not pre.session.is_signed_in
        signed = await service.login(uow, user, ORIGIN, previous=pre.session)
        assert await service.resolve(uow, pre.cookie_value) is None
        resolved = await service.resolve(uow, signed.cookie_value)
        assert resolved is not None and resolved.user_id == user.id
        assert [e.type for e in store.audit] == []  # staged, not committed yet
        await uow.commit()
    assert [e.type for e in store.audit] == ["session.created"]
    assert store.audit[0].details == {"session": str(signed.session.public_id)}


@pytest.mark.parametrize("value", ["", "short", "A" * 44, "A" * 42 + "!", "é" * 43])
async def test_malformed_ids_are_refused_without_a_lookup(
    service: SessionService, store: MemoryStore, value: str
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        assert await service.resolve(uow, value) is None


async def test_idle_timeout_and_touch(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        issued = await service.login(uow, user, ORIGIN)
        clock.advance(seconds=30)
        same = await service.resolve(uow, issued.cookie_value)
        assert same is not None and same.last_seen_at == issued.session.last_seen_at  # not yet
        clock.advance(timedelta(minutes=29))
        other = RequestOrigin(ip="192.0.2.99", user_agent="ua/2")
        touched = await service.resolve(uow, issued.cookie_value, other)
        assert touched is not None and touched.last_seen_at == clock.now()
        assert touched.ip == "192.0.2.99" and touched.user_agent == "ua/2"
        clock.advance(timedelta(minutes=29, seconds=59))
        assert await service.resolve(uow, issued.cookie_value) is not None
        clock.advance(timedelta(minutes=30))
        assert await service.resolve(uow, issued.cookie_value) is None
        await uow.commit()
    assert store.sessions == {}
    assert [(e.type, e.reason) for e in store.audit][-1] == ("session.destroyed", "idle_timeout")


async def test_absolute_timeout_survives_rotation(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        issued = await service.login(uow, user, ORIGIN)
        for _ in range(28):  # activity every 25 minutes, for 11 h 40 min
            clock.advance(timedelta(minutes=25))
            current = await service.resolve(uow, issued.cookie_value)
            assert current is not None
            issued = await service.rotate(uow, current, ORIGIN, reason="test")
        clock.advance(timedelta(minutes=25))  # 12 h 5 min after login
        assert await service.resolve(uow, issued.cookie_value) is None
        await uow.commit()
    assert store.audit[-1].reason == "absolute_timeout"


async def test_rotation_keeps_the_user_and_the_public_id(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        issued = await service.login(uow, user, ORIGIN)
        clock.advance(timedelta(minutes=15))
        assert service.needs_reauthentication(issued.session)
        rotated = await service.rotate(
            uow, issued.session, ORIGIN, reason="reauthenticated", reauthenticated=True
        )
        assert not service.needs_reauthentication(rotated.session)
        assert rotated.cookie_value != issued.cookie_value
        assert rotated.session.csrf_token != issued.session.csrf_token
        assert rotated.session.public_id == issued.session.public_id
        assert rotated.session.signed_in_at == issued.session.signed_in_at
        assert rotated.session.expires_at == issued.session.expires_at
        assert await service.resolve(uow, issued.cookie_value) is None
        assert await service.resolve(uow, rotated.cookie_value) is not None


async def test_revoked_before_and_disabled_accounts_end_sessions(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        issued = await service.login(uow, user, ORIGIN)
        assert await service.user_of(uow, issued.session) is not None
        clock.advance(seconds=5)
        await uow.users.revoke_credentials(user.id, clock.now())
        assert await service.user_of(uow, issued.session) is None
        assert await service.resolve(uow, issued.cookie_value) is None
        fresh = await service.login(uow, user, ORIGIN)
        assert await service.user_of(uow, fresh.session) is not None
        await uow.users.set_disabled(user.id, True)
        assert await service.user_of(uow, fresh.session) is None
        await uow.commit()
    reasons = [e.reason for e in store.audit if e.type == "session.destroyed"]
    assert reasons == ["credentials_revoked", "account_inactive"]


async def test_listing_and_revoking(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    bob = User(id=uuid.uuid4(), username="bob", password_hash="h", created_at=clock.now())
    async with MemoryUnitOfWork(store) as uow:
        await uow.users.add(bob, "bob")
        a = await service.login(uow, user, ORIGIN)
        clock.advance(seconds=1)
        b = await service.login(uow, user, ORIGIN)
        clock.advance(seconds=1)
        c = await service.login(uow, user, ORIGIN)
        bobs = await service.login(uow, bob, ORIGIN)
        listed = await service.list_for(uow, user.id)
        assert [s.key for s in listed] == [c.session.key, b.session.key, a.session.key]
        # Another user's session cannot be revoked by its public id.
        assert not await service.revoke(uow, user, bobs.session.public_id, ORIGIN)
        assert await service.revoke(uow, user, a.session.public_id, ORIGIN)
        assert await service.revoke_others(uow, user, c.session, ORIGIN) == 1
        assert [s.key for s in await service.list_for(uow, user.id)] == [c.session.key]
        assert await service.resolve(uow, bobs.cookie_value) is not None


async def test_after_password_change_only_the_current_session_survives(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        here = await service.login(uow, user, ORIGIN)
        there = await service.login(uow, user, ORIGIN)
        clock.advance(seconds=3)
        await uow.users.revoke_credentials(user.id, clock.now())
        refreshed = await uow.users.get(user.id)
        assert refreshed is not None
        kept = await service.after_password_change(uow, refreshed, here.session, ORIGIN)
        assert await service.resolve(uow, there.cookie_value) is None
        assert await service.resolve(uow, here.cookie_value) is None
        alive = await service.resolve(uow, kept.cookie_value)
        assert alive is not None and await service.user_of(uow, alive) is not None


async def test_expired_records_are_purged_at_login(
    service: SessionService, store: MemoryStore, user: User, clock: FixedClock
) -> None:
    async with MemoryUnitOfWork(store) as uow:
        await service.begin(uow, ORIGIN)
        await service.login(uow, user, ORIGIN)
        clock.advance(timedelta(hours=1))
        await service.login(uow, user, ORIGIN)
        await uow.commit()
    assert len(store.sessions) == 1
