"""The bearer check's account read: what the repository reads, at once, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from idgate.core.clock import FixedClock
from idgate.core.models import User
from idgate.core.ports import UnitOfWork
from idgate.core.tokens.refresh import LiveAccessToken
from idgate.store.db import postgres_dsn, sqlite_path
from idgate.store.uow import SqlUnitOfWork
from idgate.store.user_state import UserStateReader


async def account(reader: UserStateReader, uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
    """The account as the bearer check reads it (for a token on no deny-list)."""
    return (await reader.state(uow, user_id, "https://id.example.test", "not-denied"))[0]


class NoUnitOfWork:
    """Proves the direct read was used: any read through the unit of work fails the test."""

    @property
    def users(self) -> Any:
        raise AssertionError("read through the unit of work")


async def test_reads_what_the_repository_reads_and_sees_changes_at_once(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, database_url: str
) -> None:
    user = User(
        id=uuid.uuid4(),
        username="Ålice",
        password_hash="bcrypt-hmac-sha384$x$y",
        created_at=clock.now().replace(microsecond=123456),
    )
    async with uow_factory() as uow:
        await uow.users.add(user, "ålice")
        await uow.roles.grant(user.id, "user")
        await uow.roles.grant(user.id, "admin")
        await uow.commit()
    reader = UserStateReader(
        sqlite_file=sqlite_path(database_url), postgres_dsn=postgres_dsn(database_url)
    )
    try:
        async with uow_factory() as uow:
            expected = await uow.users.get(user.id)
            assert await account(reader, uow, user.id) == expected
            assert await account(reader, uow, uuid.uuid4()) is None
        assert expected is not None and expected.roles == ("admin", "user")
        async with uow_factory() as uow:  # an account without any role
            await uow.roles.revoke(user.id, "user")
            await uow.roles.revoke(user.id, "admin")
            await uow.commit()
        async with uow_factory() as uow:
            assert await account(reader, uow, user.id) == await uow.users.get(user.id)
        assert (await account(reader, NoUnitOfWork(), user.id)).roles == ()  # type: ignore[arg-type,union-attr]
        async with uow_factory() as uow:
            await uow.users.set_disabled(user.id, True)
            await uow.users.revoke_credentials(user.id, clock.now() + timedelta(seconds=1))
            await uow.commit()
        async with uow_factory() as uow:
            state = await account(reader, uow, user.id)
            assert state == await uow.users.get(user.id)
        assert state is not None and state.disabled
        assert state.revoked_before == clock.now() + timedelta(seconds=1)
        direct: UnitOfWork = NoUnitOfWork()  # type: ignore[assignment]
        assert await account(reader, direct, user.id) == state
        assert await account(reader, direct, uuid.uuid4()) is None
    finally:
        await reader.aclose()


async def test_falls_back_to_the_unit_of_work_when_sqlite_cannot_be_read(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, tmp_path: Path
) -> None:
    user = User(id=uuid.uuid4(), username="bob", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(user, "bob")
        await uow.commit()
    reader = UserStateReader(sqlite_file=tmp_path / "missing" / "idgate.db")
    try:
        async with uow_factory() as uow:
            state = await account(reader, uow, user.id)
        assert state is not None and state.username == "bob"
    finally:
        await reader.aclose()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:////srv/idgate/idgate.db", Path("/srv/idgate/idgate.db")),
        ("sqlite:///relative.db", Path("relative.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql://postgres@127.0.0.1/idgate", None),
    ],
)
def test_sqlite_path(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql://u:p@db:5433/idgate", "postgresql://u:p@db:5433/idgate"),
        ("postgresql+asyncpg://u@db/idgate", "postgresql://u@db/idgate"),
        ("postgres://u@db/idgate", "postgresql://u@db/idgate"),
        ("sqlite:///idgate.db", None),
    ],
)
def test_postgres_dsn(url: str, dsn: str | None) -> None:
    assert postgres_dsn(url) == dsn


async def test_the_deny_list_is_read_with_the_account_and_sees_a_logout_at_once(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, database_url: str
) -> None:
    user = User(id=uuid.uuid4(), username="carol", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(user, "carol")
        await uow.commit()
    reader = UserStateReader(
        sqlite_file=sqlite_path(database_url), postgres_dsn=postgres_dsn(database_url)
    )
    issuer = "https://id.example.test"
    direct: UnitOfWork = NoUnitOfWork()  # type: ignore[assignment]
    try:
        state, denied = await reader.state(direct, user.id, issuer, "j1")
        assert state is not None and state.username == "carol" and not denied
        async with uow_factory() as uow:
            live = LiveAccessToken(jti="j1", expires_at=clock.now() + timedelta(minutes=5))
            await uow.revocations.revoke(issuer, [live])
            await uow.commit()
        # One direct read on either backend, nothing through the unit of work.
        assert (await reader.state(direct, user.id, issuer, "j1"))[1]
        assert not (await reader.state(direct, user.id, "https://other.example.test", "j1"))[1]
        assert not (await reader.state(direct, user.id, issuer, "j2"))[1]
        assert await reader.state(direct, uuid.uuid4(), issuer, "j1") == (None, False)
    finally:
        await reader.aclose()


class RecordingRevocations:
    """A deny-list kept elsewhere (as in Redis): records what it is asked."""

    def __init__(self, denied: set[str]) -> None:
        self.denied = denied
        self.asked: list[tuple[str, str]] = []

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        self.asked.append((issuer, jti))
        return jti in self.denied


class ElsewhereUnitOfWork(NoUnitOfWork):
    def __init__(self, revocations: RecordingRevocations) -> None:
        self.revocations = revocations


async def test_a_deny_list_kept_elsewhere_is_asked_for_enabled_accounts_only(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, database_url: str
) -> None:
    enabled = User(id=uuid.uuid4(), username="dan", password_hash="h", created_at=clock.now())
    disabled = User(id=uuid.uuid4(), username="eve", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(enabled, "dan")
        await uow.users.add(disabled, "eve")
        await uow.users.set_disabled(disabled.id, True)
        # In the database's table, which this reader is told not to use.
        live = LiveAccessToken(jti="j1", expires_at=clock.now() + timedelta(minutes=5))
        await uow.revocations.revoke("https://id.example.test", [live])
        await uow.commit()
    reader = UserStateReader(
        sqlite_file=sqlite_path(database_url),
        postgres_dsn=postgres_dsn(database_url),
        deny_list_in_database=False,
    )
    revocations = RecordingRevocations({"j2"})
    elsewhere: UnitOfWork = ElsewhereUnitOfWork(revocations)  # type: ignore[assignment]
    issuer = "https://id.example.test"
    try:
        state, denied = await reader.state(elsewhere, enabled.id, issuer, "j1")
        assert state is not None and not denied  # the table is not the deny-list here
        assert (await reader.state(elsewhere, enabled.id, issuer, "j2"))[1]
        assert revocations.asked == [(issuer, "j1"), (issuer, "j2")]
        state, denied = await reader.state(elsewhere, disabled.id, issuer, "j2")
        assert state is not None and state.disabled and not denied
        assert await reader.state(elsewhere, uuid.uuid4(), issuer, "j2") == (None, False)
        assert len(revocations.asked) == 2  # refused anyway: not asked
    finally:
        await reader.aclose()


async def test_without_a_direct_read_both_are_read_through_the_unit_of_work(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, tmp_path: Path
) -> None:
    user = User(id=uuid.uuid4(), username="fay", password_hash="h", created_at=clock.now())
    issuer = "https://id.example.test"
    async with uow_factory() as uow:
        await uow.users.add(user, "fay")
        live = LiveAccessToken(jti="j1", expires_at=clock.now() + timedelta(minutes=5))
        await uow.revocations.revoke(issuer, [live])
        await uow.commit()
    reader = UserStateReader(sqlite_file=tmp_path / "missing" / "idgate.db")
    try:
        async with uow_factory() as uow:
            state, denied = await reader.state(uow, user.id, issuer, "j1")
            assert state is not None and state.username == "fay" and denied
            assert not (await reader.state(uow, user.id, issuer, "j2"))[1]
    finally:
        await reader.aclose()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_postgres_check_is_one_statement(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, database_url: str
) -> None:
    user = User(id=uuid.uuid4(), username="gus", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(user, "gus")
        await uow.commit()
    reader = UserStateReader(postgres_dsn=postgres_dsn(database_url))
    direct: UnitOfWork = NoUnitOfWork()  # type: ignore[assignment]
    sent: list[str] = []
    try:
        assert await account(reader, direct, user.id) is not None  # opens the pool: 1 connection
        async with reader._pool.acquire() as connection:
            connection.add_query_logger(lambda record: sent.append(record.query))
        for _ in range(3):
            assert await account(reader, direct, user.id) is not None
        # No reset statement (RESET ALL, UNLISTEN *, ...) after each check: one round trip each.
        assert len(sent) == 3 and all(query.lstrip().startswith("SELECT") for query in sent)
    finally:
        await reader.aclose()
