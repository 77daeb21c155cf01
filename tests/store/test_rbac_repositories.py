"""Role, permission, service-account and API-key repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from idgate.core.apikeys import ApiKey, ServiceAccount, generate_key, hash_key
from idgate.core.clock import FixedClock
from idgate.core.errors import Conflict, NotFound
from idgate.core.models import User
from idgate.core.rbac import Role
from idgate.store.uow import SqlUnitOfWork


def new_user(name: str, clock: FixedClock) -> User:
    return User(id=uuid.uuid4(), username=name, password_hash="h", created_at=clock.now())


def new_key(account: ServiceAccount, clock: FixedClock, **kwargs: object) -> ApiKey:
    secret = generate_key()
    return ApiKey(
        id=uuid.uuid4(),
        service_account_id=account.id,
        key_hash=hash_key(secret),
        last4=secret[-4:],
        created_at=clock.now(),
        scopes=("reports:read", "posts:*"),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_roles_permissions_and_members(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    alice, bob = new_user("alice", clock), new_user("bob", clock)
    async with uow_factory() as uow:
        for user in (alice, bob):
            await uow.users.add(user, user.username)
            await uow.roles.grant(user.id, "admin")
        await uow.roles.create_role(
            Role("editor", "Edits", permissions=("posts:*", "reports:read"), created_at=clock.now())
        )
        with pytest.raises(Conflict):
            await uow.roles.create_role(Role("editor"))
        await uow.roles.grant(alice.id, "editor")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.roles.count_members("admin") == 2
        await uow.users.set_disabled(bob.id, True)
        assert await uow.roles.count_members("admin") == 1  # only enabled users count
        assert await uow.roles.permissions_of(("admin", "editor")) == (
            "*",
            "posts:*",
            "reports:read",
        )
        assert await uow.roles.permissions_of(()) == ()
        assert await uow.roles.add_permission("editor", "stats:read")
        assert not await uow.roles.add_permission("editor", "stats:read")
        with pytest.raises(NotFound):
            await uow.roles.add_permission("nope", "x:y")
        assert await uow.roles.remove_permission("editor", "posts:*")
        assert not await uow.roles.remove_permission("editor", "posts:*")
        role = await uow.roles.get_role("editor")
        assert role is not None and role.permissions == ("reports:read", "stats:read")
        assert [r.name for r in await uow.roles.list_roles()] == ["admin", "editor", "user"]
        assert await uow.roles.revoke(alice.id, "admin")
        assert not await uow.roles.revoke(alice.id, "admin")
        await uow.roles.delete_role("editor")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.roles.get_role("editor") is None
        assert await uow.roles.roles_of(alice.id) == ()
        assert await uow.roles.permissions_of(("editor",)) == ()


async def test_service_accounts_keys_and_cascades(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    owner = new_user("owner", clock)
    account = ServiceAccount(uuid.uuid4(), "ci", owner.id, clock.now(), "builds")
    async with uow_factory() as uow:
        await uow.users.add(owner, "owner")
        await uow.service_accounts.add(account)
        with pytest.raises(Conflict):
            await uow.service_accounts.add(
                ServiceAccount(uuid.uuid4(), "ci", owner.id, clock.now())
            )
    async with uow_factory() as uow:
        await uow.users.add(owner, "owner")
        await uow.service_accounts.add(account)
        live = new_key(account, clock, expires_at=clock.now() + timedelta(days=1))
        old = new_key(account, clock, expires_at=clock.now() - timedelta(seconds=1))
        await uow.api_keys.add(live)
        await uow.api_keys.add(old)
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.api_keys.find_by_hash(live.key_hash)
        assert record is not None and record.key == live and record.account == account
        assert not record.owner_disabled
        assert await uow.api_keys.find_by_hash(hash_key("idg_nothing")) is None
        assert await uow.api_keys.count_active(account.id, clock.now()) == 1
        assert await uow.service_accounts.count(owner.id) == 1
        await uow.api_keys.touch(live.id, clock.now())
        await uow.users.set_disabled(owner.id, True)
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.api_keys.find_by_hash(live.key_hash)
        assert record is not None and record.owner_disabled
        assert record.key.last_used_at == clock.now()
        assert await uow.api_keys.revoke_owned_by(owner.id, clock.now()) == 2
        assert await uow.api_keys.revoke_owned_by(owner.id, clock.now()) == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert all(k.revoked_at == clock.now() for k in await uow.api_keys.list(account.id))
        await uow.users.delete(owner.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.service_accounts.get(account.id) is None
        assert await uow.api_keys.get(live.id) is None
        assert await uow.users.get(owner.id) is None


async def test_user_search_counts_and_escapes(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        for name in ("alice", "al_ice", "bob"):
            clock.advance(seconds=1)
            await uow.users.add(new_user(name, clock), name)
        await uow.commit()
    async with uow_factory() as uow:
        page, total = await uow.users.search(query="al", limit=1)
        assert total == 2 and [u.username for u in page] == ["alice"]
        page, total = await uow.users.search(query="_")
        assert total == 1 and page[0].username == "al_ice"
        page, total = await uow.users.search(query="%")
        assert total == 0 and list(page) == []
        page, total = await uow.users.search()
        assert total == 3
