"""Administration of accounts and roles, shared by the admin API and the ``idgate`` CLI.

Every action is recorded in the audit log with who did it (``actor_id``: the administrator, or
none for the command line, which only the server's operator can run) and to whom (AU-01).

Rules that keep an installation manageable and its privileges deliberate:

* granting or taking a role, and changing a role's permissions, need the administrator's current
  password when done over the API (:mod:`idgate.core.reauth`, AZ-02);
* the last enabled administrator cannot be disabled, deleted or lose the admin role, and an
  administrator cannot disable or delete their own account over the API;
* built-in roles cannot be deleted and the admin role's permissions (``*``) cannot be changed;
* disabling an account ends its tokens and sessions and revokes its service accounts' API keys
  (SS-08); deleting it deletes its service accounts with their keys, so nothing is orphaned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.clock import Clock
from idgate.core.errors import Conflict, InvalidUsername, NotFound
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import (
    ADMIN_ROLE,
    BUILTIN_ROLES,
    InvalidRoleName,
    Role,
    normalize_permissions,
    validate_permission,
    validate_role_name,
)
from idgate.core.reauth import Reauthentication
from idgate.core.text import plain_text
from idgate.core.usernames import canonical_username, validate_username

T = TypeVar("T")
MAX_PAGE = 200


class LastAdmin(Conflict):
    code = "last_admin"
    default_detail = "This is the last enabled administrator; make another one first."


class SelfAdministration(Conflict):
    code = "self_administration"
    default_detail = "Administrators cannot disable or delete their own account."


class BuiltinRole(Conflict):
    code = "builtin_role"
    default_detail = "Built-in roles cannot be deleted, and the admin role cannot be changed."


class RoleExists(Conflict):
    code = "role_exists"
    default_detail = "A role with this name already exists."


@dataclass(frozen=True)
class Actor:
    """Who performs an administrative action: an administrator, or the operator (``user`` None)."""

    user: User | None
    origin: RequestOrigin

    @property
    def id(self) -> uuid.UUID | None:
        return self.user.id if self.user else None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many items there are in all."""

    items: Sequence[T]
    total: int
    offset: int
    limit: int


def _is_role_name(name: str) -> bool:
    try:
        validate_role_name(name)
    except InvalidRoleName:
        return False
    return True


def revocation_instant(now: datetime) -> datetime:
    """Return the revoked-before instant for "revoke now": the next whole second.

    Token ``iat`` values are whole seconds, so rounding up also catches a token issued earlier in
    the current second.
    """
    return now.replace(microsecond=0) + timedelta(seconds=1)


