"""Refresh-token families and tokens.

Rotation's compare-and-set and the family lock are single ``UPDATE ... WHERE`` statements whose
row count says who won, so they are correct under concurrency on PostgreSQL (row locks, READ
COMMITTED re-evaluates the condition after a wait) and on SQLite (one writer at a time).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.tokens.refresh import LiveAccessToken, RefreshFamily, RefreshToken
from idgate.store.models import RefreshFamilyRow, RefreshTokenRow


def _family(row: RefreshFamilyRow) -> RefreshFamily:
    return RefreshFamily(
        id=row.id,
        user_id=row.user_id,
        client_id=row.client_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
    )


def _token(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        family_id=row.family_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        access_jti=row.access_jti,
        access_expires_at=row.access_expires_at,
        used_at=row.used_at,
    )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


class SqlRefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_family(self, family: RefreshFamily) -> None:
        self._session.add(
            RefreshFamilyRow(
                id=family.id,
                user_id=family.user_id,
                client_id=family.client_id,
                created_at=family.created_at,
                expires_at=family.expires_at,
                last_used_at=family.last_used_at,
                revoked_at=family.revoked_at,
                revoked_reason=family.revoked_reason,
            )
        )
        await self._session.flush()

    async def add(self, token: RefreshToken) -> None:
        self._session.add(
            RefreshTokenRow(
                id=token.id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                created_at=token.created_at,
                expires_at=token.expires_at,
                used_at=token.used_at,
                access_jti=token.access_jti,
                access_expires_at=token.access_expires_at,
            )
        )
        await self._session.flush()

    async def find(self, token_hash: str) -> tuple[RefreshToken, RefreshFamily] | None:
        result = await self._session.execute(
            select(RefreshTokenRow, RefreshFamilyRow)
            .join(RefreshFamilyRow, RefreshFamilyRow.id == RefreshTokenRow.family_id)
            .where(RefreshTokenRow.token_hash == token_hash)
            .execution_options(populate_existing=True)
        )
        row = result.first()
        if row is None:
            return None
        return _token(row[0]), _family(row[1])

    async def get_family(self, family_id: uuid.UUID) -> RefreshFamily | None:
        row = await self._session.scalar(
            select(RefreshFamilyRow)
            .where(RefreshFamilyRow.id == family_id)
            .execution_options(populate_existing=True)
        )
        return _family(row) if row is not None else None

    async def mark_used(self, token_id: uuid.UUID, at: datetime) -> bool:
        result = await self._session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.id == token_id, RefreshTokenRow.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def touch_family(self, family_id: uuid.UUID, at: datetime) -> bool:
        result = await self._session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.id == family_id, RefreshFamilyRow.revoked_at.is_(None))
            .values(last_used_at=at)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> bool:
        result = await self._session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.id == family_id, RefreshFamilyRow.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def revoke_families_of(
        self, user_id: uuid.UUID, at: datetime, reason: str
    ) -> Sequence[uuid.UUID]:
        result = await self._session.execute(
            update(RefreshFamilyRow)
            .where(RefreshFamilyRow.user_id == user_id, RefreshFamilyRow.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
            .returning(RefreshFamilyRow.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(result.scalars())

    async def live_access_tokens(
        self, family_ids: Sequence[uuid.UUID], now: datetime
    ) -> Sequence[LiveAccessToken]:
        if not family_ids:
            return []
        rows = await self._session.execute(
            select(RefreshTokenRow.access_jti, RefreshTokenRow.access_expires_at).where(
                RefreshTokenRow.family_id.in_(list(family_ids)),
                RefreshTokenRow.access_expires_at > now,
            )
        )
        return [LiveAccessToken(jti, expires_at) for jti, expires_at in rows]

    async def purge_expired(self, user_id: uuid.UUID, now: datetime) -> int:
        expired = select(RefreshFamilyRow.id).where(
            RefreshFamilyRow.user_id == user_id, RefreshFamilyRow.expires_at <= now
        )
        await self._session.execute(
            delete(RefreshTokenRow)
            .where(RefreshTokenRow.family_id.in_(expired))
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(
            delete(RefreshFamilyRow)
            .where(RefreshFamilyRow.user_id == user_id, RefreshFamilyRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)
