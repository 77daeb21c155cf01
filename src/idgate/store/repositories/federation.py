"""Linked provider identities and pending authorizations in the database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.federation import (
    FederatedIdentity,
    IdentityLinkedElsewhere,
    PendingAuthorization,
    Purpose,
)
from idgate.store.models import FederatedIdentityRow, PendingAuthorizationRow


def _identity(row: FederatedIdentityRow) -> FederatedIdentity:
    return FederatedIdentity(
        id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        subject=row.subject,
        email=row.email,
        email_verified=row.email_verified,
        login=row.login,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


class SqlFederatedIdentityRepository:
    """Implements :class:`idgate.core.ports.FederatedIdentityRepository`."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, provider: str, subject: str) -> FederatedIdentity | None:
        row = await self._session.scalar(
            select(FederatedIdentityRow).where(
                FederatedIdentityRow.provider == provider,
                FederatedIdentityRow.subject == subject,
            )
        )
        return _identity(row) if row is not None else None

    async def get_by_id(self, identity_id: uuid.UUID) -> FederatedIdentity | None:
        row = await self._session.get(FederatedIdentityRow, identity_id)
        return _identity(row) if row is not None else None

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[FederatedIdentity]:
        rows = await self._session.scalars(
            select(FederatedIdentityRow).where(FederatedIdentityRow.user_id == user_id)
        )
        return [_identity(row) for row in rows]

    async def find_verified_email(self, email: str) -> Sequence[FederatedIdentity]:
        rows = await self._session.scalars(
            select(FederatedIdentityRow).where(
                FederatedIdentityRow.email == email,
                FederatedIdentityRow.email_verified.is_(True),
            )
        )
        return [_identity(row) for row in rows]

    async def add(self, identity: FederatedIdentity) -> None:
        if await self.get(identity.provider, identity.subject) is not None:
            raise IdentityLinkedElsewhere()
        self._session.add(
            FederatedIdentityRow(
                id=identity.id,
                user_id=identity.user_id,
                provider=identity.provider,
                subject=identity.subject,
                email=identity.email,
                email_verified=identity.email_verified,
                login=identity.login,
                created_at=identity.created_at,
                last_login_at=identity.last_login_at,
            )
        )
        try:
            await self._session.flush()
        except IntegrityError:
            # A concurrent login linked the same (provider, subject) first.
            await self._session.rollback()
            raise IdentityLinkedElsewhere() from None

    async def update(self, identity: FederatedIdentity) -> None:
        row = await self._session.get(FederatedIdentityRow, identity.id)
        if row is not None:
            row.email = identity.email
            row.email_verified = identity.email_verified
            row.login = identity.login
            row.last_login_at = identity.last_login_at
            await self._session.flush()

    async def delete(self, identity_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(FederatedIdentityRow).where(FederatedIdentityRow.id == identity_id)
        )


class SqlPendingAuthorizationRepository:
    """Implements :class:`idgate.core.ports.PendingAuthorizationRepository`."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, pending: PendingAuthorization) -> None:
        self._session.add(
            PendingAuthorizationRow(
                key=pending.key,
                session_key=pending.session_key,
                provider=pending.provider,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
                next_path=pending.next_path,
                purpose=pending.purpose,
                user_id=pending.user_id,
                created_at=pending.created_at,
                expires_at=pending.expires_at,
            )
        )
        await self._session.flush()

    async def take(self, key: str) -> PendingAuthorization | None:
        row = await self._session.get(PendingAuthorizationRow, key)
        if row is None:
            return None
        pending = PendingAuthorization(
            key=row.key,
            session_key=row.session_key,
            provider=row.provider,
            code_verifier=row.code_verifier,
            nonce=row.nonce,
            next_path=row.next_path,
            purpose=cast(Purpose, row.purpose),
            user_id=row.user_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )
        # The DELETE decides: of two concurrent requests with the same state, only the one whose
        # statement removed the row gets it (the other sees rowcount 0).
        result = await self._session.execute(
            delete(PendingAuthorizationRow).where(PendingAuthorizationRow.key == key)
        )
        self._session.expunge(row)
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return None
        return pending

    async def purge_expired(self, now: datetime) -> int:
        result = await self._session.execute(
            delete(PendingAuthorizationRow).where(PendingAuthorizationRow.expires_at <= now)
        )
        return int(getattr(result, "rowcount", 0) or 0)
