"""The storage and infrastructure the core needs, as protocols. ``idgate.store`` implements them.

Repositories read and stage changes (they flush, never commit); the :class:`UnitOfWork` commits
once per request or command, so a multi-step change and its audit event land together or not at
all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from idgate.core.audit import AuditEvent
from idgate.core.models import User


class UserRepository(Protocol):
    """Accounts. Usernames are looked up by their canonical form (``core.usernames``)."""

    async def get(self, user_id: uuid.UUID) -> User | None:
        """Return the user with this id, or None."""
        ...

    async def get_by_username(self, canonical: str) -> User | None:
        """Return the user whose canonical username is ``canonical``, or None."""
        ...

    async def add(self, user: User, canonical: str) -> None:
        """Stage a new user; raise :class:`~idgate.core.errors.UsernameTaken` on a duplicate."""
        ...

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Stage a new password hash for the user."""
        ...

    async def set_disabled(self, user_id: uuid.UUID, disabled: bool) -> None:
        """Stage enabling or disabling the user."""
        ...

    async def revoke_credentials(self, user_id: uuid.UUID, before: datetime) -> None:
        """Stage revoking every credential of the user issued before ``before``."""
        ...

    async def list(self, *, offset: int = 0, limit: int = 50) -> Sequence[User]:
        """Return users ordered by creation time."""
        ...


class RoleRepository(Protocol):
    """Role membership. Roles are names such as ``admin`` and ``user``."""

    async def grant(self, user_id: uuid.UUID, role: str) -> bool:
        """Give ``role`` to the user; return False if they already had it."""
        ...

    async def roles_of(self, user_id: uuid.UUID) -> tuple[str, ...]:
        """Return the names of the user's roles, sorted."""
        ...


class AuditRepository(Protocol):
    """Append-only store of security events."""

    async def add(self, event: AuditEvent) -> None:
        """Stage an event; it is stored with the rest of the unit of work."""
        ...

    async def list(
        self,
        *,
        user_id: uuid.UUID | None = None,
        types: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEvent]:
        """Return matching events, newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: the repositories inside it and the one ``commit`` that ends it.

    Use it as an async context manager; leaving it without ``commit`` rolls back::

        async with uow_factory() as uow:
            await uow.users.add(user, canonical)
            await uow.commit()
    """

    @property
    def users(self) -> UserRepository: ...

    @property
    def roles(self) -> RoleRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    async def commit(self) -> None:
        """Make every staged change durable, then publish the audit events."""
        ...

    async def rollback(self) -> None:
        """Discard every staged change."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
