"""Re-authentication: confirming the caller's own password before a sensitive change.

Changing who holds which privileges needs more than a stolen access token: the administrator
types their password again (SECURITY.md AZ-02, ASVS 7.5.3). A failure is audited and answers
``403 current_password_incorrect``, whatever went wrong.
"""

from __future__ import annotations

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import CurrentPasswordIncorrect, LoginThrottled, PermissionDenied
from idgate.core.models import RequestOrigin, User
from idgate.core.passwords.hashers import PasswordHashers
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import UnitOfWork
from idgate.core.throttle import LoginGuard


class ReauthenticationRequired(PermissionDenied):
    code = "reauthentication_required"
    default_detail = "Confirm this change with your current password ('current_password')."


class Reauthentication:
    """Checks a user's current password for a named sensitive ``action``."""

    def __init__(
        self,
        hashers: PasswordHashers,
        pool: HashingPool,
        clock: Clock,
        *,
        max_length: int,
        guard: LoginGuard | None = None,
    ) -> None:
        self._hashers = hashers
        self._pool = pool
        self._clock = clock
        self._max_length = max_length
        #: Wrong passwords are throttled like logins, on the user's re-authentication counter
        #: (shared with password change): a stolen admin token cannot guess the password.
        self._guard = guard

    async def confirm(
        self,
        uow: UnitOfWork,
        user: User,
        password: str | None,
        origin: RequestOrigin,
        *,
        action: str,
    ) -> None:
        """Return if ``password`` is ``user``'s current password; otherwise audit and raise."""
        if password is None:
            raise ReauthenticationRequired()
        admission = None
        if self._guard is not None:
            try:
                admission = await self._guard.admit(f"reauth:{user.id}")
            except LoginThrottled as exc:
                if exc.first_refusal:  # once per waiting period
                    await uow.audit.add(
                        AuditEvent.create(
                            AuditEventType.LOGIN_THROTTLED,
                            self._clock.now(),
                            origin,
                            outcome=Outcome.FAILURE,
                            actor_id=user.id,
                            subject_id=user.id,
                            reason=action,
                            details={"retry_after": exc.retry_after},
                        )
                    )
                raise
        ok = False
        if user.password_hash is not None and len(password) <= self._max_length:
            await uow.release()
            result = await self._pool.run(self._hashers.verify, password, user.password_hash)
            ok = result.ok
        else:
            await self._pool.run(self._hashers.dummy_verify, password[: self._max_length])
        if ok:
            if self._guard is not None and admission is not None:
                await self._guard.succeeded(admission)
            return
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.REAUTHENTICATION_FAILED,
                self._clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                actor_id=user.id,
                subject_id=user.id,
                reason="current_password_incorrect",
                details={"action": action},
            )
        )
        raise CurrentPasswordIncorrect()
