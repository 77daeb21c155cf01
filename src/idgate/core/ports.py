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
from typing import TYPE_CHECKING, Protocol, Self

from idgate.core.apikeys import ApiKey, ApiKeyRecord, ServiceAccount
from idgate.core.audit import AuditEvent
from idgate.core.models import User
from idgate.core.rbac import Role
from idgate.core.tokens.refresh import LiveAccessToken, RefreshFamily, RefreshToken

if TYPE_CHECKING:
    from idgate.core.federation import FederatedIdentity, PendingAuthorization
    from idgate.core.sessions import BrowserSession


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

    async def search(
        self, *, query: str | None = None, offset: int = 0, limit: int = 50
    ) -> tuple[Sequence[User], int]:
        """Return one page of the users whose canonical username contains ``query`` (all if
        None), ordered by creation time, and how many match in all."""
        ...

    async def delete(self, user_id: uuid.UUID) -> None:
        """Stage deleting the user, their role memberships, service accounts and API keys."""
        ...


class RoleRepository(Protocol):
    """Role membership. Roles are names such as ``admin`` and ``user``."""

    async def grant(self, user_id: uuid.UUID, role: str) -> bool:
        """Give ``role`` to the user; return False if they already had it."""
        ...

    async def roles_of(self, user_id: uuid.UUID) -> tuple[str, ...]:
        """Return the names of the user's roles, sorted."""
        ...

    async def revoke(self, user_id: uuid.UUID, role: str) -> bool:
        """Take ``role`` from the user; return False if they did not have it."""
        ...

    async def get_role(self, name: str) -> Role | None:
        """Return the role with its permissions, or None."""
        ...

    async def list_roles(self) -> Sequence[Role]:
        """Return every role with its permissions, by name."""
        ...

    async def create_role(self, role: Role) -> None:
        """Stage a new role and its permissions; raise ``Conflict`` if the name is taken."""
        ...

    async def delete_role(self, name: str) -> None:
        """Stage deleting the role, its permissions and its memberships."""
        ...

    async def add_permission(self, role: str, permission: str) -> bool:
        """Give ``permission`` to ``role``; return False if it already had it."""
        ...

    async def remove_permission(self, role: str, permission: str) -> bool:
        """Take ``permission`` from ``role``; return False if it did not have it."""
        ...

    async def permissions_of(self, roles: Sequence[str]) -> tuple[str, ...]:
        """Return the permission patterns of these roles together, sorted, without repeats."""
        ...

    async def count_members(self, role: str) -> int:
        """Return how many enabled users hold ``role``."""
        ...


class ServiceAccountRepository(Protocol):
    """Service accounts, each owned by a user."""

    async def add(self, account: ServiceAccount) -> None:
        """Stage a new account; raise ``Conflict`` if its owner has one of the same name."""
        ...

    async def get(self, account_id: uuid.UUID) -> ServiceAccount | None:
        """Return the account, or None."""
        ...

    async def list(
        self, *, owner_id: uuid.UUID | None = None, offset: int = 0, limit: int = 100
    ) -> Sequence[ServiceAccount]:
        """Return accounts (of one owner, or all), oldest first."""
        ...

    async def count(self, owner_id: uuid.UUID) -> int:
        """Return how many accounts ``owner_id`` owns."""
        ...

    async def delete(self, account_id: uuid.UUID) -> None:
        """Stage deleting the account and its keys."""
        ...


class ApiKeyRepository(Protocol):
    """API keys, stored by the SHA-256 of the key."""

    async def add(self, key: ApiKey) -> None:
        """Stage a new key."""
        ...

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        """Return the key record, or None."""
        ...

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """Return the key with this hash, its account and its owner's state, in one lookup."""
        ...

    async def list(self, account_id: uuid.UUID) -> Sequence[ApiKey]:
        """Return the account's keys, newest first."""
        ...

    async def count_active(self, account_id: uuid.UUID, now: datetime) -> int:
        """Return how many of the account's keys are neither revoked nor expired at ``now``."""
        ...

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> None:
        """Stage revoking the key at ``at``."""
        ...

    async def set_expiry(self, key_id: uuid.UUID, at: datetime | None) -> None:
        """Stage a new expiry instant for the key."""
        ...

    async def touch(self, key_id: uuid.UUID, at: datetime) -> None:
        """Stage the key's last-used instant."""
        ...

    async def revoke_owned_by(self, owner_id: uuid.UUID, at: datetime) -> int:
        """Stage revoking every live key of the accounts ``owner_id`` owns; return how many."""
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


class SessionRepository(Protocol):
    """Browser sessions, keyed by the SHA-256 of the cookie value (``core.sessions``).

    ``keep_until`` is when the record may be forgotten (idle or absolute expiry, whichever comes
    first): Redis uses it as the key's expiry; the database purges past it.
    """

    async def add(self, session: BrowserSession, *, keep_until: datetime) -> None:
        """Store a new session."""
        ...

    async def get(self, key: str) -> BrowserSession | None:
        """Return the session stored under ``key``, or None."""
        ...

    async def touch(self, session: BrowserSession, *, keep_until: datetime) -> None:
        """Store a session's new ``last_seen_at``, ``ip`` and ``user_agent``."""
        ...

    async def delete(self, key: str) -> None:
        """Forget the session stored under ``key`` (nothing happens if there is none)."""
        ...

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[BrowserSession]:
        """Return the user's stored sessions, in no particular order."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete the sessions whose ``keep_until`` has passed; return how many."""
        ...


