"""Browser sessions: server-side state behind an opaque cookie.

The cookie holds only a random 256-bit id; the store keeps its SHA-256 (a stolen database or
Redis dump yields no usable cookie) and everything else: the user, the CSRF token, timestamps.
Sessions come in two kinds:

* a *pre-session* (``user_id`` None) exists only to carry the CSRF token of the login and
  registration forms, so those forms are protected too (login CSRF, CSRF-04);
* a *signed-in* session is created at login with a fresh id (the pre-session is destroyed, so no
  id chosen or seen before login ever becomes authenticated: SS-02), and rotated again at every
  privilege change (re-authentication, password change).

Every lookup enforces the idle and absolute timeouts (SS-05, SS-06) server-side; logout and
revocation delete the record (SS-04, SS-09). Storage is the :class:`SessionRepository` port: the
database by default, Redis when configured.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.clock import Clock
from idgate.core.ids import new_id, sha256_hex, token
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import SessionRepository, UnitOfWork

#: What ``secrets.token_urlsafe(32)`` produces: 43 base64url characters. Anything else in the
#: cookie is refused before the store is asked.
SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class BrowserSession:
    """One browser's session, as the store keeps it (never the raw id).

    ``key`` is the SHA-256 of the cookie value. ``public_id`` names the session on the account
    page and in revocation forms; it is not a credential. ``created_at`` is when this id was
    issued (a rotation issues a new one); ``signed_in_at`` when the user logged in (kept across
    rotations); ``authenticated_at`` when they last proved their password (login or
    re-authentication). ``expires_at`` is the absolute limit, also kept across rotations.
    """

    key: str
    public_id: uuid.UUID
    user_id: uuid.UUID | None
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    signed_in_at: datetime | None = None
    authenticated_at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def is_signed_in(self) -> bool:
        return self.user_id is not None


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes of browser sessions (defaults: SECURITY.md §3, NIST SP 800-63B AAL2).

    ``touch_interval`` bounds how often ``last_seen_at`` is written: at most once a minute per
    session, so reading a page is not a database write each time. The idle timeout is therefore
    enforced to within that interval.
    """

    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    reauth_window: timedelta = timedelta(minutes=10)
    touch_interval: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedSession:
    """A session just created or rotated, with the raw id for the ``Set-Cookie`` header.

    ``cookie_value`` exists only here and in the cookie; it is never stored or logged.
    """

    cookie_value: str
    session: BrowserSession

    def __repr__(self) -> str:
        return f"IssuedSession(session={self.session!r})"


