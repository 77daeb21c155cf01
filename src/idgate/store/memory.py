"""In-memory implementations of the core's ports, for unit tests of the core.

A :class:`MemoryUnitOfWork` works on a copy of the :class:`MemoryStore` and writes it back on
commit, so tests see the same commit/rollback behaviour as with a database.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Self

from idgate.core.audit import AuditEvent
from idgate.core.errors import NotFound, UsernameTaken
from idgate.core.models import User


@dataclass
class MemoryStore:
    """Everything the in-memory repositories hold."""

    users: dict[uuid.UUID, User] = field(default_factory=dict)
    canonical: dict[str, uuid.UUID] = field(default_factory=dict)
    roles: set[str] = field(default_factory=lambda: {"admin", "user"})
    memberships: set[tuple[uuid.UUID, str]] = field(default_factory=set)
    audit: list[AuditEvent] = field(default_factory=list)


class MemoryUserRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def _with_roles(self, user: User) -> User:
        roles = sorted(role for uid, role in self._store.memberships if uid == user.id)
        return replace(user, roles=tuple(roles))

    async def get(self, user_id: uuid.UUID) -> User | None:
        user = self._store.users.get(user_id)
        return self._with_roles(user) if user else None

    async def get_by_username(self, canonical: str) -> User | None:
        user_id = self._store.canonical.get(canonical)
        return await self.get(user_id) if user_id else None

    async def add(self, user: User, canonical: str) -> None:
        if canonical in self._store.canonical:
            raise UsernameTaken()
        self._store.users[user.id] = replace(user, roles=())
        self._store.canonical[canonical] = user.id

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        self._store.users[user_id] = replace(
            self._store.users[user_id], password_hash=password_hash
        )

    async def set_disabled(self, user_id: uuid.UUID, disabled: bool) -> None:
        self._store.users[user_id] = replace(self._store.users[user_id], disabled=disabled)

    async def revoke_credentials(self, user_id: uuid.UUID, before: datetime) -> None:
        self._store.users[user_id] = replace(self._store.users[user_id], revoked_before=before)

    async def list(self, *, offset: int = 0, limit: int = 50) -> Sequence[User]:
        ordered = sorted(self._store.users.values(), key=lambda u: (u.created_at, u.id))
        return [self._with_roles(u) for u in ordered[offset : offset + limit]]


class MemoryRoleRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def grant(self, user_id: uuid.UUID, role: str) -> bool:
        if role not in self._store.roles:
            raise NotFound(f"There is no role named {role!r}.")
        if (user_id, role) in self._store.memberships:
            return False
        self._store.memberships.add((user_id, role))
        return True

    async def roles_of(self, user_id: uuid.UUID) -> tuple[str, ...]:
        return tuple(sorted(role for uid, role in self._store.memberships if uid == user_id))


class MemoryAuditRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, event: AuditEvent) -> None:
        self._store.audit.append(event)

    async def list(
        self,
        *,
        user_id: uuid.UUID | None = None,
        types: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEvent]:
        events = [
            e
            for e in reversed(self._store.audit)
            if (user_id is None or user_id in (e.subject_id, e.actor_id))
            and (not types or e.type in types)
            and (since is None or e.at >= since)
            and (until is None or e.at < until)
        ]
        return events[:limit]


class MemoryUnitOfWork:
    """Implements :class:`idgate.core.ports.UnitOfWork` over a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.commits = 0
        self._work = copy.deepcopy(store)
        self._bind()

    def _bind(self) -> None:
        self._users = MemoryUserRepository(self._work)
        self._roles = MemoryRoleRepository(self._work)
        self._audit = MemoryAuditRepository(self._work)

    @property
    def users(self) -> MemoryUserRepository:
        return self._users

    @property
    def roles(self) -> MemoryRoleRepository:
        return self._roles

    @property
    def audit(self) -> MemoryAuditRepository:
        return self._audit

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self.store)
        self._bind()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        for name in ("users", "canonical", "roles", "memberships", "audit"):
            setattr(self.store, name, copy.deepcopy(getattr(self._work, name)))
        self.commits += 1

    async def rollback(self) -> None:
        self._work = copy.deepcopy(self.store)
        self._bind()
