"""Repository contract, run on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import FixedClock
from idgate.core.errors import NotFound, UsernameTaken
from idgate.core.models import RequestOrigin, User
from idgate.store.uow import SqlUnitOfWork

ORIGIN = RequestOrigin(ip="2001:db8::1", user_agent="ua", request_id="rid")


def new_user(name: str, clock: FixedClock) -> User:
    return User(id=uuid.uuid4(), username=name, password_hash="h", created_at=clock.now())


async def test_add_get_and_lookup_by_canonical_name(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = new_user("Alice", clock)
    async with uow_factory() as uow:
        await uow.users.add(user, "alice")
        await uow.roles.grant(user.id, "user")
        await uow.commit()
    async with uow_factory() as uow:
        by_id = await uow.users.get(user.id)
        by_name = await uow.users.get_by_username("alice")
        assert by_id == by_name
        assert by_id is not None
        assert by_id.username == "Alice" and by_id.roles == ("user",)
        assert by_id.created_at == clock.now() and by_id.created_at.tzinfo is not None
        assert await uow.users.get_by_username("Alice") is None  # lookups use the canonical form
        assert await uow.users.get(uuid.uuid4()) is None


async def test_duplicate_canonical_name_is_a_conflict_and_leaves_nothing(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        await uow.users.add(new_user("alice", clock), "alice")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(UsernameTaken):
            await uow.users.add(new_user("ALICE", clock), "alice")
        await uow.commit()
    async with uow_factory() as uow:
        assert len(await uow.users.list()) == 1


async def test_hostile_strings_are_data(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    hostile = "alice' OR '1'='1"
    async with uow_factory() as uow:
        await uow.users.add(new_user("alice", clock), "alice")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.users.get_by_username(hostile) is None
        assert await uow.users.get_by_username("x' || pg_sleep(5)--") is None
        await uow.users.add(new_user(hostile, clock), hostile)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.users.get_by_username(hostile)
        assert found is not None and found.username == hostile


async def test_updates_and_listing(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    users = []
    async with uow_factory() as uow:
        for i in range(3):
            clock.advance(seconds=1)
            user = new_user(f"user{i}", clock)
            users.append(user)
            await uow.users.add(user, user.username)
            await uow.roles.grant(user.id, "user")
        assert await uow.roles.grant(users[0].id, "admin")
        assert not await uow.roles.grant(users[0].id, "admin")
        with pytest.raises(NotFound):
            await uow.roles.grant(users[0].id, "no-such-role")
        await uow.users.set_password_hash(users[1].id, "new-hash")
        await uow.users.set_disabled(users[2].id, True)
        await uow.commit()
    async with uow_factory() as uow:
        listed = await uow.users.list()
        assert [u.username for u in listed] == ["user0", "user1", "user2"]
        assert listed[0].roles == ("admin", "user") and listed[0].is_admin
        assert listed[1].password_hash == "new-hash"
        assert listed[2].disabled
        assert [u.username for u in await uow.users.list(offset=1, limit=1)] == ["user1"]
        assert await uow.roles.roles_of(users[0].id) == ("admin", "user")


async def test_audit_events_round_trip_and_filter(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    subject = uuid.uuid4()
    t0 = clock.now()
    async with uow_factory() as uow:
        for minutes, kind in [
            (0, AuditEventType.LOGIN_FAILED),
            (5, AuditEventType.LOGIN_SUCCEEDED),
        ]:
            await uow.audit.add(
                AuditEvent.create(
                    kind,
                    t0 + timedelta(minutes=minutes),
                    ORIGIN,
                    subject_id=subject,
                    outcome=Outcome.FAILURE if minutes == 0 else Outcome.SUCCESS,
                    reason="bad_password" if minutes == 0 else None,
                    details={"line": "x\n2026-01-01 INFO forged"},
                )
            )
        await uow.audit.add(AuditEvent.create(AuditEventType.USER_CREATED, t0, ORIGIN))
        await uow.commit()
    async with uow_factory() as uow:
        everything = await uow.audit.list()
        assert len(everything) == 3
        mine = await uow.audit.list(user_id=subject)
        assert [e.type for e in mine] == ["login.succeeded", "login.failed"]  # newest first
        failed = await uow.audit.list(types=["login.failed"])
        assert failed[0].reason == "bad_password" and failed[0].ip == "2001:db8::1"
        assert failed[0].details == {"line": "x\n2026-01-01 INFO forged"}
        assert failed[0].at == t0 and failed[0].at.tzinfo == UTC
        late = await uow.audit.list(since=t0 + timedelta(minutes=1))
        assert [e.type for e in late] == ["login.succeeded"]
        early = await uow.audit.list(until=t0 + timedelta(minutes=1))
        assert len(early) == 2


async def test_naive_datetimes_are_refused(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = new_user("naive", clock)
    user.created_at = datetime(2026, 1, 1)
    async with uow_factory() as uow:
        with pytest.raises(Exception, match="naive"):
            await uow.users.add(user, "naive")