class SessionService:
    """Creates, checks, rotates and ends browser sessions.

    ``store_for`` returns the session store to use inside a unit of work: the unit of work's own
    repository (database, transactional with the audit events) or a shared Redis store.
    """

    def __init__(
        self,
        policy: SessionPolicy,
        clock: Clock,
        store_for: Callable[[UnitOfWork], SessionRepository],
    ) -> None:
        self.policy = policy
        self.clock = clock
        self._store_for = store_for

    # --- lookups ---------------------------------------------------------------------------

    async def resolve(
        self, uow: UnitOfWork, cookie_value: str, origin: RequestOrigin | None = None
    ) -> BrowserSession | None:
        """Return the live session behind a cookie value, or None.

        An expired session is deleted (and its end audited); a live one has ``last_seen_at``
        refreshed (at most once per ``touch_interval``).
        """
        if not SESSION_ID_PATTERN.match(cookie_value):
            return None
        store = self._store_for(uow)
        session = await store.get(sha256_hex(cookie_value))
        if session is None:
            return None
        now = self.clock.now()
        if now >= session.expires_at or now >= session.last_seen_at + self.policy.idle_timeout:
            await store.delete(session.key)
            reason = "absolute_timeout" if now >= session.expires_at else "idle_timeout"
            await self._audit_end(uow, session, reason, origin)
            return None
        if now - session.last_seen_at >= self.policy.touch_interval:
            ip = origin.ip if origin else session.ip
            agent = origin.user_agent if origin else session.user_agent
            session = replace(session, last_seen_at=now, ip=ip, user_agent=agent)
            await store.touch(session, keep_until=self._keep_until(session))
        return session

    async def user_of(
        self, uow: UnitOfWork, session: BrowserSession, origin: RequestOrigin | None = None
    ) -> User | None:
        """Return the enabled user of a signed-in session, or None (and end the session).

        A session issued before the user's revoked-before instant (password change, sign out
        everywhere) is dead (SS-07), as is one whose account was disabled or deleted (SS-08).
        """
        if session.user_id is None:
            return None
        user = await uow.users.get(session.user_id)
        reason = None
        if user is None or user.disabled:
            reason = "account_inactive"
        elif user.issued_before_revocation(session.created_at):
            reason = "credentials_revoked"
        if reason is not None:
            await self._store_for(uow).delete(session.key)
            await self._audit_end(uow, session, reason, origin)
            return None
        return user

    async def list_for(self, uow: UnitOfWork, user_id: uuid.UUID) -> list[BrowserSession]:
        """Return the user's live sessions, most recently used first."""
        now = self.clock.now()
        sessions = [
            s
            for s in await self._store_for(uow).list_for_user(user_id)
            if now < s.expires_at and now < s.last_seen_at + self.policy.idle_timeout
        ]
        return sorted(sessions, key=lambda s: (s.last_seen_at, s.created_at), reverse=True)

    def needs_reauthentication(self, session: BrowserSession) -> bool:
        """Return whether a sensitive action must first ask for the password again (SS-09)."""
        if session.authenticated_at is None:
            return True
        return self.clock.now() >= session.authenticated_at + self.policy.reauth_window

    # --- life cycle ------------------------------------------------------------------------

    async def begin(self, uow: UnitOfWork, origin: RequestOrigin) -> IssuedSession:
        """Start a pre-session: no user, only a CSRF token for the login and registration forms."""
        now = self.clock.now()
        issued = self._new(None, origin, now, expires_at=now + self.policy.absolute_timeout)
        await self._store_for(uow).add(issued.session, keep_until=self._keep_until(issued.session))
        return issued

    async def login(
        self,
        uow: UnitOfWork,
        user: User,
        origin: RequestOrigin,
        *,
        previous: BrowserSession | None = None,
    ) -> IssuedSession:
        """Start a signed-in session for ``user`` after a successful password check.

        The id is always new; ``previous`` (the pre-session, or another user's session in this
        browser) is destroyed, so no id that existed before login survives it (SS-02).
        """
        store = self._store_for(uow)
        now = self.clock.now()
        if previous is not None:
            await store.delete(previous.key)
            if previous.is_signed_in:
                await self._audit_end(uow, previous, "replaced", origin)
        await store.purge_expired(now)
        issued = self._new(
            user.id,
            origin,
            now,
            expires_at=now + self.policy.absolute_timeout,
            signed_in_at=now,
            authenticated_at=now,
        )
        await store.add(issued.session, keep_until=self._keep_until(issued.session))
        await self._audit(uow, AuditEventType.SESSION_CREATED, issued.session, origin)
        return issued

    async def rotate(
        self,
        uow: UnitOfWork,
        session: BrowserSession,
        origin: RequestOrigin,
        *,
        reason: str,
        reauthenticated: bool = False,
    ) -> IssuedSession:
        """Replace a signed-in session's id and CSRF token, keeping its user and absolute limit.

        Called at every privilege change (SS-02): re-authentication (``reauthenticated`` renews
        ``authenticated_at``) and password change.
        """
        store = self._store_for(uow)
        now = self.clock.now()
        await store.delete(session.key)
        issued = self._new(
            session.user_id,
            origin,
            now,
            expires_at=session.expires_at,
            signed_in_at=session.signed_in_at,
            authenticated_at=now if reauthenticated else session.authenticated_at,
            public_id=session.public_id,
        )
        await store.add(issued.session, keep_until=self._keep_until(issued.session))
        await self._audit(
            uow, AuditEventType.SESSION_ROTATED, issued.session, origin, reason=reason
        )
        return issued

    async def logout(self, uow: UnitOfWork, session: BrowserSession, origin: RequestOrigin) -> None:
        """End a session (SS-04): the record is deleted, so the cookie is worthless everywhere."""
        await self._store_for(uow).delete(session.key)
        if session.is_signed_in:
            await self._audit_end(uow, session, "logout", origin)

    async def revoke(
        self, uow: UnitOfWork, user: User, public_id: uuid.UUID, origin: RequestOrigin
    ) -> bool:
        """End one of ``user``'s sessions, named by its public id; False if there is none."""
        for session in await self._store_for(uow).list_for_user(user.id):
            if session.public_id == public_id:
                await self._store_for(uow).delete(session.key)
                await self._audit_end(uow, session, "revoked", origin, actor_id=user.id)
                return True
        return False

    async def revoke_others(
        self, uow: UnitOfWork, user: User, current: BrowserSession, origin: RequestOrigin
    ) -> int:
        """End every session of ``user`` except ``current`` ("sign out other devices")."""
        store = self._store_for(uow)
        ended = 0
        for session in await store.list_for_user(user.id):
            if session.key != current.key:
                await store.delete(session.key)
                await self._audit_end(uow, session, "revoked", origin, actor_id=user.id)
                ended += 1
        return ended

    async def after_password_change(
        self, uow: UnitOfWork, user: User, current: BrowserSession, origin: RequestOrigin
    ) -> IssuedSession:
        """Keep the browser that changed the password signed in, and only that one (SS-07).

        Every other session is deleted (the user's revoked-before instant kills them too), and the
        current one gets a new id issued after that instant.
        """
        store = self._store_for(uow)
        for session in await store.list_for_user(user.id):
            if session.key != current.key:
                await store.delete(session.key)
                await self._audit_end(uow, session, "password_changed", origin, actor_id=user.id)
        return await self.rotate(uow, current, origin, reason="password_changed")

    # --- helpers ---------------------------------------------------------------------------

    def _keep_until(self, session: BrowserSession) -> datetime:
        return min(session.expires_at, session.last_seen_at + self.policy.idle_timeout)

    @staticmethod
    def _new(
        user_id: uuid.UUID | None,
        origin: RequestOrigin,
        now: datetime,
        *,
        expires_at: datetime,
        signed_in_at: datetime | None = None,
        authenticated_at: datetime | None = None,
        public_id: uuid.UUID | None = None,
    ) -> IssuedSession:
        raw = token(32)  # 256 bits from the OS CSPRNG (SS-01)
        session = BrowserSession(
            key=sha256_hex(raw),
            public_id=public_id or new_id(),
            user_id=user_id,
            csrf_token=token(32),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            signed_in_at=signed_in_at,
            authenticated_at=authenticated_at,
            ip=origin.ip,
            user_agent=origin.user_agent,
        )
        return IssuedSession(raw, session)

    async def _audit(
        self,
        uow: UnitOfWork,
        type: AuditEventType,
        session: BrowserSession,
        origin: RequestOrigin | None,
        *,
        reason: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        await uow.audit.add(
            AuditEvent.create(
                type,
                self.clock.now(),
                origin or RequestOrigin(),
                actor_id=actor_id or session.user_id,
                subject_id=session.user_id,
                reason=reason,
                # The public id correlates a session's events; the raw id is never logged (AU-02).
                details={"session": str(session.public_id)},
            )
        )

    async def _audit_end(
        self,
        uow: UnitOfWork,
        session: BrowserSession,
        reason: str,
        origin: RequestOrigin | None,
        *,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        if session.is_signed_in:
            await self._audit(
                uow,
                AuditEventType.SESSION_DESTROYED,
                session,
                origin,
                reason=reason,
                actor_id=actor_id,
            )


__all__ = [
    "SESSION_ID_PATTERN",
    "BrowserSession",
    "IssuedSession",
    "SessionPolicy",
    "SessionRepository",
    "SessionService",
]
