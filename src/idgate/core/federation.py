"""Federated identities: "Log in with GitHub / Google / any OpenID Connect provider".

The protocol (redirects, token exchange, ID-token checks) lives in ``idgate.oauth.client``; this
module holds what the login *means* for idgate's accounts:

* **Pending authorizations.** Each trip to a provider starts with a fresh ``state`` (256 bits),
  a PKCE verifier and an OIDC ``nonce``. They are stored server-side under the SHA-256 of the
  state, bound to the browser session that started the trip and to the provider chosen, and
  taken exactly once when the browser comes back (SECURITY.md OC-01, OC-02). The state is the
  only one of them that leaves idgate (in the authorization URL).
* **Identities are keyed by (provider, subject)**, never by email (OC-04): a provider account
  signs in to the idgate account it is linked to, or creates a new one. An upstream email links
  to an existing account only when ``link_verified_email`` is on, the provider says the address is
  verified, and exactly one account already holds that address *verified by another provider*.
  idgate accounts made with a username and password have no verified address, so they are only
  ever linked by their signed-in owner.
* **Unlinking** the last way to sign in to an account (no password, one identity) is refused.

Disabled accounts cannot sign in this way either (LG-07). Every outcome is audited (AU-01).
"""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, NoReturn

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import (
    Conflict,
    IdgateError,
    InvalidUsername,
    NotFound,
    PermissionDenied,
    Unavailable,
    UsernameTaken,
)
from idgate.core.ids import constant_time_equals, new_id, sha256_hex, token
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import USER_ROLE
from idgate.core.usernames import MAX_LENGTH, MIN_LENGTH, canonical_username, validate_username

Purpose = Literal["login", "link"]

#: How long a browser may take at the provider before its state is forgotten.
PENDING_TTL = timedelta(minutes=10)


# --- errors -------------------------------------------------------------------------------------


class SocialLoginFailed(IdgateError):
    """A login or link through a provider failed (HTTP 400).

    ``reason`` is a short machine word for the audit log (``unknown_state``, ``bad_id_token``,
    ...); ``detail`` is written for the person, and never names a secret.
    """

    code = "social_login_failed"
    default_detail = "Signing in with this provider failed. Please try again."

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        super().__init__(detail)


class SocialStateInvalid(SocialLoginFailed):
    """The browser came back without the ``state`` this browser session was given (OC-01)."""

    code = "social_state_invalid"
    default_detail = (
        "This sign-in link is not valid for this browser: it is unknown, was already used, has "
        "expired or was started in another browser. Start again from the sign-in page."
    )


class SocialLoginCancelled(SocialLoginFailed):
    """The person declined at the provider (``error=access_denied``)."""

    code = "social_login_cancelled"
    default_detail = "Sign-in was cancelled at the provider. Nothing was changed."


class SocialLoginRefused(PermissionDenied):
    """The provider identity is fine, but its idgate account may not sign in (disabled)."""

    code = "social_login_refused"
    default_detail = "This account is disabled and cannot sign in."


class ProviderUnavailable(Unavailable):
    """The provider could not be reached or answered with a server error (HTTP 503)."""

    code = "social_provider_unavailable"
    default_detail = "The sign-in provider cannot be reached right now. Try again in a moment."

    def __init__(self, reason: str = "unreachable", detail: str | None = None) -> None:
        self.reason = reason
        super().__init__(5, detail)


class IdentityLinkedElsewhere(Conflict):
    """The provider account is already linked to another idgate account."""

    code = "identity_linked_elsewhere"
    default_detail = "This provider account is already linked to another idgate account."


class ProviderAlreadyLinked(Conflict):
    """The account already has an identity of this provider."""

    code = "provider_already_linked"
    default_detail = "Your account is already linked to an account of this provider."


class LastLoginMethod(Conflict):
    """Unlinking would leave the account with no way to sign in."""

    code = "last_login_method"
    default_detail = "This is the only way to sign in to your account: link another provider first."


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamIdentity:
    """Who the provider says signed in, after every protocol check passed.

    ``subject`` is the provider's stable id (OIDC ``sub``, GitHub's numeric user id); ``login`` its
    user name if it has one (GitHub ``login``, OIDC ``preferred_username``). ``email`` is
    lower-cased.
    """

    provider: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    login: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class FederatedIdentity:
    """A provider account linked to an idgate account; unique per (provider, subject)."""

    id: uuid.UUID
    user_id: uuid.UUID
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    login: str | None
    created_at: datetime
    last_login_at: datetime | None = None


