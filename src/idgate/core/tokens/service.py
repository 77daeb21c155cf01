"""Token pairs: log in, refresh with rotation and reuse detection, log out, revoke.

The rules (documented for users in ``docs/tokens.md``):

* A login starts a refresh-token *family* bound to the user and the client; the access token
  carries the family id as ``sid`` and the client as ``client_id``.
* A refresh marks the presented token used with an atomic compare-and-set and issues a new pair.
  Of several concurrent refreshes with one token exactly one wins; the others get
  ``invalid_grant`` and the family lives on (RT-04). A used token presented again later than
  ``RefreshPolicy.reuse_grace`` after its rotation is reuse: the whole family is revoked, with
  every access token it issued, and ``refresh.reuse_detected`` is audited (RT-03).
* Logging out revokes the family and the presented access token at once (deny-list by ``jti``);
  logging out everywhere, changing the password and disabling the account revoke every family
  and set the account's revoked-before instant (RT-07, SS-07, SS-08, JW-10).

Every time decision asks the injected clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.clock import Clock
from idgate.core.errors import InvalidGrant, InvalidToken
from idgate.core.ids import new_id
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.rbac import user_token_claims
from idgate.core.tokens.access import MAX_LEEWAY, AccessClaims, AccessTokens, IssuedToken
from idgate.core.tokens.refresh import (
    MAX_REFRESH_TOKEN_LENGTH,
    LiveAccessToken,
    RefreshFamily,
    RefreshPolicy,
    RefreshToken,
    hash_refresh_token,
    new_refresh_secret,
    validate_client_id,
)


@dataclass(frozen=True)
class TokenPair:
    """An access token and the refresh token issued with it."""

    access: IssuedToken
    refresh_token: str
    refresh_expires_at: datetime
    refresh_expires_in: int
    family_id: uuid.UUID
    client_id: str


#: Reads what only idgate can see about an access token, as committed right now:
#: ``(uow, user_id, issuer, jti) -> (the account with its roles or None, whether the jti is on
#: the deny-list)``. The deny-list answer only matters for an enabled account.
AccessStateReader = Callable[[UnitOfWork, uuid.UUID, str, str], Awaitable[tuple[User | None, bool]]]


class TokenService:
    """Issues, rotates and revokes token pairs; the one owner of the refresh-token rules."""

    def __init__(
        self,
        access: AccessTokens,
        policy: RefreshPolicy,
        clock: Clock,
        *,
        read_state: AccessStateReader | None = None,
    ) -> None:
        self.access = access
        self.policy = policy
        self.clock = clock
        #: How :meth:`authenticate` reads the account and the deny-list as committed now;
        #: default: ``uow.users`` and ``uow.revocations``. The store may give a cheaper read
        #: path (``store.user_state``), never a cached one.
        self.read_state = read_state or _state_through_uow

    # --- issuing ----------------------------------------------------------------------------

    async def issue(
        self,
        uow: UnitOfWork,
        user: User,
        origin: RequestOrigin,
        *,
        client_id: str | None = None,
    ) -> TokenPair:
        """Start a new family for ``user`` on ``client_id`` and return its first pair."""
        client = validate_client_id(client_id)
        now = self.clock.now()
        await uow.refresh_tokens.purge_expired(user.id, now)
        family = RefreshFamily(
            id=new_id(),
            user_id=user.id,
            client_id=client,
            created_at=now,
            expires_at=now + self.policy.absolute,
            last_used_at=now,
        )
        await uow.refresh_tokens.add_family(family)
        pair = await self._new_pair(uow, user, family, now)
        await self._audit(uow, AuditEventType.TOKEN_ISSUED, origin, user.id, family, now=now)
        return pair

    async def refresh(
        self,
        uow: UnitOfWork,
        presented: str,
        origin: RequestOrigin,
        *,
        client_id: str | None = None,
    ) -> TokenPair:
        """Exchange a refresh token for a new pair, or raise :class:`InvalidGrant`."""
        client = validate_client_id(client_id)
        now = self.clock.now()
        if not presented or len(presented) > MAX_REFRESH_TOKEN_LENGTH:
            await self._refused(uow, origin, None, None, "malformed")
        found = await uow.refresh_tokens.find(hash_refresh_token(presented))
        if found is None:
            await self._refused(uow, origin, None, None, "unknown")
        record, family = found
        if family.client_id != client:
            # RT-05: a refresh token works only for the client it was issued to.
            await self._refused(uow, origin, family.user_id, family, "client_mismatch")
        if family.is_revoked:
            await self._refused(uow, origin, family.user_id, family, "revoked")
        user = await uow.users.get(family.user_id)
        if user is None or user.disabled:
            await self._refused(uow, origin, family.user_id, family, "account_inactive")
        if user.issued_before_revocation(family.created_at):
            await self._refused(uow, origin, user.id, family, "revoked")
        if record.used_at is not None:
            if now - record.used_at < self.policy.reuse_grace:
                await self._race_lost(uow, origin, user.id, family, now)
            await self._reused(uow, origin, user.id, family, now)
        if now >= record.expires_at or now >= family.expires_at:
            await self._refused(uow, origin, user.id, family, "expired")
        if not await uow.refresh_tokens.mark_used(record.id, now):
            # Another request with this token rotated it after we read it: we were concurrent.
            await self._race_lost(uow, origin, user.id, family, now)
        if not await uow.refresh_tokens.touch_family(family.id, now):
            await self._refused(uow, origin, user.id, family, "revoked")
        pair = await self._new_pair(uow, user, family, now)
        await self._audit(uow, AuditEventType.TOKEN_REFRESHED, origin, user.id, family, now=now)
        return pair

    async def account_of(self, uow: UnitOfWork, presented: str) -> str | None:
        """Return the id of the user a refresh token belongs to (for per-account rate limits),
        or None if it is not one of ours. Nothing is checked or changed."""
        if not presented or len(presented) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        found = await uow.refresh_tokens.find(hash_refresh_token(presented))
        return str(found[1].user_id) if found else None

    # --- revoking ---------------------------------------------------------------------------

    async def authenticate(self, uow: UnitOfWork, token: str) -> tuple[AccessClaims, User]:
        """Return the claims and the account of an access token that is valid *now*, or raise
        :class:`InvalidToken`.

        Beyond the signature and claims, idgate checks what only it can see: the account exists
        and is enabled (JW-06), the token was issued after the account's revoked-before instant,
        and its ``jti`` is not on the deny-list (JW-10). Bearer requests and token introspection
        both ask this.
        """
        claims = self.access.verify(token)
        user_id = _parse_uuid(claims.subject)
        if user_id is None:
            raise InvalidToken("The access token's subject is unknown.")
        user, denied = await self.read_state(uow, user_id, self.access.issuer, claims.jti)
        if user is None or user.disabled:
            raise InvalidToken("The account behind this access token is not active.")
        if denied or user.issued_before_revocation(claims.issued_at):
            raise InvalidToken("The access token has been revoked.")
        return claims, user

    async def logout(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        *,
        user: User | None = None,
        claims: AccessClaims | None = None,
        refresh_token: str | None = None,
        client_id: str | None = None,
    ) -> None:
        """End one session: the family of the access token and/or of the refresh token.

        The presented access token is denied at once, whatever its remaining lifetime. A refresh
        token must belong to ``client_id`` and, with an access token, to the same user; an
        unknown one is ignored (nothing to end, and nothing revealed: RFC 7009 2.2).
        """
        client = validate_client_id(client_id or (claims.client_id if claims else None))
        now = self.clock.now()
        families: set[uuid.UUID] = set()
        subject = user.id if user is not None else None
        # Everything is checked before anything is staged: a refusal revokes nothing.
        if refresh_token and len(refresh_token) <= MAX_REFRESH_TOKEN_LENGTH:
            found = await uow.refresh_tokens.find(hash_refresh_token(refresh_token))
            if found is not None:
                _, family = found
                if family.client_id != client or (user is not None and family.user_id != user.id):
                    raise InvalidGrant("The refresh token was not issued to this client or user.")
                families.add(family.id)
                subject = family.user_id
        if claims is not None:
            family_id = _parse_uuid(claims.session_id)
            if family_id is not None:
                families.add(family_id)
            await self._deny(uow, [LiveAccessToken(claims.jti, claims.expires_at)])
        ended = [fid for fid in sorted(families) if await self._revoke(uow, fid, now, "logout")]
        await self._deny_families(uow, ended, now)
        await uow.audit.add(
            AuditEvent.create(
                AuditEventType.LOGOUT,
                now,
                origin,
                actor_id=subject,
                subject_id=subject,
                details={"client_id": client, "families": [str(fid) for fid in sorted(families)]},
            )
        )

    async def logout_everywhere(
        self, uow: UnitOfWork, user: User, origin: RequestOrigin, claims: AccessClaims | None
    ) -> None:
        """End every session of ``user``, this one included."""
        if claims is not None:
            await self._deny(uow, [LiveAccessToken(claims.jti, claims.expires_at)])
        await self.revoke_user(
            uow, user, origin, reason="logout_all", event=AuditEventType.LOGOUT_ALL
        )

    async def revoke_user(
        self,
        uow: UnitOfWork,
        user: User,
        origin: RequestOrigin,
        *,
        reason: str,
        event: AuditEventType = AuditEventType.TOKENS_REVOKED,
        actor: User | None = None,
    ) -> datetime:
        """Revoke every token of ``user``: all families, their access tokens, and anything issued
        before now (the account's revoked-before instant). Returns that instant.

        It is whole seconds, like a JWT ``iat``, so a pair issued right after (the caller's fresh
        one after a password change) lives; tokens issued earlier in the same second die through
        their family on the deny-list.
        """
        now = self.clock.now()
        before = now.replace(microsecond=0)
        await uow.users.revoke_credentials(user.id, before)
        user.revoked_before = before
        ended = await uow.refresh_tokens.revoke_families_of(user.id, now, reason)
        await self._deny_families(uow, ended, now)
        await uow.audit.add(
            AuditEvent.create(
                event,
                now,
                origin,
                actor_id=actor.id if actor else user.id,
                subject_id=user.id,
                reason=reason,
                details={"families": len(ended)},
            )
        )
        return before

    # --- internals --------------------------------------------------------------------------

    async def _new_pair(
        self, uow: UnitOfWork, user: User, family: RefreshFamily, now: datetime
    ) -> TokenPair:
        # Resource servers decide offline from the permissions in the token
        # (docs/authorization.md); a refresh picks up the roles as they are now.
        claims = dict(await user_token_claims(uow, user))
        claims.update({"sid": str(family.id), "client_id": family.client_id})
        access = self.access.issue(str(user.id), roles=user.roles, extra=claims)
        secret, digest = new_refresh_secret()
        expires = min(now + self.policy.idle, family.expires_at)
        await uow.refresh_tokens.add(
            RefreshToken(
                id=new_id(),
                family_id=family.id,
                token_hash=digest,
                created_at=now,
                expires_at=expires,
                access_jti=access.jti,
                access_expires_at=access.expires_at,
            )
        )
        return TokenPair(
            access=access,
            refresh_token=secret,
            refresh_expires_at=expires,
            refresh_expires_in=int((expires - now).total_seconds()),
            family_id=family.id,
            client_id=family.client_id,
        )

    async def _revoke(
        self, uow: UnitOfWork, family_id: uuid.UUID, now: datetime, reason: str
    ) -> bool:
        return await uow.refresh_tokens.revoke_family(family_id, now, reason)

    async def _deny_families(
        self, uow: UnitOfWork, family_ids: Sequence[uuid.UUID], now: datetime
    ) -> None:
        if family_ids:
            await self._deny(uow, await uow.refresh_tokens.live_access_tokens(family_ids, now))

    async def _deny(self, uow: UnitOfWork, tokens: Iterable[LiveAccessToken]) -> None:
        # Kept past exp by the largest leeway a verifier may allow, so no verifier accepts the
        # token after its entry is gone.
        entries = [LiveAccessToken(t.jti, t.expires_at + MAX_LEEWAY) for t in tokens]
        if entries:
            await uow.revocations.revoke(self.access.issuer, entries)

    async def _reused(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        user_id: uuid.UUID,
        family: RefreshFamily,
        now: datetime,
    ) -> NoReturn:
        # RFC 9700 4.14.2: the legitimate client and an attacker both hold this token; which
        # is which is unknowable, so the whole family ends.
        if await self._revoke(uow, family.id, now, "reuse_detected"):
            await self._deny_families(uow, [family.id], now)
        await self._audit(
            uow,
            AuditEventType.REFRESH_REUSE_DETECTED,
            origin,
            user_id,
            family,
            now=now,
            outcome=Outcome.FAILURE,
            reason="reuse_detected",
        )
        raise InvalidGrant(
            "The refresh token was already used; its session has been ended. Log in again."
        )

    async def _race_lost(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        user_id: uuid.UUID,
        family: RefreshFamily,
        now: datetime,
    ) -> NoReturn:
        await self._audit(
            uow,
            AuditEventType.REFRESH_RACE_LOST,
            origin,
            user_id,
            family,
            now=now,
            outcome=Outcome.FAILURE,
            reason="already_rotated",
        )
        raise InvalidGrant(
            "The refresh token was just used by another request; use the tokens that request got."
        )

    async def _refused(
        self,
        uow: UnitOfWork,
        origin: RequestOrigin,
        user_id: uuid.UUID | None,
        family: RefreshFamily | None,
        reason: str,
    ) -> NoReturn:
        await self._audit(
            uow,
            AuditEventType.REFRESH_FAILED,
            origin,
            user_id,
            family,
            now=self.clock.now(),
            outcome=Outcome.FAILURE,
            reason=reason,
        )
        raise InvalidGrant(_DETAILS.get(reason, InvalidGrant.default_detail))

    async def _audit(
        self,
        uow: UnitOfWork,
        event: AuditEventType,
        origin: RequestOrigin,
        user_id: uuid.UUID | None,
        family: RefreshFamily | None,
        *,
        now: datetime,
        outcome: Outcome = Outcome.SUCCESS,
        reason: str | None = None,
    ) -> None:
        details = {"client_id": family.client_id, "sid": str(family.id)} if family else {}
        await uow.audit.add(
            AuditEvent.create(
                event,
                now,
                origin,
                outcome=outcome,
                actor_id=user_id,
                subject_id=user_id,
                reason=reason,
                details=details,
            )
        )


_DETAILS = {
    "expired": "The refresh token has expired. Log in again.",
    "revoked": "The refresh token has been revoked. Log in again.",
    "client_mismatch": "The refresh token was issued to another client.",
}


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _state_through_uow(
    uow: UnitOfWork, user_id: uuid.UUID, issuer: str, jti: str
) -> tuple[User | None, bool]:
    user = await uow.users.get(user_id)
    if user is None or user.disabled:
        return user, False  # refused anyway: the deny-list need not be asked
    return user, await uow.revocations.is_revoked(issuer, jti)
