"""The audit log: insert and query, never update or delete."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.audit import AuditEvent, Outcome
from idgate.store.models import AuditRow


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.pending: list[AuditEvent] = []

    async def add(self, event: AuditEvent) -> None:
        self._session.add(
            AuditRow(
                id=event.id,
                type=event.type,
                at=event.at,
                outcome=str(event.outcome),
                actor_id=event.actor_id,
                subject_id=event.subject_id,
                ip=event.ip,
                user_agent=event.user_agent,
                request_id=event.request_id,
                reason=event.reason,
                details=event.details,
            )
        )
        self.pending.append(event)

    async def list(
        self,
        *,
        user_id: uuid.UUID | None = None,
        types: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEvent]:
        query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
        if user_id is not None:
            query = query.where((AuditRow.subject_id == user_id) | (AuditRow.actor_id == user_id))
        if types:
            query = query.where(AuditRow.type.in_(list(types)))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        rows = await self._session.scalars(query)
        return [
            AuditEvent(
                id=row.id,
                type=row.type,
                at=row.at,
                outcome=Outcome(row.outcome),
                actor_id=row.actor_id,
                subject_id=row.subject_id,
                ip=row.ip,
                user_agent=row.user_agent,
                request_id=row.request_id,
                reason=row.reason,
                details=dict(row.details or {}),
            )
            for row in rows
        ]
