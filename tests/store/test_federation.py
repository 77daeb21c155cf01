"""Linked identities and pending authorizations in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from idgate.core.clock import FixedClock
from idgate.core.federation import (
    FederatedIdentity,
    FederationService,
    IdentityLinkedElsewhere,
    PendingAuthorization,
)
from idgate.core.models import User
from idgate.store.uow import SqlUnitOfWork

Factory = Callable[[], SqlUnitOfWork]


async def add_user(factory: Factory, clock: FixedClock, name: str) -> User:
    user = User(id=uuid.uuid4(), username=name, password_hash=None, created_at=clock.now())
    async with factory() as uow:
        await uow.users.add(user, name)
        await uow.commit()
    return user


def identity(
    user: User, clock: FixedClock, provider: str, subject: str, **kw: object
) -> FederatedIdentity:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "user_id": user.id,
        "provider": provider,
        "subject": subject,
        "email": "octo@example.com",
        "email_verified": True,
        "login": "octocat",
        "created_at": clock.now(),
        "last_login_at": None,
    }
    values.update(kw)
    return FederatedIdentity(**values)  # type: ignore[arg-type]


async def test_identities_are_unique_per_provider_and_subject(
    uow_factory: Factory, clock: FixedClock
) -> None:
    alice = await add_user(uow_factory, clock, "alice")
    bob = await add_user(uow_factory, clock, "bob")
    first = identity(alice, clock, "github", "1")
    async with uow_factory() as uow:
        await uow.federated_identities.add(first)
        await uow.federated_identities.add(
            identity(alice, clock, "acme", "1", email_verified=False)
        )
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(IdentityLinkedElsewhere):
            await uow.federated_identities.add(identity(bob, clock, "github", "1"))
    async with uow_factory() as uow:
        assert await uow.federated_identities.get("github", "1") == first
        assert await uow.federated_identities.get_by_id(first.id) == first
        assert await uow.federated_identities.get("github", "2") is None
        assert len(await uow.federated_identities.list_for_user(alice.id)) == 2
        verified = await uow.federated_identities.find_verified_email("octo@example.com")
        assert [i.provider for i in verified] == ["github"]
        moved = replace(first, email="new@example.com", login="renamed", last_login_at=clock.now())
        await uow.federated_identities.update(moved)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.federated_identities.get_by_id(first.id) == moved
        await uow.federated_identities.delete(first.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.federated_identities.get_by_id(first.id) is None
        # Deleting the account deletes its identities too.
        await uow.users.delete(alice.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.federated_identities.list_for_user(alice.id) == []


async def test_a_pending_authorization_is_taken_once(
    uow_factory: Factory, clock: FixedClock
) -> None:
    service = FederationService(clock)
    async with uow_factory() as uow:
        started = await service.begin(uow, "k" * 64, "github", next_path="/account/password")
        await uow.commit()
    async with uow_factory() as uow:
        taken = await uow.pending_authorizations.take(started.pending.key)
        await uow.commit()
    assert taken == started.pending
    async with uow_factory() as uow:
        assert await uow.pending_authorizations.take(started.pending.key) is None


async def test_concurrent_callbacks_with_one_state_let_one_through(
    uow_factory: Factory, clock: FixedClock
) -> None:
    service = FederationService(clock)
    async with uow_factory() as uow:
        started = await service.begin(uow, "k" * 64, "github")
        await uow.commit()

    async def take() -> PendingAuthorization | None:
        async with uow_factory() as uow:
            taken = await uow.pending_authorizations.take(started.pending.key)
            await uow.commit()
            return taken

    results = await asyncio.gather(*(take() for _ in range(5)))
    assert sum(r is not None for r in results) == 1


async def test_expired_pending_authorizations_are_purged(
    uow_factory: Factory, clock: FixedClock
) -> None:
    service = FederationService(clock)
    async with uow_factory() as uow:
        old = await service.begin(uow, "k" * 64, "github")
        await uow.commit()
    clock.advance(timedelta(minutes=11))
    async with uow_factory() as uow:
        assert await uow.pending_authorizations.purge_expired(clock.now()) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.pending_authorizations.take(old.pending.key) is None
