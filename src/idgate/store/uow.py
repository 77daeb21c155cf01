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
    """Implements :class:`idgate.core.ports.UnitOfWork` on an ``AsyncSession``.

    The session (and its repositories) is opened on first use, not on entry: most bearer requests
    read the account through :mod:`idgate.store.user_state` and never touch it, and an unused
    ``AsyncSession`` still costs its construction, a commit and a close on every request
    (docs/benchmarks.md). Nothing is lost: a session that was never opened holds no transaction.
    """

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
        self._repositories: _Repositories | None = None
        self._external_revocations: RevocationList | None = None
        self._open = False

    @property
    def session(self) -> AsyncSession:
        """The unit's session, opened now if nothing has used it yet."""
        return self._repos().session

    def _repos(self) -> _Repositories:
        repositories = self._repositories
        if repositories is None:
            if not self._open:
                raise RuntimeError("the unit of work is not open")
            session = self._session = self._sessions()
            repositories = self._repositories = _Repositories(session, self._clock)
        return repositories

    @property
    def users(self) -> SqlUserRepository:
        return self._repos().users

    @property
    def roles(self) -> SqlRoleRepository:
        return self._repos().roles

    @property
    def audit(self) -> SqlAuditRepository:
        return self._repos().audit

    @property
    def service_accounts(self) -> SqlServiceAccountRepository:
        return self._repos().service_accounts

    @property
    def api_keys(self) -> SqlApiKeyRepository:
        return self._repos().api_keys

    @property
    def sessions(self) -> SqlSessionRepository:
        return self._repos().sessions

    @property
    def federated_identities(self) -> SqlFederatedIdentityRepository:
        return self._repos().federated_identities

    @property
    def pending_authorizations(self) -> SqlPendingAuthorizationRepository:
        return self._repos().pending_authorizations

    @property
    def refresh_tokens(self) -> SqlRefreshTokenRepository:
        return self._repos().refresh_tokens

    @property
    def revocations(self) -> RevocationList:
        if self._revocations is None:
            return self._repos().revocations
        # A deny-list kept elsewhere (Redis) needs no database session.
        if not self._open:
            raise RuntimeError("the unit of work is not open")
        if self._external_revocations is None:
            self._external_revocations = self._revocations()
        return self._external_revocations

    async def __aenter__(self) -> Self:
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        session, self._session, self._repositories = self._session, None, None
        self._external_revocations = None
        if session is not None:
            await session.rollback()  # a no-op after commit
            await session.close()

    async def commit(self) -> None:
        repositories = self._repositories
        if repositories is None:
            if not self._open:
                raise RuntimeError("the unit of work is not open")
            return  # nothing was read or staged: there is no transaction to commit
        await repositories.session.commit()
        events, repositories.audit.pending = repositories.audit.pending, []
        for event in events:
            audit_log.info(event.type, extra={"audit": event.as_log_record()})

    async def rollback(self) -> None:
        repositories = self._repositories
        if repositories is None:
            return
        await repositories.session.rollback()
        repositories.audit.pending = []

    async def release(self) -> None:
        session = self._session
        if session is None or not session.in_transaction():
            return
        if session.new or session.dirty or session.deleted:
            return  # staged changes keep their transaction (never the case before a hash)
        # Only reads happened: ending the transaction loses nothing and frees the connection.
        await session.rollback()


class _Repositories:
    """The repositories of one open session."""

    __slots__ = (
        "api_keys",
        "audit",
        "federated_identities",
        "pending_authorizations",
        "refresh_tokens",
        "revocations",
        "roles",
        "service_accounts",
        "session",
        "sessions",
        "users",
    )

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self.session = session
        self.users = SqlUserRepository(session, clock)
        self.roles = SqlRoleRepository(session, clock)
        self.audit = SqlAuditRepository(session)
        self.service_accounts = SqlServiceAccountRepository(session)
        self.api_keys = SqlApiKeyRepository(session)
        self.sessions = SqlSessionRepository(session)
        self.federated_identities = SqlFederatedIdentityRepository(session)
        self.pending_authorizations = SqlPendingAuthorizationRepository(session)
        self.refresh_tokens = SqlRefreshTokenRepository(session)
        self.revocations = SqlRevocationList(session, clock)


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
