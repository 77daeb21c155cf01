"""AdminService on the in-memory store: guards, re-authentication, and the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from idgate.core.admin import (
    Actor,
    AdminService,
    BuiltinRole,
    LastAdmin,
    RoleExists,
    SelfAdministration,
)
from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import FixedClock
from idgate.core.errors import CurrentPasswordIncorrect, NotFound
from idgate.core.models import SYSTEM_ORIGIN, RequestOrigin, User
from idgate.core.passwords.hashers import BcryptHasher, PasswordHashers, Pepper
from idgate.core.passwords.policy import PasswordPolicy
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import InvalidPermission, InvalidRoleName
from idgate.core.reauth import Reauthentication, ReauthenticationRequired
from idgate.core.service_accounts import ServiceAccountService
from idgate.core.users import UserService
from idgate.store.memory import MemoryStore, MemoryUnitOfWork
from idgate.store.uow import run_in_unit_of_work

PASSWORD = "correct horse battery staple"
ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="pytest", request_id="r")
T = TypeVar("T")


class World:
    def __init__(self) -> None:
        self.store = MemoryStore()
        self.clock = FixedClock()
        hashers = PasswordHashers(
            [BcryptHasher([Pepper.from_secret(b"p" * 32)], cost=4, allow_low_cost=True)]
        )
        pool = HashingPool(2)
        self.users = UserService(hashers, PasswordPolicy(), pool, self.clock)
        self.admin = AdminService(
            self.clock, Reauthentication(hashers, pool, self.clock, max_length=1024)
        )
        self.keys = ServiceAccountService(self.clock, default_ttl=timedelta(days=90))

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await run_in_unit_of_work(lambda: MemoryUnitOfWork(self.store), work)

    async def user(self, name: str, *roles: str) -> User:
        return await self.run(
            lambda uow: self.users.register(uow, name, PASSWORD, ORIGIN, roles=("user", *roles))
        )

    def events(self, type: AuditEventType) -> list[AuditEvent]:
        return [e for e in self.store.audit if e.type == type]


@pytest.fixture
def world() -> World:
    return World()


async def test_role_changes_need_the_admins_password(world: World) -> None:
    root = await world.user("root", "admin")
    alice = await world.user("alice")
    actor = Actor(root, ORIGIN)
    with pytest.raises(ReauthenticationRequired):
        await world.run(lambda uow: world.admin.grant_role(uow, actor, alice.id, "admin"))
    with pytest.raises(CurrentPasswordIncorrect):
        await world.run(
            lambda uow: world.admin.grant_role(uow, actor, alice.id, "admin", password="nope")
        )
    assert (alice.id, "admin") not in world.store.memberships
    (failed,) = world.events(AuditEventType.REAUTHENTICATION_FAILED)
    assert failed.outcome == Outcome.FAILURE and failed.actor_id == root.id
    user = await world.run(
        lambda uow: world.admin.grant_role(uow, actor, alice.id, "admin", password=PASSWORD)
    )
    assert user.roles == ("admin", "user")
    (granted,) = world.events(AuditEventType.ROLE_GRANTED)
    assert (granted.actor_id, granted.subject_id) == (root.id, alice.id)
    # The operator's command line needs no password.
    cli = Actor(None, SYSTEM_ORIGIN)
    user = await world.run(lambda uow: world.admin.revoke_role(uow, cli, alice.id, "admin"))
    assert user.roles == ("user",)
    with pytest.raises(NotFound):
        await world.run(lambda uow: world.admin.grant_role(uow, cli, alice.id, "nonexistent"))


async def test_the_last_admin_stays(world: World) -> None:
    root = await world.user("root", "admin")
    cli = Actor(None, SYSTEM_ORIGIN)
    with pytest.raises(LastAdmin):
        await world.run(lambda uow: world.admin.revoke_role(uow, cli, root.id, "admin"))
    with pytest.raises(LastAdmin):
        await world.run(lambda uow: world.admin.set_disabled(uow, cli, root.id, True))
    with pytest.raises(LastAdmin):
        await world.run(lambda uow: world.admin.delete_user(uow, cli, root.id))
    other = await world.user("other", "admin")
    with pytest.raises(SelfAdministration):
        await world.run(
            lambda uow: world.admin.set_disabled(uow, Actor(other, ORIGIN), other.id, True)
        )
    await world.run(lambda uow: world.admin.set_disabled(uow, Actor(other, ORIGIN), root.id, True))


async def test_disable_ends_credentials_and_keys_and_delete_leaves_no_orphans(
    world: World,
) -> None:
    root = await world.user("root", "admin")
    alice = await world.user("alice")
    account = await world.run(lambda uow: world.keys.create_account(uow, alice, "ci", ORIGIN))
    await world.run(lambda uow: world.keys.create_key(uow, account, ORIGIN))
    actor = Actor(root, ORIGIN)
    disabled = await world.run(lambda uow: world.admin.set_disabled(uow, actor, alice.id, True))
    assert disabled.disabled and disabled.revoked_before is not None
    assert disabled.revoked_before > world.clock.now()  # catches tokens of the current second
    assert all(k.revoked_at is not None for k in world.store.api_keys.values())
    (event,) = world.events(AuditEventType.USER_DISABLED)
    assert event.details == {"api_keys_revoked": 1}
    enabled = await world.run(lambda uow: world.admin.set_disabled(uow, actor, alice.id, False))
    assert not enabled.disabled
    await world.run(lambda uow: world.admin.delete_user(uow, actor, alice.id))
    assert alice.id not in world.store.users
    assert not world.store.service_accounts and not world.store.api_keys
    assert not [m for m in world.store.memberships if m[0] == alice.id]
    (deleted,) = world.events(AuditEventType.USER_DELETED)
    assert deleted.details["service_accounts_deleted"] == 1


async def test_roles_and_permissions(world: World) -> None:
    root = await world.user("root", "admin")
    actor = Actor(root, ORIGIN)
    role = await world.run(
        lambda uow: world.admin.create_role(
            uow, actor, "moderator", description="Moderates", permissions=["posts:delete"]
        )
    )
    assert role.permissions == ("posts:delete",) and not role.builtin
    with pytest.raises(RoleExists):
        await world.run(lambda uow: world.admin.create_role(uow, actor, "moderator"))
    with pytest.raises(InvalidRoleName):
        await world.run(lambda uow: world.admin.create_role(uow, actor, "Bad Name"))
    with pytest.raises(InvalidPermission):
        await world.run(
            lambda uow: world.admin.create_role(uow, actor, "x-role", permissions=["BAD"])
        )
    role = await world.run(
        lambda uow: world.admin.grant_permission(
            uow, actor, "moderator", "posts:*", password=PASSWORD
        )
    )
    assert role.permissions == ("posts:*", "posts:delete")
    role = await world.run(
        lambda uow: world.admin.revoke_permission(
            uow, actor, "moderator", "posts:delete", password=PASSWORD
        )
    )
    assert role.permissions == ("posts:*",)
    with pytest.raises(NotFound):
        await world.run(
            lambda uow: world.admin.revoke_permission(
                uow, actor, "moderator", "posts:delete", password=PASSWORD
            )
        )
    with pytest.raises(BuiltinRole):
        await world.run(
            lambda uow: world.admin.revoke_permission(uow, actor, "admin", "*", password=PASSWORD)
        )
    for builtin in ("admin", "user"):
        with pytest.raises(BuiltinRole):
            await world.run(lambda uow, b=builtin: world.admin.delete_role(uow, actor, b))  # type: ignore[misc]
    await world.run(lambda uow: world.admin.delete_role(uow, actor, "moderator"))
    assert "moderator" not in world.store.roles
    types = [e.type for e in world.store.audit if e.type.startswith("role.")]
    assert types == [
        AuditEventType.ROLE_CREATED,
        AuditEventType.PERMISSION_GRANTED,
        AuditEventType.PERMISSION_REVOKED,
        AuditEventType.ROLE_DELETED,
    ]


async def test_listing_pages_and_searches(world: World) -> None:
    for name in ("alice", "alfred", "bob", "Carol"):
        await world.user(name)
        world.clock.advance(seconds=1)
    page = await world.run(lambda uow: world.admin.list_users(uow, query="AL", limit=1))
    assert page.total == 2 and [u.username for u in page.items] == ["alice"]
    page = await world.run(lambda uow: world.admin.list_users(uow, query="al", offset=1))
    assert [u.username for u in page.items] == ["alfred"]
    page = await world.run(lambda uow: world.admin.list_users(uow, query="carol"))
    assert [u.username for u in page.items] == ["Carol"]
    page = await world.run(lambda uow: world.admin.list_users(uow, limit=10_000))
    assert page.total == 4 and page.limit == 200
