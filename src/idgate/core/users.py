"""Accounts: registration, authentication and password changes.

Every method takes the unit of work of the request or command it serves; the caller commits it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NoReturn, ParamSpec, TypeVar

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.devices import DeviceTokens
from idgate.core.errors import (
    CurrentPasswordIncorrect,
    InvalidCredentials,
    InvalidUsername,
    LoginThrottled,
    Unavailable,
    WeakPassword,
)
from idgate.core.ids import new_id
from idgate.core.models import RequestOrigin, User
from idgate.core.passwords.hashers import PasswordHashers, normalize_password
from idgate.core.passwords.policy import PasswordPolicy
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import UnitOfWork
from idgate.core.throttle import Admission, LoginGuard
from idgate.core.usernames import canonical_username, validate_username

P = ParamSpec("P")
T = TypeVar("T")

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
        *,
        guard: LoginGuard | None = None,
        devices: DeviceTokens | None = None,
    ) -> None:
        self.hashers = hashers
        self.policy = policy
        self.pool = pool
        self.clock = clock
        #: Per-account throttling (``core.throttle``); None disables it (unit tests only).
        self.guard = guard
        #: Device tokens that exempt known clients from the account's throttle.
        self.devices = devices

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
        await self._admit_hash(uow)  # shed before the policy check and any database work
        display = validate_username(username)
        canonical = canonical_username(display)
        self.policy.check(password, context=[display, canonical.split("@")[0]])
        await uow.release()
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
        self,
        uow: UnitOfWork,
        username: str,
        password: str,
        origin: RequestOrigin,
        *,
        device_token: str | None = None,
    ) -> User:
        """Return the user these credentials belong to, or raise :class:`InvalidCredentials`.

        Unknown account, wrong password and disabled account give the same error after the same
        work (a password check always runs), so neither the answer nor its timing tells whether an
        account exists (SECURITY.md LG-01, LG-02). Over-long passwords are refused without
        hashing, for every account alike (PW-04).

        Before any hashing, the attempt is counted by the :class:`LoginGuard`, which raises
        :class:`LoginThrottled` while the account (or the presented device) must wait; a valid
        ``device_token`` for the account charges the device instead of the account (LG-03, LG-04).
        """
        await self._admit_hash(uow)  # shed before any database work when the pool is full
        canonical = canonical_username(username)
        user = await self._find(uow, username)
        admission = await self._admit(uow, origin, canonical, user, device_token)
        if len(password) > self.policy.max_length:
            await self._failed(uow, origin, None, "password_too_long", admission)
        # The bcrypt check below takes a quarter of a second: hold no pooled connection meanwhile.
        await uow.release()
        if user is None or user.password_hash is None:
            await self._hash(admission, self.hashers.dummy_verify, password)
            await self._failed(uow, origin, None, "unknown_user", admission)
        result = await self._hash(admission, self.hashers.verify, password, user.password_hash)
        if not result.ok:
            await self._failed(uow, origin, user, "bad_password", admission)
        if user.disabled:
            await self._failed(uow, origin, user, "disabled", admission)
        if self.guard is not None and admission is not None:
            await self.guard.succeeded(admission)
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
                details={"trusted_device": bool(admission and admission.trusted_device)},
            )
        )
        return user

    async def unthrottle(
        self, uow: UnitOfWork, username: str, origin: RequestOrigin, *, actor: User | None = None
    ) -> None:
        """Forget the failed logins of ``username`` (an administrator's decision, LG-04)."""
        if self.guard is None:
            return
        canonical = canonical_username(username)
        user = await uow.users.get_by_username(canonical)
        await self.guard.reset(LoginGuard.account_key(canonical))
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGIN_UNTHROTTLED,
                self.clock.now(),
                origin,
                actor_id=actor.id if actor else None,
                subject_id=user.id if user else None,
                details={"username": canonical},
            )
        )

    async def _admit_hash(self, uow: UnitOfWork) -> None:
        """Raise the hashing pool's refusal, after its pause, if a hash asked for now would be
        shed; the pause holds no database connection (``HashingPool.hold``)."""
        refusal = self.pool.refusal()
        if refusal is not None:
            await uow.release()
            await self.pool.hold()
            raise refusal

    async def _hash(
        self, admission: Admission | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        # A check the pool shed (503) was no guess: it must not count towards the throttle.
        try:
            return await self.pool.run(fn, *args, **kwargs)
        except Unavailable:
            if self.guard is not None and admission is not None:
                await self.guard.refund(admission)
            raise

    async def _admit(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        canonical: str,
        user: User | None,
        device_token: str | None,
    ) -> Admission | None:
        if self.guard is None:
            return None
        device_id = None
        if self.devices is not None and user is not None:
            device_id = self.devices.verify(device_token, user.id)
        try:
            return await self.guard.admit(LoginGuard.account_key(canonical), device_id=device_id)
        except LoginThrottled as exc:
            await self._throttled(uow, origin, user, exc, "login")
            raise

    async def _throttled(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        user: User | None,
        exc: LoginThrottled,
        what: str,
    ) -> None:
        # Once per waiting period, so hammering a throttled account adds no database writes.
        if not exc.first_refusal:
            return
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGIN_THROTTLED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                subject_id=user.id if user else None,
                reason=what,
                details={"retry_after": exc.retry_after},
            )
        )

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
        admission = None
        if self.guard is not None:
            # Wrong current passwords are throttled like logins (PW-09), on their own counter:
            # guessing here needs the account's access token, not just its name.
            try:
                admission = await self.guard.admit(f"reauth:{user.id}")
            except LoginThrottled as exc:
                await self._throttled(uow, origin, user, exc, "password_change")
                raise
        if len(current_password) > self.policy.max_length:
            await self._change_refused(uow, origin, user)
        await uow.release()
        result = await self._hash(
            admission, self.hashers.verify, current_password, user.password_hash
        )
        if not result.ok:
            await self._change_refused(uow, origin, user)
        if self.guard is not None and admission is not None:
            await self.guard.succeeded(admission)
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
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        user: User | None,
        reason: str,
        admission: Admission | None,
    ) -> NoReturn:
        # The event is staged, then the deliberate error ends the unit of work, which commits it.
        details: dict[str, object] = {}
        if admission is not None:
            details = {"trusted_device": admission.trusted_device, "failures": admission.failures}
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGIN_FAILED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                subject_id=user.id if user else None,
                reason=reason,
                details=details,
            )
        )
        raise InvalidCredentials()