class AdminService:
    """Administrative actions on users and roles."""

    def __init__(self, clock: Clock, reauth: Reauthentication) -> None:
        self._clock = clock
        self._reauth = reauth

    # --- users ---------------------------------------------------------------------------

    async def list_users(
        self, uow: UnitOfWork, *, query: str | None = None, offset: int = 0, limit: int = 50
    ) -> Page[User]:
        """Return a page of users, oldest first, whose username contains ``query``."""
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        text = plain_text(query, "search text", max_length=128) if query else ""
        needle = canonical_username(text) if text else None
        items, total = await uow.users.search(query=needle, offset=offset, limit=limit)
        return Page(items, total, offset, limit)

    async def get_user(self, uow: UnitOfWork, user_id: uuid.UUID) -> User:
        user = await uow.users.get(user_id)
        if user is None:
            raise NotFound("There is no such user.")
        return user

    async def find_user(self, uow: UnitOfWork, ref: str) -> User:
        """Return the user named by an id or a username (for the command line)."""
        try:
            user = await uow.users.get(uuid.UUID(ref))
        except ValueError:
            try:
                user = await uow.users.get_by_username(canonical_username(validate_username(ref)))
            except InvalidUsername:
                user = None
        if user is None:
            raise NotFound(f"There is no user {ref!r}.")
        return user

    async def set_disabled(
        self, uow: UnitOfWork, actor: Actor, user_id: uuid.UUID, disabled: bool
    ) -> User:
        """Disable (or enable) an account. Disabling ends everything it had issued (SS-08)."""
        user = await self.get_user(uow, user_id)
        details: dict[str, Any] = {}
        if disabled:
            self._not_self(actor, user)
            if not user.disabled and user.is_admin:
                await self._not_last_admin(uow)
            now = self._clock.now()
            await uow.users.set_disabled(user.id, True)
            await uow.users.revoke_credentials(user.id, revocation_instant(now))
            details["api_keys_revoked"] = await uow.api_keys.revoke_owned_by(user.id, now)
        else:
            await uow.users.set_disabled(user.id, False)
        event = AuditEventType.USER_DISABLED if disabled else AuditEventType.USER_ENABLED
        await self._audit(uow, actor, event, user.id, details)
        return await self.get_user(uow, user.id)

    async def delete_user(self, uow: UnitOfWork, actor: Actor, user_id: uuid.UUID) -> None:
        """Delete an account with its roles, service accounts and API keys."""
        user = await self.get_user(uow, user_id)
        self._not_self(actor, user)
        if user.is_admin and not user.disabled:
            await self._not_last_admin(uow)
        accounts = await uow.service_accounts.list(owner_id=user.id, limit=10_000)
        await uow.users.delete(user.id)
        await self._audit(
            uow,
            actor,
            AuditEventType.USER_DELETED,
            user.id,
            {"username": user.username, "service_accounts_deleted": len(accounts)},
        )

    async def revoke_credentials(
        self, uow: UnitOfWork, actor: Actor, user_id: uuid.UUID, *, include_api_keys: bool = False
    ) -> datetime:
        """End every token and session the user holds now ("sign out everywhere"), and with
        ``include_api_keys`` revoke their service accounts' keys too. Returns the instant."""
        user = await self.get_user(uow, user_id)
        now = self._clock.now()
        instant = revocation_instant(now)
        await uow.users.revoke_credentials(user.id, instant)
        details: dict[str, Any] = {"revoked_before": instant.isoformat()}
        if include_api_keys:
            details["api_keys_revoked"] = await uow.api_keys.revoke_owned_by(user.id, now)
        await self._audit(uow, actor, AuditEventType.USER_CREDENTIALS_REVOKED, user.id, details)
        return instant

    async def grant_role(
        self,
        uow: UnitOfWork,
        actor: Actor,
        user_id: uuid.UUID,
        role: str,
        *,
        password: str | None = None,
    ) -> User:
        """Give ``role`` to a user; an administrator confirms with their password (AZ-02)."""
        user = await self.get_user(uow, user_id)
        await self._confirm(uow, actor, password, "role.grant")
        await self.get_role(uow, role)
        if await uow.roles.grant(user.id, role):
            await self._audit(uow, actor, AuditEventType.ROLE_GRANTED, user.id, {"role": role})
        return await self.get_user(uow, user.id)

    async def revoke_role(
        self,
        uow: UnitOfWork,
        actor: Actor,
        user_id: uuid.UUID,
        role: str,
        *,
        password: str | None = None,
    ) -> User:
        """Take ``role`` from a user; effective on the user's next request to idgate (AZ-05)."""
        user = await self.get_user(uow, user_id)
        await self._confirm(uow, actor, password, "role.revoke")
        if role not in user.roles:
            raise NotFound(f"{user.username} does not have the role {role!r}.")
        if role == ADMIN_ROLE and not user.disabled:
            await self._not_last_admin(uow)
        await uow.roles.revoke(user.id, role)
        await self._audit(uow, actor, AuditEventType.ROLE_REVOKED, user.id, {"role": role})
        return await self.get_user(uow, user.id)

    # --- roles ---------------------------------------------------------------------------

    async def list_roles(self, uow: UnitOfWork) -> Sequence[Role]:
        return await uow.roles.list_roles()

    async def get_role(self, uow: UnitOfWork, name: str) -> Role:
        role = await uow.roles.get_role(name) if _is_role_name(name) else None
        if role is None:
            raise NotFound(f"There is no role named {name!r}.")
        return role

    async def create_role(
        self,
        uow: UnitOfWork,
        actor: Actor,
        name: str,
        *,
        description: str = "",
        permissions: Sequence[str] = (),
    ) -> Role:
        """Create a custom role. Nobody holds it yet, so no re-authentication is needed."""
        validate_role_name(name)
        patterns = normalize_permissions(permissions)
        if await uow.roles.get_role(name) is not None:
            raise RoleExists()
        role = Role(
            name=name,
            description=plain_text(description, "description"),
            builtin=False,
            permissions=patterns,
            created_at=self._clock.now(),
        )
        await uow.roles.create_role(role)
        await self._audit(
            uow, actor, AuditEventType.ROLE_CREATED, None, {"role": name, "permissions": patterns}
        )
        return role

    async def delete_role(self, uow: UnitOfWork, actor: Actor, name: str) -> None:
        """Delete a custom role; its holders lose it at once."""
        role = await self.get_role(uow, name)
        if role.builtin or role.name in BUILTIN_ROLES:
            raise BuiltinRole()
        await uow.roles.delete_role(name)
        await self._audit(uow, actor, AuditEventType.ROLE_DELETED, None, {"role": name})

    async def grant_permission(
        self,
        uow: UnitOfWork,
        actor: Actor,
        role: str,
        permission: str,
        *,
        password: str | None = None,
    ) -> Role:
        """Add a permission (or pattern) to a role; its holders have it at once."""
        found = await self._changeable_role(uow, role)
        validate_permission(permission)
        await self._confirm(uow, actor, password, "role.permission_grant")
        if await uow.roles.add_permission(found.name, permission):
            await self._audit(
                uow,
                actor,
                AuditEventType.PERMISSION_GRANTED,
                None,
                {"role": found.name, "permission": permission},
            )
        return await self.get_role(uow, found.name)

    async def revoke_permission(
        self,
        uow: UnitOfWork,
        actor: Actor,
        role: str,
        permission: str,
        *,
        password: str | None = None,
    ) -> Role:
        """Remove a permission from a role; its holders lose it at once."""
        found = await self._changeable_role(uow, role)
        validate_permission(permission)
        await self._confirm(uow, actor, password, "role.permission_revoke")
        if not await uow.roles.remove_permission(found.name, permission):
            raise NotFound(f"The role {found.name!r} does not have {permission!r}.")
        await self._audit(
            uow,
            actor,
            AuditEventType.PERMISSION_REVOKED,
            None,
            {"role": found.name, "permission": permission},
        )
        return await self.get_role(uow, found.name)

    # --- helpers -------------------------------------------------------------------------

    async def _changeable_role(self, uow: UnitOfWork, name: str) -> Role:
        role = await self.get_role(uow, name)
        if role.name == ADMIN_ROLE:
            raise BuiltinRole("The admin role always holds every permission ('*').")
        return role

    async def _confirm(
        self, uow: UnitOfWork, actor: Actor, password: str | None, action: str
    ) -> None:
        # The command line is run by the server's operator, who could edit the database anyway.
        if actor.user is not None:
            await self._reauth.confirm(uow, actor.user, password, actor.origin, action=action)

    async def _not_last_admin(self, uow: UnitOfWork) -> None:
        if await uow.roles.count_members(ADMIN_ROLE) <= 1:
            raise LastAdmin()

    @staticmethod
    def _not_self(actor: Actor, user: User) -> None:
        if actor.user is not None and actor.user.id == user.id:
            raise SelfAdministration()

    async def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        event: AuditEventType,
        subject_id: uuid.UUID | None,
        details: dict[str, Any],
    ) -> None:
        await uow.audit.add(
            AuditEvent.create(
                event,
                self._clock.now(),
                actor.origin,
                actor_id=actor.id,
                subject_id=subject_id,
                details=details,
            )
        )
