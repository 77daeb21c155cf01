"""Service accounts and API keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.apikeys import ApiKey, ApiKeyRecord, ServiceAccount
from idgate.core.errors import Conflict
from idgate.store.models import ApiKeyRow, ServiceAccountRow, UserRow


def _account(row: ServiceAccountRow) -> ServiceAccount:
    return ServiceAccount(
        id=row.id,
        name=row.name,
        owner_id=row.owner_id,
        created_at=row.created_at,
        description=row.description,
    )


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        service_account_id=row.service_account_id,
        key_hash=row.key_hash,
        last4=row.last4,
        created_at=row.created_at,
        name=row.name,
        scopes=tuple(row.scopes or ()),
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        created_by=row.created_by,
    )


class SqlServiceAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, account: ServiceAccount) -> None:
        taken = await self._session.scalar(
            select(ServiceAccountRow.id).where(
                ServiceAccountRow.owner_id == account.owner_id,
                ServiceAccountRow.name == account.name,
            )
        )
        if taken is not None:
            raise Conflict(f"You already have a service account named {account.name!r}.")
        self._session.add(
            ServiceAccountRow(
                id=account.id,
                owner_id=account.owner_id,
                name=account.name,
                description=account.description,
                created_at=account.created_at,
            )
        )
        try:
            await self._session.flush()
        except IntegrityError:
            # A concurrent request created the same name; nothing else was staged before this.
            await self._session.rollback()
            raise Conflict(f"You already have a service account named {account.name!r}.") from None

    async def get(self, account_id: uuid.UUID) -> ServiceAccount | None:
        row = await self._session.get(ServiceAccountRow, account_id)
        return _account(row) if row else None

    async def list(
        self, *, owner_id: uuid.UUID | None = None, offset: int = 0, limit: int = 100
    ) -> Sequence[ServiceAccount]:
        query = (
            select(ServiceAccountRow)
            .order_by(ServiceAccountRow.created_at, ServiceAccountRow.id)
            .offset(offset)
            .limit(limit)
        )
        if owner_id is not None:
            query = query.where(ServiceAccountRow.owner_id == owner_id)
        return [_account(row) for row in await self._session.scalars(query)]

    async def count(self, owner_id: uuid.UUID) -> int:
        total = await self._session.scalar(
            select(func.count())
            .select_from(ServiceAccountRow)
            .where(ServiceAccountRow.owner_id == owner_id)
        )
        return int(total or 0)

    async def delete(self, account_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(ApiKeyRow).where(ApiKeyRow.service_account_id == account_id)
        )
        await self._session.execute(
            delete(ServiceAccountRow).where(ServiceAccountRow.id == account_id)
        )


class SqlApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, key: ApiKey) -> None:
        self._session.add(
            ApiKeyRow(
                id=key.id,
                service_account_id=key.service_account_id,
                name=key.name,
                key_hash=key.key_hash,
                last4=key.last4,
                scopes=list(key.scopes),
                created_at=key.created_at,
                created_by=key.created_by,
                expires_at=key.expires_at,
                last_used_at=key.last_used_at,
                revoked_at=key.revoked_at,
            )
        )
        await self._session.flush()

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        row = await self._session.get(ApiKeyRow, key_id)
        return _key(row) if row else None

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        found = (
            await self._session.execute(
                select(ApiKeyRow, ServiceAccountRow, UserRow.disabled)
                .join(ServiceAccountRow, ServiceAccountRow.id == ApiKeyRow.service_account_id)
                .join(UserRow, UserRow.id == ServiceAccountRow.owner_id)
                .where(ApiKeyRow.key_hash == key_hash)
            )
        ).first()
        if found is None:
            return None
        key, account, owner_disabled = found
        return ApiKeyRecord(_key(key), _account(account), bool(owner_disabled))

    async def list(self, account_id: uuid.UUID) -> Sequence[ApiKey]:
        rows = await self._session.scalars(
            select(ApiKeyRow)
            .where(ApiKeyRow.service_account_id == account_id)
            .order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id)
        )
        return [_key(row) for row in rows]

    async def count_active(self, account_id: uuid.UUID, now: datetime) -> int:
        total = await self._session.scalar(
            select(func.count())
            .select_from(ApiKeyRow)
            .where(
                ApiKeyRow.service_account_id == account_id,
                or_(ApiKeyRow.revoked_at.is_(None), ApiKeyRow.revoked_at > now),
                or_(ApiKeyRow.expires_at.is_(None), ApiKeyRow.expires_at > now),
            )
        )
        return int(total or 0)

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> None:
        await self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def set_expiry(self, key_id: uuid.UUID, at: datetime | None) -> None:
        await self._session.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(expires_at=at)
        )

    async def touch(self, key_id: uuid.UUID, at: datetime) -> None:
        await self._session.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=at)
        )

    async def revoke_owned_by(self, owner_id: uuid.UUID, at: datetime) -> int:
        accounts = select(ServiceAccountRow.id).where(ServiceAccountRow.owner_id == owner_id)
        result = await self._session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.service_account_id.in_(accounts), ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
