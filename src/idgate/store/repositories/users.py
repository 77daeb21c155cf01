"""Accounts and role membership."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.clock import Clock
from idgate.core.errors import NotFound, UsernameTaken
from idgate.core.models import User
from idgate.store.models import RoleRow, UserRoleRow, UserRow


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