class FederatedIdentityRepository(Protocol):
    """Provider accounts linked to idgate accounts (``core.federation``)."""

    async def get(self, provider: str, subject: str) -> FederatedIdentity | None:
        """Return the identity of ``subject`` at ``provider``, or None."""
        ...

    async def get_by_id(self, identity_id: uuid.UUID) -> FederatedIdentity | None:
        """Return the identity with this id, or None."""
        ...

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[FederatedIdentity]:
        """Return the user's identities, in no particular order."""
        ...

    async def find_verified_email(self, email: str) -> Sequence[FederatedIdentity]:
        """Return the identities whose provider said ``email`` (lower-case) is verified."""
        ...

    async def add(self, identity: FederatedIdentity) -> None:
        """Stage a new identity; raise ``Conflict`` if (provider, subject) is already linked."""
        ...

    async def update(self, identity: FederatedIdentity) -> None:
        """Stage the identity's new email, email_verified, login and last_login_at."""
        ...

    async def delete(self, identity_id: uuid.UUID) -> None:
        """Stage removing the identity."""
        ...


class PendingAuthorizationRepository(Protocol):
    """Trips to a provider in progress, keyed by the SHA-256 of their ``state``."""

    async def add(self, pending: PendingAuthorization) -> None:
        """Store a new pending authorization."""
        ...

    async def take(self, key: str) -> PendingAuthorization | None:
        """Delete and return the pending authorization stored under ``key``, or None.

        Of concurrent callers for one key, at most one gets it (a state is used once).
        """
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Delete the pending authorizations that expired before ``now``; return how many."""
        ...


class RefreshTokenRepository(Protocol):
    """Refresh-token families and their tokens (``core.tokens.refresh``), looked up by hash."""

    async def add_family(self, family: RefreshFamily) -> None:
        """Stage a new family."""
        ...

    async def add(self, token: RefreshToken) -> None:
        """Stage a new token of an existing family."""
        ...

    async def find(self, token_hash: str) -> tuple[RefreshToken, RefreshFamily] | None:
        """Return the token stored under ``token_hash`` with its family, or None."""
        ...

    async def get_family(self, family_id: uuid.UUID) -> RefreshFamily | None:
        """Return the family with this id, or None."""
        ...

    async def mark_used(self, token_id: uuid.UUID, at: datetime) -> bool:
        """Mark the token used if, and only if, it is still unused; return whether it was.

        This is the atomic compare-and-set of rotation (RT-04): of any number of concurrent
        callers for one token, exactly one gets True.
        """
        ...

    async def touch_family(self, family_id: uuid.UUID, at: datetime) -> bool:
        """Record a use of a family that is not revoked; return False if it is revoked.

        Implementations lock the family row, so a rotation and a revocation of one family are
        serialised and a revocation sees every access token the rotation issued.
        """
        ...

    async def revoke_family(self, family_id: uuid.UUID, at: datetime, reason: str) -> bool:
        """Revoke the family unless it already is; return whether this call revoked it."""
        ...

    async def revoke_families_of(
        self, user_id: uuid.UUID, at: datetime, reason: str
    ) -> Sequence[uuid.UUID]:
        """Revoke every live family of the user; return the ids of those this call revoked."""
        ...

    async def live_access_tokens(
        self, family_ids: Sequence[uuid.UUID], now: datetime
    ) -> Sequence[LiveAccessToken]:
        """Return the access tokens issued with these families that have not expired at ``now``."""
        ...

    async def purge_expired(self, user_id: uuid.UUID, now: datetime) -> int:
        """Delete the user's families (and their tokens) past their absolute expiry."""
        ...


class RevocationList(Protocol):
    """The access-token deny-list: ``(issuer, jti)`` pairs kept until the token's expiry.

    Entries are keyed on the issuer and the ``jti`` claim, never on the token or its hash (a JWT
    can be re-encoded without changing its meaning: SECURITY.md JW-10). Implementations that
    cannot answer must raise :class:`~idgate.core.errors.Unavailable`, never return False: a
    deny-list that fails open revokes nothing.
    """

    async def revoke(self, issuer: str, tokens: Sequence[LiveAccessToken]) -> None:
        """Deny every token in ``tokens`` until its ``expires_at``."""
        ...

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        """Return whether the token ``jti`` of ``issuer`` is on the deny-list."""
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

    @property
    def service_accounts(self) -> ServiceAccountRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def federated_identities(self) -> FederatedIdentityRepository: ...

    @property
    def pending_authorizations(self) -> PendingAuthorizationRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def revocations(self) -> RevocationList: ...

    async def commit(self) -> None:
        """Make every staged change durable, then publish the audit events."""
        ...

    async def rollback(self) -> None:
        """Discard every staged change."""
        ...

    async def release(self) -> None:
        """Give the database connection back to the pool before slow work that needs none.

        Called before a password check (a quarter of a second of bcrypt), so a login flood does
        not hold every pooled connection while it waits for the hashing threads. Only called
        when nothing has been written yet; later repository calls open a new transaction.
        """
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
