"""Accounts: registration, authentication and password changes.

Every method takes the unit of work of the request or command it serves; the caller commits it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import (
    CurrentPasswordIncorrect,
    InvalidCredentials,
    InvalidUsername,
    WeakPassword,
)
from idgate.core.ids import new_id
from idgate.core.models import RequestOrigin, User
from idgate.core.passwords.hashers import PasswordHashers, normalize_password
from idgate.core.passwords.policy import PasswordPolicy
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import UnitOfWork
from idgate.core.usernames import canonical_username, validate_username

#: Every new account gets this role.
DEFAULT_ROLE = "user"
ADMIN_ROLE = "admin"


class UserService:
    """Registration and login, with the timing and enumeration defences they need."""

    def __init__(
        self,
        hashers: PasswordHashers,
        policy: PasswordPolicy,
        pool: HashingPool,
        clock: Clock,
    ) -> None:
        self.hashers = hashers
        self.policy = policy
        self.pool = pool
        self.clock = clock

    async def register(
        self,
        uow: UnitOfWork,
        username: str,
        password: str,
        origin: RequestOrigin,
        *,
        roles: Sequence[str] = (DEFAULT_ROLE,),
        event: AuditEventType = AuditEventType.USER_REGISTERED,
        actor: User | None = None,
    ) -> User:
        """Create an account; raise ``InvalidUsername``, ``WeakPassword`` or ``UsernameTaken``.

        Everything is validated before anything is staged, so a refusal leaves no trace but its
        audit event.
        """
        display = validate_username(username)
        canonical = canonical_username(display)
        self.policy.check(password, context=[display, canonical.split("@")[0]])
        password_hash = await self.pool.run(self.hashers.hash, password)
        user = User(
            id=new_id(),
            username=display,
            password_hash=password_hash,
            created_at=self.clock.now(),
            roles=tuple(sorted(set(roles))),
        )
        await uow.users.add(user, canonical)
        for role in user.roles:
            await uow.roles.grant(user.id, role)
        await uow.audit.add(
            AuditEvent.create(
                event,
                self.clock.now(),
                origin,
                actor_id=actor.id if actor else user.id,
                subject_id=user.id,
                details={"roles": list(user.roles)},
            )
        )
        return user

    async def authenticate(
        self, uow: UnitOfWork, username: str, password: str, origin: RequestOrigin
    ) -> User:
        """Return the user these credentials belong to, or raise :class:`InvalidCredentials`.

        Unknown account, wrong password and disabled account give the same error after the same
        work (a password check always runs), so neither the answer nor its timing tells whether an
        account exists (SECURITY.md LG-01, LG-02). Over-long passwords are refused without
        hashing, for every account alike (PW-04).
        """
        if len(password) > self.policy.max_length:
            await self._failed(uow, origin, None, "password_too_long")
        user = await self._find(uow, username)
        if user is None or user.password_hash is None:
            await self.pool.run(self.hashers.dummy_verify, password)
            await self._failed(uow, origin, None, "unknown_user")
        result = await self.pool.run(self.hashers.verify, password, user.password_hash)
        if not result.ok:
            await self._failed(uow, origin, user, "bad_password")
        if user.disabled:
            await self._failed(uow, origin, user, "disabled")
        if result.needs_rehash:
            new_hash = await self.pool.run(self.hashers.hash, password)
            await uow.users.set_password_hash(user.id, new_hash)
            user.password_hash = new_hash
            await uow.audit.add(
                AuditEvent.create(
                    AuditEventType.PASSWORD_REHASHED, self.clock.now(), origin, subject_id=user.id
                )
            )
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGIN_SUCCEEDED,
                self.clock.now(),
                origin,
                actor_id=user.id,
                subject_id=user.id,
            )
        )
        return user

    async def change_password(
        self,
        uow: UnitOfWork,
        user: User,
        current_password: str,
        new_password: str,
        origin: RequestOrigin,
    ) -> datetime:
        """Replace the password after re-checking the current one (PW-09, SS-07).

        Every credential of the user issued before the change (access tokens, refresh tokens,
        browser sessions) is revoked; the caller issues fresh ones for the client that made the
        change. Returns the revocation instant, whole seconds (as JWT ``iat`` values are), so a
        token issued right after the change is not caught by it.
        """
        if user.password_hash is None:
            raise CurrentPasswordIncorrect()
        if len(current_password) > self.policy.max_length:
            await self._change_refused(uow, origin, user)
        result = await self.pool.run(self.hashers.verify, current_password, user.password_hash)
        if not result.ok:
            await self._change_refused(uow, origin, user)
        if normalize_password(new_password) == normalize_password(current_password):
            raise WeakPassword("The new password must differ from the current one.")
        self.policy.check(new_password, context=[user.username, user.username.split("@")[0]])
        new_hash = await self.pool.run(self.hashers.hash, new_password)
        revoked_before = self.clock.now().replace(microsecond=0)
        await uow.users.set_password_hash(user.id, new_hash)
        await uow.users.revoke_credentials(user.id, revoked_before)
        user.password_hash, user.revoked_before = new_hash, revoked_before
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.PASSWORD_CHANGED,
                self.clock.now(),
                origin,
                actor_id=user.id,
                subject_id=user.id,
            )
        )
        return revoked_before

    async def _change_refused(self, uow: UnitOfWork, origin: RequestOrigin, user: User) -> NoReturn:
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.PASSWORD_CHANGED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                actor_id=user.id,
                subject_id=user.id,
                reason="current_password_incorrect",
            )
        )
        raise CurrentPasswordIncorrect()

    async def _find(self, uow: UnitOfWork, username: str) -> User | None:
        # A name that could never have been registered (a NUL, a control character, too long)
        # cannot name an account; it is not sent to the database at all, whose text types may
        # refuse it (PostgreSQL rejects NUL), and takes the unknown-account path.
        try:
            canonical = canonical_username(validate_username(username))
        except InvalidUsername:
            return None
        return await uow.users.get_by_username(canonical)

    async def _failed(
        self, uow: UnitOfWork, origin: RequestOrigin, user: User | None, reason: str
    ) -> NoReturn:
        # The event is staged, then the deliberate error ends the unit of work, which commits it.
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGIN_FAILED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                subject_id=user.id if user else None,
                reason=reason,
            )
        )
        raise InvalidCredentials()