@dataclass(frozen=True)
class PendingAuthorization:
    """One trip to a provider, as stored while the browser is away (never the raw state).

    ``session_key`` is the key of the browser session that started it; ``user_id`` the account a
    ``link`` is for.
    """

    key: str
    session_key: str
    provider: str
    code_verifier: str
    nonce: str
    next_path: str
    purpose: Purpose
    created_at: datetime
    expires_at: datetime
    user_id: uuid.UUID | None = None

    def __repr__(self) -> str:  # the verifier and nonce are secrets until used
        return (
            f"PendingAuthorization(provider={self.provider!r}, purpose={self.purpose!r}, "
            f"expires_at={self.expires_at!r})"
        )


@dataclass(frozen=True)
class StartedAuthorization:
    """A pending authorization and its raw ``state``, which goes into the redirect only."""

    state: str
    pending: PendingAuthorization

    def __repr__(self) -> str:
        return f"StartedAuthorization(pending={self.pending!r})"


# --- usernames for new accounts -----------------------------------------------------------------


def _clean(raw: str | None) -> str:
    if not raw:
        return ""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = "".join(c if c.isalnum() or c in "._-" else "-" for c in text.replace(" ", "-"))
    while "--" in text:
        text = text.replace("--", "-")
    return text.strip("._-")[: MAX_LENGTH - 8]


def username_base(upstream: UpstreamIdentity) -> str:
    """Return a valid username derived from the provider's login, email or name.

    ``octocat`` from GitHub's ``octocat``; ``jane.doe`` from ``jane.doe@example.com``; the
    provider's name plus ``-user`` when nothing usable is given.
    """
    local = upstream.email.split("@", 1)[0] if upstream.email else None
    for raw in (upstream.login, local, upstream.name):
        candidate = _clean(raw)
        if len(candidate) >= MIN_LENGTH:
            try:
                return validate_username(candidate)
            except InvalidUsername:
                continue
    return f"{upstream.provider}-user"


async def unique_username(uow: UnitOfWork, base: str) -> str:
    """Return ``base``, or ``base-2`` ... ``base-9``, or ``base-<random>``: the first one free."""
    candidates = [base] + [f"{base}-{n}" for n in range(2, 10)]
    for candidate in candidates:
        if await uow.users.get_by_username(canonical_username(candidate)) is None:
            return candidate
    return f"{base}-{secrets.token_hex(4)}"


# --- the service --------------------------------------------------------------------------------


