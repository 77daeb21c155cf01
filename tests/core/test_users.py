"""UserService on the in-memory store: registration, authentication, the audit trail."""

from __future__ import annotations

import asyncio
import threading

import pytest

from idgate.core.audit import AuditEventType, Outcome
from idgate.core.clock import FixedClock
from idgate.core.errors import (
    InvalidCredentials,
    InvalidUsername,
    Unavailable,
    UsernameTaken,
    WeakPassword,
)
from idgate.core.models import RequestOrigin
from idgate.core.passwords.hashers import BcryptHasher, PasswordHashers, Pepper
from idgate.core.passwords.policy import PasswordPolicy
from idgate.core.passwords.pool import HashingPool
from idgate.core.users import UserService
from idgate.store.memory import MemoryStore, MemoryUnitOfWork
from idgate.store.uow import run_in_unit_of_work
from tests.helpers import wait_until

PASSWORD = "correct horse battery staple"
ORIGIN = RequestOrigin(ip="198.51.100.1", user_agent="pytest", request_id="r1")
PEPPER = Pepper.from_secret(b"p" * 32)


def make_service(cost: int = 4) -> UserService:
    hashers = PasswordHashers([BcryptHasher([PEPPER], cost=cost, allow_low_cost=True)])
    return UserService(hashers, PasswordPolicy(), HashingPool(2), FixedClock())


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def uow_factory(store: MemoryStore) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(store)


async def register(service: UserService, store: MemoryStore, name: str = "alice") -> None:
    await run_in_unit_of_work(
        lambda: uow_factory(store), lambda uow: service.register(uow, name, PASSWORD, ORIGIN)
    )


async def authenticate(service: UserService, store: MemoryStore, name: str, password: str) -> None:
    await run_in_unit_of_work(
        lambda: uow_factory(store),
        lambda uow: service.authenticate(uow, name, password, ORIGIN),
    )


async def test_register_stores_a_hash_and_the_user_role(store: MemoryStore) -> None:
    service = make_service()
    await register(service, store, "Alice")
    (user,) = store.users.values()
    assert user.username == "Alice"
    assert user.password_hash and PASSWORD not in user.password_hash
    assert store.canonical == {"alice": user.id}
    assert (user.id, "user") in store.memberships
    (event,) = store.audit
    assert event.type == AuditEventType.USER_REGISTERED and event.subject_id == user.id


async def test_register_validates_before_staging_anything(store: MemoryStore) -> None:
    service = make_service()
    with pytest.raises(WeakPassword):
        await run_in_unit_of_work(
            lambda: uow_factory(store),
            lambda uow: service.register(uow, "alice", "short", ORIGIN),
        )
    with pytest.raises(InvalidUsername):
        await run_in_unit_of_work(
            lambda: uow_factory(store),
            lambda uow: service.register(uow, "a b", PASSWORD, ORIGIN),
        )
    assert store.users == {} and store.audit == []


async def test_usernames_are_unique_case_insensitively(store: MemoryStore) -> None:
    service = make_service()
    await register(service, store, "alice")
    with pytest.raises(UsernameTaken):
        await register(service, store, "ALICE")
    assert len(store.users) == 1


async def test_authenticate_success_is_audited(store: MemoryStore) -> None:
    service = make_service()
    await register(service, store)
    await authenticate(service, store, "ALICE", PASSWORD)
    assert store.audit[-1].type == AuditEventType.LOGIN_SUCCEEDED
    assert store.audit[-1].ip == "198.51.100.1"


@pytest.mark.parametrize(
    ("name", "password", "reason"),
    [
        ("alice", "wrong password entirely", "bad_password"),
        ("ghost", PASSWORD, "unknown_user"),
        ("alice", "x" * 1025, "password_too_long"),
    ],
)
async def test_every_failure_is_the_same_error_and_is_audited(
    store: MemoryStore, name: str, password: str, reason: str
) -> None:
    service = make_service()
    await register(service, store)
    with pytest.raises(InvalidCredentials) as info:
        await authenticate(service, store, name, password)
    assert info.value.detail == "Invalid credentials"
    event = store.audit[-1]
    assert event.type == AuditEventType.LOGIN_FAILED
    assert event.outcome == Outcome.FAILURE and event.reason == reason


async def test_disabled_accounts_get_the_same_answer(store: MemoryStore) -> None:
    service = make_service()
    await register(service, store)
    (user,) = store.users.values()
    store.users[user.id].disabled = True
    with pytest.raises(InvalidCredentials) as info:
        await authenticate(service, store, "alice", PASSWORD)
    assert info.value.detail == "Invalid credentials"
    assert store.audit[-1].reason == "disabled"


async def test_login_rehashes_when_the_cost_rises(store: MemoryStore) -> None:
    await register(make_service(cost=4), store)
    (user,) = store.users.values()
    assert user.password_hash and "$2b$04$" in user.password_hash
    await authenticate(make_service(cost=5), store, "alice", PASSWORD)
    (user,) = store.users.values()
    assert user.password_hash and "$2b$05$" in user.password_hash
    assert AuditEventType.PASSWORD_REHASHED in {e.type for e in store.audit}
    await authenticate(make_service(cost=5), store, "alice", PASSWORD)


async def test_unexpected_errors_roll_everything_back(store: MemoryStore) -> None:
    service = make_service()

    async def work(uow: MemoryUnitOfWork) -> None:
        await service.register(uow, "alice", PASSWORD, ORIGIN)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_in_unit_of_work(lambda: uow_factory(store), work)  # type: ignore[arg-type]
    assert store.users == {} and store.audit == []


class CheckingPool(HashingPool):
    """A hashing pool that records whether the unit of work was released before each hash."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(1)
        self.uow = uow
        self.released_before: list[bool] = []

    async def run(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.released_before.append(self.uow.releases > 0)
        return await super().run(fn, *args, **kwargs)


@pytest.mark.parametrize("name", ["alice", "ghost"])
async def test_no_connection_is_held_while_hashing(store: MemoryStore, name: str) -> None:
    await register(make_service(), store)
    uow = MemoryUnitOfWork(store)
    pool = CheckingPool(uow)
    service = make_service()
    service.pool = pool
    async with uow:
        with pytest.raises(InvalidCredentials):
            await service.authenticate(uow, name, "a wrong password, long", ORIGIN)
    assert pool.released_before == [True]


@pytest.mark.parametrize("action", ["authenticate", "register"])
async def test_a_shed_attempt_pauses_holding_no_connection_then_is_refused(
    store: MemoryStore, action: str
) -> None:
    await register(make_service(), store)
    uow = MemoryUnitOfWork(store)
    paused_after_release: list[bool] = []

    async def sleep(seconds: float) -> None:
        paused_after_release.append(uow.releases > 0)

    service = make_service()
    service.pool = HashingPool(1, queue_size=0, shed_delay=0.25, sleep=sleep)
    gate = threading.Event()
    busy = asyncio.ensure_future(service.pool.run(gate.wait, 5))
    try:
        await wait_until(lambda: service.pool.pending == 1)
        async with uow:
            with pytest.raises(Unavailable):
                if action == "authenticate":
                    await service.authenticate(uow, "alice", PASSWORD, ORIGIN)
                else:
                    await service.register(uow, "bob", PASSWORD, ORIGIN)
        assert paused_after_release == [True]
        assert "bob" not in {user.username for user in store.users.values()}
    finally:
        gate.set()
        await busy
        service.pool.shutdown()
