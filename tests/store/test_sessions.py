"""The session stores' contract, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from idgate.core.clock import FixedClock
from idgate.core.models import User
from idgate.core.ports import SessionRepository
from idgate.core.sessions import BrowserSession
from idgate.store.redis import RedisKeys, create_redis
from idgate.store.redis_sessions import RedisSessionRepository
from idgate.store.uow import SqlUnitOfWork


def make_session(clock: FixedClock, user_id: uuid.UUID | None, n: int = 0) -> BrowserSession:
    now = clock.now()
    return BrowserSession(
        key=f"{n:064x}",
        public_id=uuid.uuid4(),
        user_id=user_id,
        csrf_token="t" * 43,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=12),
        signed_in_at=now if user_id else None,
        authenticated_at=now if user_id else None,
        ip="2001:db8::1",
        user_agent="Mozilla/5.0 <b>",
    )


async def contract(store: SessionRepository, user_id: uuid.UUID, clock: FixedClock) -> None:
    keep = clock.now() + timedelta(minutes=30)
    pre = make_session(clock, None, 1)
    a = make_session(clock, user_id, 2)
    b = make_session(clock, user_id, 3)
    for session in (pre, a, b):
        await store.add(session, keep_until=keep)
    assert await store.get(a.key) == a
    assert await store.get(pre.key) == pre
    assert await store.get("f" * 64) is None
    assert sorted(s.key for s in await store.list_for_user(user_id)) == [a.key, b.key]
    assert await store.list_for_user(uuid.uuid4()) == []

    clock.advance(timedelta(minutes=5))
    touched = replace(a, last_seen_at=clock.now(), ip="192.0.2.5", user_agent="other")
    await store.touch(touched, keep_until=clock.now() + timedelta(minutes=30))
    assert await store.get(a.key) == touched

    await store.delete(b.key)
    await store.delete(b.key)  # deleting twice is harmless
    assert await store.get(b.key) is None
    assert [s.key for s in await store.list_for_user(user_id)] == [a.key]
    await store.touch(b, keep_until=keep)  # a deleted session is never resurrected
    assert await store.get(b.key) is None


@pytest.fixture
async def user_id(uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock) -> uuid.UUID:
    user = User(id=uuid.uuid4(), username="alice", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(user, "alice")
        await uow.commit()
    return user.id


async def test_database_store(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, user_id: uuid.UUID
) -> None:
    async with uow_factory() as uow:
        await contract(uow.sessions, user_id, clock)
        await uow.commit()
    async with uow_factory() as uow:
        assert len(await uow.sessions.list_for_user(user_id)) == 1
        clock.advance(timedelta(minutes=26))  # 31 minutes after the pre-session was seen
        assert await uow.sessions.purge_expired(clock.now()) == 1
        clock.advance(timedelta(minutes=5))
        assert await uow.sessions.purge_expired(clock.now()) == 1
        assert await uow.sessions.list_for_user(user_id) == []
        await uow.commit()


async def test_database_store_rolls_back_with_the_unit_of_work(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, user_id: uuid.UUID
) -> None:
    session = make_session(clock, user_id)
    async with uow_factory() as uow:
        await uow.sessions.add(session, keep_until=session.expires_at)
        await uow.rollback()
    async with uow_factory() as uow:
        assert await uow.sessions.get(session.key) is None


async def test_deleting_a_user_deletes_their_sessions(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, user_id: uuid.UUID
) -> None:
    from sqlalchemy import delete

    from idgate.store.models import UserRow

    session = make_session(clock, user_id)
    async with uow_factory() as uow:
        await uow.sessions.add(session, keep_until=session.expires_at)
        await uow.commit()
    async with uow_factory() as uow:  # SQLite enforces foreign keys too (store.db)
        await uow.session.execute(delete(UserRow).where(UserRow.id == user_id))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(session.key) is None


@pytest.fixture
async def redis_store(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisSessionRepository]:
    client = create_redis(redis_url)
    try:
        yield RedisSessionRepository(client, RedisKeys(redis_prefix))
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_store(
    redis_store: RedisSessionRepository, redis_prefix: str, clock: FixedClock
) -> None:
    user_id = uuid.uuid4()
    await contract(redis_store, user_id, clock)
    assert await redis_store.purge_expired(clock.now()) == 0


@pytest.mark.redis
async def test_redis_keys_expire_with_the_session(
    redis_store: RedisSessionRepository, redis_url: str, redis_prefix: str
) -> None:
    from datetime import UTC, datetime

    clock = FixedClock(datetime.now(UTC))
    user_id = uuid.uuid4()
    session = make_session(clock, user_id, 7)
    await redis_store.add(session, keep_until=clock.now() + timedelta(minutes=30))
    client = create_redis(redis_url)
    try:
        ttl = await client.pttl(f"{redis_prefix}session:{session.key}")
        assert 29 * 60_000 < ttl <= 30 * 60_000
        index_ttl = await client.pttl(f"{redis_prefix}user-sessions:{user_id}")
        assert 11 * 3600_000 < index_ttl <= 12 * 3600_000
        # An expired session key is pruned from the user's index when it is listed.
        await client.delete(f"{redis_prefix}session:{session.key}")
        assert await redis_store.list_for_user(user_id) == []
        assert await client.scard(f"{redis_prefix}user-sessions:{user_id}") == 0
    finally:
        await client.aclose()
