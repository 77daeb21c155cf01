"""The unit of work commits once, keeps deliberate refusals' records, and rolls back on bugs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.clock import FixedClock
from idgate.core.errors import InvalidCredentials
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.store.uow import SqlUnitOfWork, run_in_unit_of_work


def stage(uow: UnitOfWork, clock: FixedClock) -> User:
    return User(id=uuid.uuid4(), username="alice", password_hash="h", created_at=clock.now())


async def count_users(factory: Callable[[], SqlUnitOfWork]) -> int:
    async with factory() as uow:
        return len(await uow.users.list())


async def test_leaving_without_commit_rolls_back(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        await uow.users.add(stage(uow, clock), "alice")
    assert await count_users(uow_factory) == 0


async def test_success_commits(uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(stage(uow, clock), "alice")

    await run_in_unit_of_work(uow_factory, work)
    assert await count_users(uow_factory) == 1


async def test_deliberate_refusal_keeps_its_audit_event(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.audit.add(
            AuditEvent.create(AuditEventType.LOGIN_FAILED, clock.now(), RequestOrigin())
        )
        raise InvalidCredentials()

    with caplog.at_level(logging.INFO, logger="idgate.audit"), pytest.raises(InvalidCredentials):
        await run_in_unit_of_work(uow_factory, work)
    async with uow_factory() as uow:
        assert [e.type for e in await uow.audit.list()] == ["login.failed"]
    # Published to the log only once it is durable.
    assert [r.getMessage() for r in caplog.records if r.name == "idgate.audit"] == ["login.failed"]


async def test_unexpected_error_rolls_back_and_publishes_nothing(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(stage(uow, clock), "alice")
        await uow.audit.add(
            AuditEvent.create(AuditEventType.USER_CREATED, clock.now(), RequestOrigin())
        )
        raise RuntimeError("bug")

    with caplog.at_level(logging.INFO, logger="idgate.audit"), pytest.raises(RuntimeError):
        await run_in_unit_of_work(uow_factory, work)
    assert await count_users(uow_factory) == 0
    assert not [r for r in caplog.records if r.name == "idgate.audit"]


async def test_release_gives_the_connection_back_between_reads(
    database_url: str, clock: FixedClock
) -> None:
    """A login releases its connection while bcrypt runs, so a flood cannot hold the pool."""
    from idgate.store.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        factory = session_factory(engine)
        async with SqlUnitOfWork(factory, clock) as uow:
            await uow.users.get_by_username("alice")
            assert engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
            await uow.release()
            assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            # The unit of work goes on: the next call opens a new transaction, commit works.
            await uow.users.add(stage(uow, clock), "alice")
            await uow.commit()
        async with SqlUnitOfWork(factory, clock) as uow:
            assert await uow.users.get_by_username("alice") is not None
            # With a change staged, release keeps the transaction (nothing is lost).
            await uow.audit.add(
                AuditEvent.create(AuditEventType.USER_CREATED, clock.now(), RequestOrigin())
            )
            await uow.release()
            await uow.commit()
            assert len(await uow.audit.list()) == 1
    finally:
        await engine.dispose()


async def test_an_unused_unit_of_work_opens_no_session(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    """Most bearer requests never touch their unit of work: it must not open (then commit and
    close) a session for them, which cost a fifth of such a request (docs/benchmarks.md)."""
    opened: list[AsyncSession] = []
    sessions = uow_factory()._sessions

    def counting() -> AsyncSession:
        session = sessions()
        opened.append(session)
        return session

    def factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(counting, clock)  # type: ignore[arg-type]

    async with factory() as uow:
        await uow.commit()
        await uow.rollback()
        await uow.release()
    assert opened == []
    # First use opens it, once; commit then ends the transaction as before.
    async with factory() as uow:
        await uow.users.add(stage(uow, clock), "alice")
        assert await uow.users.get_by_username("alice") is not None
        await uow.commit()
    assert len(opened) == 1
    assert await count_users(factory) == 1


async def test_a_closed_unit_of_work_refuses_use(uow_factory: Callable[[], SqlUnitOfWork]) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError, match="not open"):
        uow.users  # noqa: B018 - the access itself is under test
    with pytest.raises(RuntimeError, match="not open"):
        await uow.commit()
    async with uow:
        assert uow.users is uow.users  # one set of repositories per open unit
    with pytest.raises(RuntimeError, match="not open"):
        uow.users  # noqa: B018
