"""The SQLAlchemy unit of work: one session, one transaction, one commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from idgate.core.clock import Clock
from idgate.core.errors import IdgateError
from idgate.core.ports import RevocationList, UnitOfWork
from idgate.store.repositories.apikeys import SqlApiKeyRepository, SqlServiceAccountRepository
from idgate.store.repositories.audit import SqlAuditRepository
from idgate.store.repositories.federation import (
    SqlFederatedIdentityRepository,
    SqlPendingAuthorizationRepository,
)
from idgate.store.repositories.sessions import SqlSessionRepository
from idgate.store.repositories.tokens import SqlRefreshTokenRepository
from idgate.store.repositories.users import SqlRoleRepository, SqlUserRepository
from idgate.store.revocations import SqlRevocationList

audit_log = logging.getLogger("idgate.audit")
T = TypeVar("T")


class SqlUnitOfWork:
    """Implements :class:`idgate.core.ports.UnitOfWork` on an ``AsyncSession``."""

    users: SqlUserRepository
    roles: SqlRoleRepository
    audit: SqlAuditRepository
    service_accounts: SqlServiceAccountRepository
    api_keys: SqlApiKeyRepository
    sessions: SqlSessionRepository
    federated_identities: SqlFederatedIdentityRepository
    pending_authorizations: SqlPendingAuthorizationRepository
    refresh_tokens: SqlRefreshTokenRepository
    revocations: RevocationList

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        revocations: Callable[[], RevocationList] | None = None,
    ) -> None:
        """``revocations``: where the deny-list lives; default: this database, in this unit."""
        self._sessions = sessions
        self._clock = clock
        self._revocations = revocations
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def __aenter__(self) -> Self:
        session = self._session = self._sessions()
        self.users = SqlUserRepository(session, self._clock)
        self.roles = SqlRoleRepository(session, self._clock)
        self.audit = SqlAuditRepository(session)
        self.service_accounts = SqlServiceAccountRepository(session)
        self.api_keys = SqlApiKeyRepository(session)
        self.sessions = SqlSessionRepository(session)
        self.federated_identities = SqlFederatedIdentityRepository(session)
        self.pending_authorizations = SqlPendingAuthorizationRepository(session)
        self.refresh_tokens = SqlRefreshTokenRepository(session)
        self.revocations = (
            self._revocations() if self._revocations else SqlRevocationList(session, self._clock)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.rollback()  # a no-op after commit
            await session.close()

    async def commit(self) -> None:
        await self.session.commit()
        events, self.audit.pending = self.audit.pending, []
        for event in events:
            audit_log.info(event.type, extra={"audit": event.as_log_record()})

    async def rollback(self) -> None:
        await self.session.rollback()
        self.audit.pending = []

    async def release(self) -> None:
        session = self._session
        if session is None or not session.in_transaction():
            return
        if session.new or session.dirty or session.deleted:
            return  # staged changes keep their transaction (never the case before a hash)
        # Only reads happened: ending the transaction loses nothing and frees the connection.
        await session.rollback()


async def run_in_unit_of_work(
    factory: Callable[[], UnitOfWork], work: Callable[[UnitOfWork], Awaitable[T]]
) -> T:
    """Run ``work`` in a fresh unit of work and end it the idgate way.

    It commits when ``work`` returns, and also when it raises a deliberate :class:`IdgateError`,
    because the core stages only what must be kept before it refuses something (a failed login's
    audit event, a throttling counter). Any other exception rolls everything back.
    """
    async with factory() as uow:
        try:
            result = await work(uow)
        except IdgateError:
            await uow.commit()
            raise
        await uow.commit()
        return result
