"""Accounts and role membership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.clock import Clock
from idgate.core.errors import Conflict, NotFound, UsernameTaken
from idgate.core.models import User
from idgate.core.rbac import Role
from idgate.store.models import (
    ApiKeyRow,
    RolePermissionRow,
    RoleRow,
    ServiceAccountRow,
    UserRoleRow,
    UserRow,
)


def _to_domain(row: UserRow, roles: Sequence[str]) -> User:
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        created_at=row.created_at,
        disabled=row.disabled,
        roles=tuple(sorted(roles)),
        revoked_before=row.revoked_before,
    )


class SqlUserRepository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def _roles(self, user_id: uuid.UUID) -> list[str]:
        result = await self._session.scalars(
            select(UserRoleRow.role).where(UserRoleRow.user_id == user_id)
        )
        return list(result)

    async def get(self, user_id: uuid.UUID) -> User | None:
        row = await self._session.get(UserRow, user_id)
        if row is None:
            return None
        return _to_domain(row, await self._roles(row.id))

    async def get_by_username(self, canonical: str) -> User | None:
        row = await self._session.scalar(
            select(UserRow).where(UserRow.username_canonical == canonical)
        )
        if row is None:
            return None
        return _to_domain(row, await self._roles(row.id))

    async def add(self, user: User, canonical: str) -> None:
        existing = await self._session.scalar(
            select(UserRow.id).where(UserRow.username_canonical == canonical)
        )
        if existing is not None:
            raise UsernameTaken()
        self._session.add(
            UserRow(
                id=user.id,
                username=user.username,
                username_canonical=canonical,
                password_hash=user.password_hash,
                disabled=user.disabled,
                created_at=user.created_at,
                updated_at=user.created_at,
            )
        )
        try:
            await self._session.flush()
        except IntegrityError:
            # Lost a race with a concurrent registration of the same name. Nothing else was staged
            # before the insert (registration validates first), so rolling back loses nothing.
            await self._session.rollback()
            raise UsernameTaken() from None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(password_hash=password_hash, updated_at=self._clock.now())
        )

    async def set_disabled(self, user_id: uuid.UUID, disabled: bool) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(disabled=disabled, updated_at=self._clock.now())
        )

    async def revoke_credentials(self, user_id: uuid.UUID, before: datetime) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(revoked_before=before, updated_at=self._clock.now())
        )

    async def list(self, *, offset: int = 0, limit: int = 50) -> Sequence[User]:
        rows = list(
            await self._session.scalars(
                select(UserRow).order_by(UserRow.created_at, UserRow.id).offset(offset).limit(limit)
            )
        )
        return await self._with_roles(rows)

    async def search(
        self, *, query: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[Sequence[User], int]:
        condition = UserRow.username_canonical.contains(query, autoescape=True) if query else None
        page = select(UserRow).order_by(UserRow.created_at, UserRow.id).offset(offset).limit(limit)
        count = select(func.count()).select_from(UserRow)
        if condition is not None:
            page, count = page.where(condition), count.where(condition)
        rows = list(await self._session.scalars(page))
        total = await self._session.scalar(count)
        return await self._with_roles(rows), int(total or 0)

    async def delete(self, user_id: uuid.UUID) -> None:
        # The foreign keys cascade too; deleting explicitly keeps the order obvious.
        accounts = select(ServiceAccountRow.id).where(ServiceAccountRow.owner_id == user_id)
        await self._session.execute(
            delete(ApiKeyRow).where(ApiKeyRow.service_account_id.in_(accounts))
        )
        await self._session.execute(
            delete(ServiceAccountRow).where(ServiceAccountRow.owner_id == user_id)
        )
        await self._session.execute(delete(UserRoleRow).where(UserRoleRow.user_id == user_id))
        await self._session.execute(delete(UserRow).where(UserRow.id == user_id))

    async def _with_roles(self, rows: Sequence[UserRow]) -> Sequence[User]:
        if not rows:
            return []
        memberships = await self._session.execute(
            select(UserRoleRow.user_id, UserRoleRow.role).where(
                UserRoleRow.user_id.in_([row.id for row in rows])
            )
        )
        roles: dict[uuid.UUID, list[str]] = {}
        for user_id, role in memberships:
            roles.setdefault(user_id, []).append(role)
        return [_to_domain(row, roles.get(row.id, [])) for row in rows]


class SqlRoleRepository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def grant(self, user_id: uuid.UUID, role: str) -> bool:
        if await self._session.get(RoleRow, role) is None:
            raise NotFound(f"There is no role named {role!r}.")
        if await self._session.get(UserRoleRow, (user_id, role)) is not None:
            return False
        self._session.add(UserRoleRow(user_id=user_id, role=role, granted_at=self._clock.now()))
        await self._session.flush()
        return True

    async def roles_of(self, user_id: uuid.UUID) -> tuple[str, ...]:
        result = await self._session.scalars(
            select(UserRoleRow.role)
            .where(UserRoleRow.user_id == user_id)
            .order_by(UserRoleRow.role)
        )
        return tuple(result)

    async def revoke(self, user_id: uuid.UUID, role: str) -> bool:
        result = await self._session.execute(
            delete(UserRoleRow).where(UserRoleRow.user_id == user_id, UserRoleRow.role == role)
        )
        return bool(getattr(result, "rowcount", 0))

    async def _permissions(self, names: Sequence[str]) -> dict[str, list[str]]:
        rows = await self._session.execute(
            select(RolePermissionRow.role, RolePermissionRow.permission)
            .where(RolePermissionRow.role.in_(list(names)))
            .order_by(RolePermissionRow.permission)
        )
        found: dict[str, list[str]] = {}
        for role, permission in rows:
            found.setdefault(role, []).append(permission)
        return found

    async def get_role(self, name: str) -> Role | None:
        row = await self._session.get(RoleRow, name)
        if row is None:
            return None
        permissions = await self._permissions([name])
        return _role(row, permissions.get(name, []))

    async def list_roles(self) -> Sequence[Role]:
        rows = list(await self._session.scalars(select(RoleRow).order_by(RoleRow.name)))
        permissions = await self._permissions([row.name for row in rows])
        return [_role(row, permissions.get(row.name, [])) for row in rows]

    async def create_role(self, role: Role) -> None:
        if await self._session.get(RoleRow, role.name) is not None:
            raise Conflict(f"A role named {role.name!r} already exists.")
        now = self._clock.now()
        self._session.add(
            RoleRow(
                name=role.name,
                description=role.description,
                builtin=role.builtin,
                created_at=role.created_at or now,
            )
        )
        await self._session.flush()
        for permission in role.permissions:
            self._session.add(
                RolePermissionRow(role=role.name, permission=permission, granted_at=now)
            )
        await self._session.flush()

    async def delete_role(self, name: str) -> None:
        await self._session.execute(delete(RolePermissionRow).where(RolePermissionRow.role == name))
        await self._session.execute(delete(UserRoleRow).where(UserRoleRow.role == name))
        await self._session.execute(delete(RoleRow).where(RoleRow.name == name))

    async def add_permission(self, role: str, permission: str) -> bool:
        if await self._session.get(RoleRow, role) is None:
            raise NotFound(f"There is no role named {role!r}.")
        if await self._session.get(RolePermissionRow, (role, permission)) is not None:
            return False
        self._session.add(
            RolePermissionRow(role=role, permission=permission, granted_at=self._clock.now())
        )
        await self._session.flush()
        return True

    async def remove_permission(self, role: str, permission: str) -> bool:
        result = await self._session.execute(
            delete(RolePermissionRow).where(
                RolePermissionRow.role == role, RolePermissionRow.permission == permission
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def permissions_of(self, roles: Sequence[str]) -> tuple[str, ...]:
        if not roles:
            return ()
        result = await self._session.scalars(
            select(RolePermissionRow.permission)
            .where(RolePermissionRow.role.in_(list(roles)))
            .distinct()
            .order_by(RolePermissionRow.permission)
        )
        return tuple(result)

    async def count_members(self, role: str) -> int:
        total = await self._session.scalar(
            select(func.count())
            .select_from(UserRoleRow)
            .join(UserRow, UserRow.id == UserRoleRow.user_id)
            .where(UserRoleRow.role == role, UserRow.disabled.is_(False))
        )
        return int(total or 0)


def _role(row: RoleRow, permissions: Sequence[str]) -> Role:
    return Role(
        name=row.name,
        description=row.description,
        builtin=row.builtin,
        permissions=tuple(sorted(permissions)),
        created_at=row.created_at,
    )
