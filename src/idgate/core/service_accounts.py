"""Service accounts and their API keys: create, list, rotate, revoke, and authenticate a key.

The rules (SECURITY.md AK-01..AK-05):

* a key may do only what both its **scopes** and its **owner's** current permissions allow; a key
  is created only with scopes its owner holds *and* its creator may grant, so a key can never
  mint a key with more privilege than itself;
* a key is shown once (:class:`~idgate.core.apikeys.NewApiKey`), stored as its SHA-256, and
  expires after ``default_ttl`` unless told otherwise; revocation is a database write that every
  instance sees on the key's next use (no cache);
* authentication does the same work for a wrong, malformed, revoked or expired key and for a
  disabled owner: one lookup by hash, a constant-time comparison, the same
  :class:`~idgate.core.apikeys.InvalidApiKey`; the audit event records the real reason;
* the last-used time is written at most once per :data:`LAST_USED_RESOLUTION` per key, not on
  every request.

:meth:`ServiceAccountService.authenticate` is the one place a key is checked; the web
authenticator calls it, and so can an introspection endpoint.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from idgate.core.apikeys import (
    ApiKey,
    InvalidApiKey,
    NewApiKey,
    ServiceAccount,
    VerifiedApiKey,
    generate_key,
    hash_key,
    is_well_formed,
)
from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from idgate.core.ids import constant_time_equals, new_id
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import Authority, normalize_permissions, uncovered
from idgate.core.text import plain_text

#: The last-used time is precise to this much; it spares a database write on most requests.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_ACCOUNTS_PER_OWNER = 100
MAX_ACTIVE_KEYS_PER_ACCOUNT = 20
MAX_SCOPES = 50
MAX_TTL = timedelta(days=3650)
MAX_ROTATION_GRACE = timedelta(days=7)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$")

Ttl = timedelta | None | Literal["default"]


class ScopeNotAllowed(PermissionDenied):
    code = "scope_not_allowed"
    default_detail = "A requested scope is more than the key's owner or its creator may grant."


class TooManyKeys(Conflict):
    code = "too_many_keys"
    default_detail = (
        f"A service account may have at most {MAX_ACTIVE_KEYS_PER_ACCOUNT} active keys; "
        "revoke one first."
    )


def _valid_name(value: str, what: str) -> str:
    name = value.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"A {what} name is 1 to 64 characters: letters, digits, spaces and '_ . @ -', "
            "starting with a letter or digit."
        )
    return name


class ServiceAccountService:
    """Service accounts, API keys and key authentication."""

    def __init__(self, clock: Clock, *, default_ttl: timedelta | None) -> None:
        self._clock = clock
        self.default_ttl = default_ttl

    # --- service accounts ----------------------------------------------------------------

    async def create_account(
        self,
        uow: UnitOfWork,
        owner: User,
        name: str,
        origin: RequestOrigin,
        *,
        description: str = "",
        actor_id: uuid.UUID | None = None,
    ) -> ServiceAccount:
        """Create a service account owned by ``owner`` (names are unique per owner)."""
        account = ServiceAccount(
            id=new_id(),
            name=_valid_name(name, "service account"),
            owner_id=owner.id,
            created_at=self._clock.now(),
            description=plain_text(description, "description"),
        )
        if await uow.service_accounts.count(owner.id) >= MAX_ACCOUNTS_PER_OWNER:
            raise Conflict(f"A user may own at most {MAX_ACCOUNTS_PER_OWNER} service accounts.")
        await uow.service_accounts.add(account)
        await self._audit(
            uow,
            AuditEventType.SERVICE_ACCOUNT_CREATED,
            origin,
            actor_id,
            owner.id,
            {"service_account_id": str(account.id), "name": account.name},
        )
        return account

    async def get_account(self, uow: UnitOfWork, account_id: uuid.UUID) -> ServiceAccount:
        account = await uow.service_accounts.get(account_id)
        if account is None:
            raise NotFound("There is no such service account.")
        return account

    async def list_accounts(
        self, uow: UnitOfWork, owner_id: uuid.UUID | None, *, offset: int = 0, limit: int = 100
    ) -> Sequence[ServiceAccount]:
        return await uow.service_accounts.list(owner_id=owner_id, offset=offset, limit=limit)

    async def delete_account(
        self,
        uow: UnitOfWork,
        account: ServiceAccount,
        origin: RequestOrigin,
        *,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        """Delete the account and every key it holds."""
        await uow.service_accounts.delete(account.id)
        await self._audit(
            uow,
            AuditEventType.SERVICE_ACCOUNT_DELETED,
            origin,
            actor_id,
            account.owner_id,
            {"service_account_id": str(account.id), "name": account.name},
        )

    # --- keys ----------------------------------------------------------------------------

    async def get_key(self, uow: UnitOfWork, key_id: uuid.UUID) -> ApiKey:
        key = await uow.api_keys.get(key_id)
        if key is None:
            raise NotFound("There is no such API key.")
        return key

    async def list_keys(self, uow: UnitOfWork, account: ServiceAccount) -> Sequence[ApiKey]:
        return await uow.api_keys.list(account.id)

    async def create_key(
        self,
        uow: UnitOfWork,
        account: ServiceAccount,
        origin: RequestOrigin,
        *,
        scopes: Sequence[str] = (),
        name: str = "",
        ttl: Ttl = "default",
        granter: Authority | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> NewApiKey:
        """Create a key for ``account``; the full key is in the result, and nowhere else.

        ``granter`` is what the caller may do (None for the operator's command line): every scope
        must be within it, and within the account owner's permissions (AK-05).
        """
        patterns = normalize_permissions(scopes)
        if len(patterns) > MAX_SCOPES:
            raise InvalidInput(f"A key may have at most {MAX_SCOPES} scopes.")
        label = _valid_name(name, "key") if name.strip() else ""
        lifetime = self._lifetime(ttl)
        await self._check_scopes(uow, account, patterns, granter)
        now = self._clock.now()
        if await uow.api_keys.count_active(account.id, now) >= MAX_ACTIVE_KEYS_PER_ACCOUNT:
            raise TooManyKeys()
        new = self._new_key(account, patterns, label, now, lifetime, actor_id)
        await uow.api_keys.add(new.key)
        await self._audit(
            uow,
            AuditEventType.API_KEY_CREATED,
            origin,
            actor_id,
            account.owner_id,
            self._key_details(new.key),
        )
        return new

    async def rotate_key(
        self,
        uow: UnitOfWork,
        key: ApiKey,
        origin: RequestOrigin,
        *,
        grace: timedelta = timedelta(0),
        granter: Authority | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> NewApiKey:
        """Replace ``key`` by a new one with the same name, scopes and lifetime.

        The old key stops working at once, or after ``grace`` (at most 7 days) so the service
        can switch over without downtime.
        """
        if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
            raise InvalidInput("The grace period is 0 seconds to 7 days.")
        now = self._clock.now()
        if key.status(now) != "active":
            raise Conflict("Only an active key can be rotated; create a new one instead.")
        account = await self.get_account(uow, key.service_account_id)
        await self._check_scopes(uow, account, key.scopes, granter)
        lifetime = key.expires_at - key.created_at if key.expires_at else None
        new = self._new_key(account, key.scopes, key.name, now, lifetime, actor_id)
        await uow.api_keys.add(new.key)
        if grace:
            end = now + grace
            if key.expires_at is None or end < key.expires_at:
                await uow.api_keys.set_expiry(key.id, end)
        else:
            await uow.api_keys.revoke(key.id, now)
        details = self._key_details(new.key)
        details.update(replaced_key_id=str(key.id), grace_seconds=int(grace.total_seconds()))
        await self._audit(
            uow, AuditEventType.API_KEY_ROTATED, origin, actor_id, account.owner_id, details
        )
        return new

    async def revoke_key(
        self,
        uow: UnitOfWork,
        key: ApiKey,
        origin: RequestOrigin,
        *,
        actor_id: uuid.UUID | None = None,
    ) -> ApiKey:
        """Revoke ``key``; its next use fails on every instance."""
        now = self._clock.now()
        account = await self.get_account(uow, key.service_account_id)
        if key.revoked_at is None:
            await uow.api_keys.revoke(key.id, now)
            await self._audit(
                uow,
                AuditEventType.API_KEY_REVOKED,
                origin,
                actor_id,
                account.owner_id,
                self._key_details(key),
            )
        return await self.get_key(uow, key.id)

    async def authenticate(
        self, uow: UnitOfWork, presented: str, origin: RequestOrigin
    ) -> VerifiedApiKey:
        """Return the verified key for ``presented`` or raise :class:`InvalidApiKey`."""
        now = self._clock.now()
        digest = hash_key(presented)
        well_formed = is_well_formed(presented)
        record = await uow.api_keys.find_by_hash(digest)
        # Every failure takes this one path: the same lookup, comparison and error.
        matches = record is not None and constant_time_equals(record.key.key_hash, digest)
        reason = None
        if not well_formed:
            reason = "malformed"
        elif record is None or not matches:
            reason = "unknown"
        elif record.key.status(now) != "active":
            reason = record.key.status(now)
        elif record.owner_disabled:
            reason = "owner_disabled"
        owner = None
        if reason is None and record is not None:
            owner = await uow.users.get(record.account.owner_id)
            if owner is None or owner.disabled:
                reason = "owner_disabled"
        if reason is not None or record is None or owner is None:
            await uow.audit.add(
                AuditEvent.create(
                    AuditEventType.API_KEY_REJECTED,
                    now,
                    origin,
                    outcome=Outcome.FAILURE,
                    subject_id=record.account.owner_id if record else None,
                    reason=reason,
                    details={"key_id": str(record.key.id)} if record else {},
                )
            )
            raise InvalidApiKey()
        key = record.key
        last_used = key.last_used_at
        if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
            await uow.api_keys.touch(key.id, now)
        permissions = await uow.roles.permissions_of(owner.roles)
        return VerifiedApiKey(key, record.account, owner, permissions)

    # --- helpers -------------------------------------------------------------------------

    def _lifetime(self, ttl: Ttl) -> timedelta | None:
        lifetime = self.default_ttl if ttl == "default" else ttl
        if lifetime is not None and not timedelta(minutes=1) <= lifetime <= MAX_TTL:
            raise InvalidInput("A key's lifetime is between one minute and ten years.")
        return lifetime

    async def _check_scopes(
        self,
        uow: UnitOfWork,
        account: ServiceAccount,
        scopes: Sequence[str],
        granter: Authority | None,
    ) -> None:
        owner = await uow.users.get(account.owner_id)
        if owner is None:
            raise NotFound("The service account's owner no longer exists.")
        beyond_owner = uncovered(await uow.roles.permissions_of(owner.roles), scopes)
        if beyond_owner:
            raise ScopeNotAllowed(
                f"The owner of this service account does not hold: {', '.join(beyond_owner)}."
            )
        if granter is not None:
            beyond_granter = [s for s in scopes if not granter.allows(s)]
            if beyond_granter:
                raise ScopeNotAllowed(f"You may not grant: {', '.join(beyond_granter)}.")

    def _new_key(
        self,
        account: ServiceAccount,
        scopes: Sequence[str],
        name: str,
        now: datetime,
        lifetime: timedelta | None,
        actor_id: uuid.UUID | None,
    ) -> NewApiKey:
        secret = generate_key()
        key = ApiKey(
            id=new_id(),
            service_account_id=account.id,
            key_hash=hash_key(secret),
            last4=secret[-4:],
            created_at=now,
            name=name,
            scopes=tuple(scopes),
            expires_at=now + lifetime if lifetime is not None else None,
            created_by=actor_id,
        )
        return NewApiKey(key, secret)

    @staticmethod
    def _key_details(key: ApiKey) -> dict[str, Any]:
        return {
            "key_id": str(key.id),
            "service_account_id": str(key.service_account_id),
            "scopes": list(key.scopes),
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        }

    async def _audit(
        self,
        uow: UnitOfWork,
        event: AuditEventType,
        origin: RequestOrigin,
        actor_id: uuid.UUID | None,
        subject_id: uuid.UUID | None,
        details: dict[str, Any],
    ) -> None:
        await uow.audit.add(
            AuditEvent.create(
                event,
                self._clock.now(),
                origin,
                actor_id=actor_id,
                subject_id=subject_id,
                details=details,
            )
        )
