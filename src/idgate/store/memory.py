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

from idgate.core.apikeys import ApiKey, ApiKeyRecord, ServiceAccount
from idgate.core.audit import AuditEvent
from idgate.core.errors import Conflict, NotFound, UsernameTaken
from idgate.core.federation import (
    FederatedIdentity,
    IdentityLinkedElsewhere,
    PendingAuthorization,
)
from idgate.core.models import User
from idgate.core.rbac import BUILTIN_ROLES, Role
from idgate.core.sessions import BrowserSession
from idgate.core.tokens.refresh import LiveAccessToken, RefreshFamily, RefreshToken


@dataclass
class MemoryStore:
    """Everything the in-memory repositories hold."""

    users: dict[uuid.UUID, User] = field(default_factory=dict)
    canonical: dict[str, uuid.UUID] = field(default_factory=dict)
    roles: set[str] = field(default_factory=lambda: {"admin", "user"})
    memberships: set[tuple[uuid.UUID, str]] = field(default_factory=set)
    audit: list[AuditEvent] = field(default_factory=list)
    role_descriptions: dict[str, str] = field(default_factory=dict)
    role_permissions: set[tuple[str, str]] = field(default_factory=lambda: {("admin", "*")})
    service_accounts: dict[uuid.UUID, ServiceAccount] = field(default_factory=dict)
    api_keys: dict[uuid.UUID, ApiKey] = field(default_factory=dict)
    sessions: dict[str, tuple[BrowserSession, datetime]] = field(default_factory=dict)
    identities: dict[uuid.UUID, FederatedIdentity] = field(default_factory=dict)
    pending: dict[str, PendingAuthorization] = field(default_factory=dict)
    families: dict[uuid.UUID, RefreshFamily] = field(default_factory=dict)
    refresh_tokens: dict[uuid.UUID, RefreshToken] = field(default_factory=dict)
    revoked: dict[tuple[str, str], datetime] = field(default_factory=dict)


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

    async def search(
        self, *, query: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[Sequence[User], int]:
        names = {uid: name for name, uid in self._store.canonical.items()}
        matching = [
            u
            for u in sorted(self._store.users.values(), key=lambda u: (u.created_at, u.id))
            if not query or query in names.get(u.id, "")
        ]
        page = [self._with_roles(u) for u in matching[offset : offset + limit]]
        return page, len(matching)

    async def delete(self, user_id: uuid.UUID) -> None:
        store = self._store
        accounts = {a.id for a in store.service_accounts.values() if a.owner_id == user_id}
        store.api_keys = {
            k: v for k, v in store.api_keys.items() if v.service_account_id not in accounts
        }
        for account_id in accounts:
            del store.service_accounts[account_id]
        store.memberships = {(uid, r) for uid, r in store.memberships if uid != user_id}
        store.identities = {k: v for k, v in store.identities.items() if v.user_id != user_id}
        store.canonical = {name: uid for name, uid in store.canonical.items() if uid != user_id}
        store.users.pop(user_id, None)


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

    async def revoke(self, user_id: uuid.UUID, role: str) -> bool:
        if (user_id, role) not in self._store.memberships:
            return False
        self._store.memberships.discard((user_id, role))
        return True

    def _role(self, name: str) -> Role:
        return Role(
            name=name,
            description=self._store.role_descriptions.get(name, ""),
            builtin=name in BUILTIN_ROLES,
            permissions=tuple(sorted(p for r, p in self._store.role_permissions if r == name)),
        )

    async def get_role(self, name: str) -> Role | None:
        return self._role(name) if name in self._store.roles else None

    async def list_roles(self) -> Sequence[Role]:
        return [self._role(name) for name in sorted(self._store.roles)]

    async def create_role(self, role: Role) -> None:
        if role.name in self._store.roles:
            raise Conflict(f"A role named {role.name!r} already exists.")
        self._store.roles.add(role.name)
        self._store.role_descriptions[role.name] = role.description
        self._store.role_permissions |= {(role.name, p) for p in role.permissions}

    async def delete_role(self, name: str) -> None:
        store = self._store
        store.roles.discard(name)
        store.role_permissions = {(r, p) for r, p in store.role_permissions if r != name}
        store.memberships = {(uid, r) for uid, r in store.memberships if r != name}

    async def add_permission(self, role: str, permission: str) -> bool:
        if role not in self._store.roles:
            raise NotFound(f"There is no role named {role!r}.")
        if (role, permission) in self._store.role_permissions:
            return False
        self._store.role_permissions.add((role, permission))
        return True

    async def remove_permission(self, role: str, permission: str) -> bool:
        if (role, permission) not in self._store.role_permissions:
            return False
        self._store.role_permissions.discard((role, permission))
        return True

    async def permissions_of(self, roles: Sequence[str]) -> tuple[str, ...]:
        wanted = set(roles)
        return tuple(sorted({p for r, p in self._store.role_permissions if r in wanted}))

    async def count_members(self, role: str) -> int:
        users = self._store.users
        return sum(
            1
            for uid, r in self._store.memberships
            if r == role and uid in users and not users[uid].disabled
        )


class MemoryServiceAccountRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, account: ServiceAccount) -> None:
        if any(
            a.owner_id == account.owner_id and a.name == account.name
            for a in self._store.service_accounts.values()
        ):
            raise Conflict(f"You already have a service account named {account.name!r}.")
        self._store.service_accounts[account.id] = account

    async def get(self, account_id: uuid.UUID) -> ServiceAccount | None:
        return self._store.service_accounts.get(account_id)

    async def list(
        self, *, owner_id: uuid.UUID | None = None, offset: int = 0, limit: int = 100
    ) -> Sequence[ServiceAccount]:
        accounts = sorted(self._store.service_accounts.values(), key=lambda a: (a.created_at, a.id))
        matching = [a for a in accounts if owner_id is None or a.owner_id == owner_id]
        return matching[offset : offset + limit]

    async def count(self, owner_id: uuid.UUID) -> int:
        return sum(1 for a in self._store.service_accounts.values() if a.owner_id == owner_id)

    async def delete(self, account_id: uuid.UUID) -> None:
        store = self._store
        store.api_keys = {
            k: v for k, v in store.api_keys.items() if v.service_account_id != account_id
        }
        store.service_accounts.pop(account_id, None)


class MemoryApiKeyRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, key: ApiKey) -> None:
        self._store.api_keys[key.id] = key

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return self._store.api_keys.get(key_id)

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        for key in self._store.api_keys.values():
            if key.key_hash == key_hash:
                account = self._store.service_accounts[key.service_account_id]
                owner = self._store.users[account.owner_id]
                return ApiKeyRecord(key, account, owner.disabled)
        return None

    async def list(self, account_id: uuid.UUID) -> Sequence[ApiKey]:
        keys = [k for k in self._store.api_keys.values() if k.service_account_id == account_id]
        return sorted(keys, key=lambda k: k.created_at, reverse=True)

    async def count_active(self, account_id: uuid.UUID, now: datetime) -> int:
        return sum(
            1
            for k in self._store.api_keys.values()
            if k.service_account_id == account_id and k.status(now) == "active"
        )

    def _update(self, key_id: uuid.UUID, **changes: object) -> None:
        self._store.api_keys[key_id] = replace(self._store.api_keys[key_id], **changes)  # type: ignore[arg-type]

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> None:
        if self._store.api_keys[key_id].revoked_at is None:
            self._update(key_id, revoked_at=at)

    async def set_expiry(self, key_id: uuid.UUID, at: datetime | None) -> None:
        self._update(key_id, expires_at=at)

    async def touch(self, key_id: uuid.UUID, at: datetime) -> None:
        self._update(key_id, last_used_at=at)

    async def revoke_owned_by(self, owner_id: uuid.UUID, at: datetime) -> int:
        accounts = {a.id for a in self._store.service_accounts.values() if a.owner_id == owner_id}
        revoked = 0
        for key in list(self._store.api_keys.values()):
            if key.service_account_id in accounts and key.revoked_at is None:
                self._update(key.id, revoked_at=at)
                revoked += 1
        return revoked


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


class MemorySessionRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, session: BrowserSession, *, keep_until: datetime) -> None:
        self._store.sessions[session.key] = (session, keep_until)

    async def get(self, key: str) -> BrowserSession | None:
        entry = self._store.sessions.get(key)
        return entry[0] if entry else None

    async def touch(self, session: BrowserSession, *, keep_until: datetime) -> None:
        if session.key in self._store.sessions:
            self._store.sessions[session.key] = (session, keep_until)

    async def delete(self, key: str) -> None:
        self._store.sessions.pop(key, None)

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[BrowserSession]:
        return [s for s, _ in self._store.sessions.values() if s.user_id == user_id]

    async def purge_expired(self, now: datetime) -> int:
        dead = [key for key, (_, keep_until) in self._store.sessions.items() if keep_until <= now]
        for key in dead:
            del self._store.sessions[key]
        return len(dead)


class MemoryFederatedIdentityRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, provider: str, subject: str) -> FederatedIdentity | None:
        return next(
            (
                i
                for i in self._store.identities.values()
                if i.provider == provider and i.subject == subject
            ),
            None,
        )

    async def get_by_id(self, identity_id: uuid.UUID) -> FederatedIdentity | None:
        return self._store.identities.get(identity_id)

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[FederatedIdentity]:
        return [i for i in self._store.identities.values() if i.user_id == user_id]

    async def find_verified_email(self, email: str) -> Sequence[FederatedIdentity]:
        return [i for i in self._store.identities.values() if i.email == email and i.email_verified]

    async def add(self, identity: FederatedIdentity) -> None:
        if await self.get(identity.provider, identity.subject) is not None:
            raise IdentityLinkedElsewhere()
        self._store.identities[identity.id] = identity

    async def update(self, identity: FederatedIdentity) -> None:
        if identity.id in self._store.identities:
            self._store.identities[identity.id] = identity

    async def delete(self, identity_id: uuid.UUID) -> None:
        self._store.identities.pop(identity_id, None)


class MemoryPendingAuthorizationRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add(self, pending: PendingAuthorization) -> None:
        self._store.pending[pending.key] = pending

    async def take(self, key: str) -> PendingAuthorization | None:
        return self._store.pending.pop(key, None)

    async def purge_expired(self, now: datetime) -> int:
        dead = [k for k, p in self._store.pending.items() if p.expires_at <= now]
        for key in dead:
            del self._store.pending[key]
        return len(dead)


class MemoryRefreshTokenRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def add_family(self, family: RefreshFamily) -> None:
        self._store.families[family.id] = replace(family)

    async def add(self, token: RefreshToken) -> None:
        self._store.refresh_tokens[token.id] = replace(token)

    async def find(self, token_hash: str) -> tuple[RefreshToken, RefreshFamily] | None:
        for token in self._store.refresh_tokens.values():
            if token.token_hash == token_hash:
                return replace(token), replace(self._store.families[token.family_id])
        return None

    async def get_family(self, family_id: uuid.UUID) -> RefreshFamily | None:
        family = self._store.families.get(family_id)
        return replace(family) if family else None

    async def mark_used(self, token_id: uuid.UUID, at: datetime) -> bool:
        token = self._store.refresh_tokens.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = at
        return True

    async def touch_family(self, family_id: uuid.UUID, at: datetime) -> bool:
        family = self._store.families.get(family_id)
        if family is None or family.revoked_at is not None:
            return False
        family.last_used_at = at
        return True

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> bool:
        family = self._store.families.get(family_id)
        if family is None or family.revoked_at is not None:
            return False
        family.revoked_at, family.revoked_reason = at, reason
        return True

    async def revoke_families_of(
        self, user_id: uuid.UUID, at: datetime, reason: str
    ) -> Sequence[uuid.UUID]:
        ids = sorted(f.id for f in self._store.families.values() if f.user_id == user_id)
        return [fid for fid in ids if await self.revoke_family(fid, at, reason)]

    async def live_access_tokens(
        self, family_ids: Sequence[uuid.UUID], now: datetime
    ) -> Sequence[LiveAccessToken]:
        return [
            LiveAccessToken(t.access_jti, t.access_expires_at)
            for t in self._store.refresh_tokens.values()
            if t.family_id in family_ids and t.access_expires_at > now
        ]

    async def purge_expired(self, user_id: uuid.UUID, now: datetime) -> int:
        expired = {
            f.id
            for f in self._store.families.values()
            if f.user_id == user_id and f.expires_at <= now
        }
        for fid in expired:
            del self._store.families[fid]
        for tid in [t.id for t in self._store.refresh_tokens.values() if t.family_id in expired]:
            del self._store.refresh_tokens[tid]
        return len(expired)


class MemoryRevocationList:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def revoke(self, issuer: str, tokens: Sequence[LiveAccessToken]) -> None:
        for token in tokens:
            self._store.revoked[(issuer, token.jti)] = token.expires_at

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        return (issuer, jti) in self._store.revoked


class MemoryUnitOfWork:
    """Implements :class:`idgate.core.ports.UnitOfWork` over a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.commits = 0
        self.releases = 0
        self._work = copy.deepcopy(store)
        self._bind()

    def _bind(self) -> None:
        self._users = MemoryUserRepository(self._work)
        self._roles = MemoryRoleRepository(self._work)
        self._audit = MemoryAuditRepository(self._work)
        self._service_accounts = MemoryServiceAccountRepository(self._work)
        self._api_keys = MemoryApiKeyRepository(self._work)
        self._sessions = MemorySessionRepository(self._work)
        self._identities = MemoryFederatedIdentityRepository(self._work)
        self._pending = MemoryPendingAuthorizationRepository(self._work)
        self._refresh_tokens = MemoryRefreshTokenRepository(self._work)
        self._revocations = MemoryRevocationList(self._work)

    @property
    def users(self) -> MemoryUserRepository:
        return self._users

    @property
    def roles(self) -> MemoryRoleRepository:
        return self._roles

    @property
    def audit(self) -> MemoryAuditRepository:
        return self._audit

    @property
    def service_accounts(self) -> MemoryServiceAccountRepository:
        return self._service_accounts

    @property
    def api_keys(self) -> MemoryApiKeyRepository:
        return self._api_keys

    @property
    def sessions(self) -> MemorySessionRepository:
        return self._sessions

    @property
    def federated_identities(self) -> MemoryFederatedIdentityRepository:
        return self._identities

    @property
    def pending_authorizations(self) -> MemoryPendingAuthorizationRepository:
        return self._pending

    @property
    def refresh_tokens(self) -> MemoryRefreshTokenRepository:
        return self._refresh_tokens

    @property
    def revocations(self) -> MemoryRevocationList:
        return self._revocations

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
        for name in (
            "users",
            "canonical",
            "roles",
            "memberships",
            "audit",
            "role_descriptions",
            "role_permissions",
            "service_accounts",
            "api_keys",
            "sessions",
            "identities",
            "pending",
        ):
            setattr(self.store, name, copy.deepcopy(getattr(self._work, name)))
        for name in ("families", "refresh_tokens", "revoked"):
            setattr(self.store, name, copy.deepcopy(getattr(self._work, name)))
        self.commits += 1

    async def release(self) -> None:
        self.releases += 1

    async def rollback(self) -> None:
        self._work = copy.deepcopy(self.store)
        self._bind()