class FederationService:
    """Pending authorizations, and what a verified upstream identity does to idgate's accounts."""

    def __init__(
        self,
        clock: Clock,
        *,
        link_verified_email: bool = False,
        pending_ttl: timedelta = PENDING_TTL,
    ) -> None:
        self.clock = clock
        #: IDGATE_SOCIAL_LINK_VERIFIED_EMAIL: see the module docstring.
        self.link_verified_email = link_verified_email
        self.pending_ttl = pending_ttl

    # --- the round trip ------------------------------------------------------------------------

    async def begin(
        self,
        uow: UnitOfWork,
        session_key: str,
        provider: str,
        *,
        purpose: Purpose = "login",
        next_path: str = "/account",
        user_id: uuid.UUID | None = None,
    ) -> StartedAuthorization:
        """Store a new pending authorization for the browser session ``session_key``."""
        now = self.clock.now()
        state = token(32)
        pending = PendingAuthorization(
            key=sha256_hex(state),
            session_key=session_key,
            provider=provider,
            # RFC 7636 4.1: 43 to 128 characters; 64 here (384 bits).
            code_verifier=token(48),
            nonce=token(32),
            next_path=next_path,
            purpose=purpose,
            created_at=now,
            expires_at=now + self.pending_ttl,
            user_id=user_id,
        )
        await uow.pending_authorizations.purge_expired(now)
        await uow.pending_authorizations.add(pending)
        return StartedAuthorization(state, pending)

    async def resume(
        self,
        uow: UnitOfWork,
        session_key: str | None,
        provider: str,
        state: str | None,
        origin: RequestOrigin,
    ) -> PendingAuthorization:
        """Take the pending authorization ``state`` names, once, and check it belongs here.

        It must exist, not be expired, have been started by this browser session and for this
        provider (the callback URL names it: mix-up defence, OC-02). It is deleted whatever the
        outcome, so a state is never accepted twice. Raises :class:`SocialStateInvalid`.
        """
        if not state or len(state) > 512:
            await self.failed(uow, origin, provider, "missing_state", SocialStateInvalid)
        pending = await uow.pending_authorizations.take(sha256_hex(state))
        if pending is None:
            await self.failed(uow, origin, provider, "unknown_state", SocialStateInvalid)
        if session_key is None or not constant_time_equals(pending.session_key, session_key):
            await self.failed(uow, origin, provider, "other_session", SocialStateInvalid)
        if pending.provider != provider:
            await self.failed(uow, origin, provider, "wrong_provider", SocialStateInvalid)
        if self.clock.now() >= pending.expires_at:
            await self.failed(uow, origin, provider, "expired_state", SocialStateInvalid)
        return pending

    # --- what an identity does -------------------------------------------------------------------

    async def sign_in(
        self, uow: UnitOfWork, upstream: UpstreamIdentity, origin: RequestOrigin
    ) -> User:
        """Return the account ``upstream`` signs in to, creating or linking one if needed.

        Raises :class:`SocialLoginRefused` for a disabled account.
        """
        now = self.clock.now()
        identity = await uow.federated_identities.get(upstream.provider, upstream.subject)
        if identity is not None:
            user = await uow.users.get(identity.user_id)
            if user is None:  # pragma: no cover - the foreign key cascades
                await self.failed(uow, origin, upstream.provider, "account_missing")
            await self._check_enabled(uow, origin, upstream, user)
            await uow.federated_identities.update(
                replace(
                    identity,
                    email=upstream.email,
                    email_verified=upstream.email_verified,
                    login=upstream.login,
                    last_login_at=now,
                )
            )
            await self._succeeded(uow, origin, upstream, user, created=False)
            return user

        user = await self._account_by_verified_email(uow, upstream)
        if user is not None:
            await self._check_enabled(uow, origin, upstream, user)
            await self._add_identity(uow, origin, upstream, user, reason="verified_email")
            await self._succeeded(uow, origin, upstream, user, created=False)
            return user

        user = await self._create_account(uow, origin, upstream)
        await self._add_identity(uow, origin, upstream, user, reason="new_account")
        await self._succeeded(uow, origin, upstream, user, created=True)
        return user

    async def link(
        self, uow: UnitOfWork, user: User, upstream: UpstreamIdentity, origin: RequestOrigin
    ) -> bool:
        """Link ``upstream`` to the signed-in ``user``; False if it already was.

        Raises :class:`IdentityLinkedElsewhere` or :class:`ProviderAlreadyLinked`.
        """
        existing = await uow.federated_identities.get(upstream.provider, upstream.subject)
        if existing is not None and existing.user_id == user.id:
            return False
        if existing is not None:
            await self._link_refused(uow, origin, upstream, user, "linked_elsewhere")
            raise IdentityLinkedElsewhere()
        mine = await uow.federated_identities.list_for_user(user.id)
        if any(i.provider == upstream.provider for i in mine):
            await self._link_refused(uow, origin, upstream, user, "provider_already_linked")
            raise ProviderAlreadyLinked()
        await self._add_identity(uow, origin, upstream, user, reason="account_page")
        return True

    async def unlink(
        self, uow: UnitOfWork, user: User, identity_id: uuid.UUID, origin: RequestOrigin
    ) -> FederatedIdentity:
        """Remove one of ``user``'s identities; refuse to remove their last way to sign in."""
        identity = await uow.federated_identities.get_by_id(identity_id)
        if identity is None or identity.user_id != user.id:
            raise NotFound("There is no such linked account.")
        remaining = [
            i for i in await uow.federated_identities.list_for_user(user.id) if i.id != identity.id
        ]
        if user.password_hash is None and not remaining:
            await uow.audit.add(
                AuditEvent.create(
                    AuditEventType.IDENTITY_UNLINKED,
                    self.clock.now(),
                    origin,
                    outcome=Outcome.FAILURE,
                    actor_id=user.id,
                    subject_id=user.id,
                    reason="last_login_method",
                    details={"provider": identity.provider},
                )
            )
            raise LastLoginMethod()
        await uow.federated_identities.delete(identity.id)
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.IDENTITY_UNLINKED,
                self.clock.now(),
                origin,
                actor_id=user.id,
                subject_id=user.id,
                details={"provider": identity.provider, "identity": str(identity.id)},
            )
        )
        return identity

    async def identities(self, uow: UnitOfWork, user_id: uuid.UUID) -> Sequence[FederatedIdentity]:
        """Return the user's linked identities, oldest first."""
        found = await uow.federated_identities.list_for_user(user_id)
        return sorted(found, key=lambda i: (i.created_at, i.provider))

    async def failed(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        provider: str,
        reason: str,
        error: type[SocialLoginFailed] = SocialLoginFailed,
        *,
        detail: str | None = None,
        user_id: uuid.UUID | None = None,
    ) -> NoReturn:
        """Stage the audit event of a failed login or link, then raise ``error``."""
        await self.record_failure(uow, origin, provider, reason, user_id=user_id)
        raise error(reason, detail)

    async def record_failure(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        provider: str,
        reason: str,
        *,
        user_id: uuid.UUID | None = None,
    ) -> None:
        """Stage the audit event of a failed login or link (``social.login_failed``)."""
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.SOCIAL_LOGIN_FAILED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                actor_id=user_id,
                subject_id=user_id,
                reason=reason,
                details={"provider": provider},
            )
        )

    # --- helpers ---------------------------------------------------------------------------------

    async def _account_by_verified_email(
        self, uow: UnitOfWork, upstream: UpstreamIdentity
    ) -> User | None:
        if not (self.link_verified_email and upstream.email and upstream.email_verified):
            return None
        holders = await uow.federated_identities.find_verified_email(upstream.email)
        # Another identity of the *same* provider with this address is another person there (the
        # address moved); only other providers vouch for the account.
        owners = {i.user_id for i in holders if i.provider != upstream.provider}
        if len(owners) != 1:
            return None
        return await uow.users.get(owners.pop())

    async def _check_enabled(
        self, uow: UnitOfWork, origin: RequestOrigin, upstream: UpstreamIdentity, user: User
    ) -> None:
        if not user.disabled:
            return
        await self.record_failure(
            uow, origin, upstream.provider, "account_disabled", user_id=user.id
        )
        raise SocialLoginRefused()

    async def _create_account(
        self, uow: UnitOfWork, origin: RequestOrigin, upstream: UpstreamIdentity
    ) -> User:
        username = await unique_username(uow, username_base(upstream))
        user = User(
            id=new_id(),
            username=username,
            password_hash=None,  # signs in through its providers only; UserService refuses it
            created_at=self.clock.now(),
            roles=(USER_ROLE,),
        )
        try:
            await uow.users.add(user, canonical_username(username))
        except UsernameTaken:
            # A registration took the name between the check and the insert; the next attempt
            # picks another.
            await self.failed(uow, origin, upstream.provider, "username_race")
        await uow.roles.grant(user.id, USER_ROLE)
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.USER_REGISTERED,
                self.clock.now(),
                origin,
                actor_id=user.id,
                subject_id=user.id,
                details={"roles": list(user.roles), "provider": upstream.provider},
            )
        )
        return user

    async def _add_identity(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        upstream: UpstreamIdentity,
        user: User,
        *,
        reason: str,
    ) -> FederatedIdentity:
        now = self.clock.now()
        identity = FederatedIdentity(
            id=new_id(),
            user_id=user.id,
            provider=upstream.provider,
            subject=upstream.subject,
            email=upstream.email,
            email_verified=upstream.email_verified,
            login=upstream.login,
            created_at=now,
            last_login_at=now if reason != "account_page" else None,
        )
        await uow.federated_identities.add(identity)
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.IDENTITY_LINKED,
                now,
                origin,
                actor_id=user.id,
                subject_id=user.id,
                reason=reason,
                details={"provider": upstream.provider, "identity": str(identity.id)},
            )
        )
        return identity

    async def _link_refused(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        upstream: UpstreamIdentity,
        user: User,
        reason: str,
    ) -> None:
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.IDENTITY_LINKED,
                self.clock.now(),
                origin,
                outcome=Outcome.FAILURE,
                actor_id=user.id,
                subject_id=user.id,
                reason=reason,
                details={"provider": upstream.provider},
            )
        )

    async def _succeeded(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        upstream: UpstreamIdentity,
        user: User,
        *,
        created: bool,
    ) -> None:
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.SOCIAL_LOGIN_SUCCEEDED,
                self.clock.now(),
                origin,
                actor_id=user.id,
                subject_id=user.id,
                details={"provider": upstream.provider, "new_account": created},
            )
        )


__all__ = [
    "PENDING_TTL",
    "FederatedIdentity",
    "FederationService",
    "IdentityLinkedElsewhere",
    "LastLoginMethod",
    "PendingAuthorization",
    "ProviderAlreadyLinked",
    "ProviderUnavailable",
    "SocialLoginCancelled",
    "SocialLoginFailed",
    "SocialLoginRefused",
    "SocialStateInvalid",
    "StartedAuthorization",
    "UpstreamIdentity",
    "unique_username",
    "username_base",
]
