"""Browser sessions in the database (the default session store)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.sessions import BrowserSession
from idgate.store.models import BrowserSessionRow


def _to_domain(row: BrowserSessionRow) -> BrowserSession:
    return BrowserSession(
        key=row.key,
        public_id=row.public_id,
        user_id=row.user_id,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        signed_in_at=row.signed_in_at,
        authenticated_at=row.authenticated_at,
        ip=row.ip,
        user_agent=row.user_agent,
    )


class SqlSessionRepository:
    """Implements :class:`idgate.core.ports.SessionRepository` in the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: BrowserSession, *, keep_until: datetime) -> None:
        self._session.add(
            BrowserSessionRow(
                key=session.key,
                public_id=session.public_id,
                user_id=session.user_id,
                csrf_token=session.csrf_token,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                keep_until=keep_until,
                signed_in_at=session.signed_in_at,
                authenticated_at=session.authenticated_at,
                ip=session.ip,
                user_agent=session.user_agent,
            )
        )
        await self._session.flush()

    async def get(self, key: str) -> BrowserSession | None:
        row = await self._session.get(BrowserSessionRow, key)
        return _to_domain(row) if row is not None else None

    async def touch(self, session: BrowserSession, *, keep_until: datetime) -> None:
        row = await self._session.get(BrowserSessionRow, session.key)
        if row is not None:
            row.last_seen_at = session.last_seen_at
            row.keep_until = keep_until
            row.ip = session.ip
            row.user_agent = session.user_agent
            await self._session.flush()

    async def delete(self, key: str) -> None:
        row = await self._session.get(BrowserSessionRow, key)
        if row is not None:
            await self._session.delete(row)
            await self._session.flush()

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[BrowserSession]:
        rows = await self._session.scalars(
            select(BrowserSessionRow).where(BrowserSessionRow.user_id == user_id)
        )
        return [_to_domain(row) for row in rows]

    async def purge_expired(self, now: datetime) -> int:
        result = await self._session.execute(
            delete(BrowserSessionRow).where(BrowserSessionRow.keep_until <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)
