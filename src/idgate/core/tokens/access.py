"""Access tokens: short-lived JWTs (RFC 9068 profile) issued and verified with strict rules.

Verification follows RFC 8725 and SECURITY.md JW-01..JW-12; the rules themselves live in
:mod:`idgate.core.tokens.verification`, which resource servers (``idgate.guard``) apply too.
Here the key is looked up by ``kid`` in idgate's own key set only, and no outbound request is
ever made.

A signature check costs more than the rest of a request, so each process remembers a bounded
number of verified tokens, by their exact text, together with the key that verified them. A
remembered token is accepted again only while that same key is still in the key set (a key
removed from it invalidates its tokens at once), and its claims (time claims included) are checked
again on every use. Everything verified once depends only on the token's bytes and the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from idgate.core.clock import Clock, to_timestamp
from idgate.core.errors import InvalidToken
from idgate.core.ids import new_id
from idgate.core.tokens.keys import KeyProvider
from idgate.core.tokens.verification import (
    ACCESS_TOKEN_TYPE,
    MAX_LEEWAY,
    MAX_TOKEN_LENGTH,
    RESERVED_CLAIMS,
    AccessClaims,
    VerifiedTokens,
    check_claims,
    check_leeway,
    read_header,
    verified_payload,
)

#: Verified tokens each process remembers (a few MB at most); the oldest is forgotten first.
VERIFIED_CACHE_SIZE = 4096

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "MAX_LEEWAY",
    "MAX_TOKEN_LENGTH",
    "AccessClaims",
    "AccessTokens",
    "IssuedToken",
]


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token and what the server needs to remember about it."""

    token: str
    jti: str
    expires_at: datetime
    expires_in: int


class AccessTokens:
    """Issues and verifies access tokens for one issuer and audience."""

    def __init__(
        self,
        keys: KeyProvider,
        *,
        issuer: str,
        audience: str,
        ttl: timedelta,
        clock: Clock,
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        check_leeway(leeway)
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        self._leeway = leeway
        self._verified = VerifiedTokens(VERIFIED_CACHE_SIZE)

    def issue(
        self,
        subject: str,
        *,
        scope: Sequence[str] = (),
        roles: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """Sign a new access token for ``subject`` (a stable user id, never a username)."""
        key = self._keys.current().active
        now = self._clock.now().replace(microsecond=0)
        expires = now + self.ttl
        jti = new_id().hex
        payload: dict[str, Any] = {
            key: value for key, value in (extra or {}).items() if key not in RESERVED_CLAIMS
        }
        payload.update(
            {
                "iss": self.issuer,
                "aud": self.audience,
                "sub": subject,
                "iat": to_timestamp(now),
                "nbf": to_timestamp(now),
                "exp": to_timestamp(expires),
                "jti": jti,
            }
        )
        if scope:
            payload["scope"] = " ".join(scope)
        payload["roles"] = list(roles)
        token = jwt.encode(
            payload,
            key.signing_key(),
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
        )
        return IssuedToken(
            token=token, jti=jti, expires_at=expires, expires_in=int(self.ttl.total_seconds())
        )

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid access token or raise :class:`InvalidToken`."""
        remembered = self._verified.get(token) if isinstance(token, str) else None
        if remembered is not None:
            verified_by, payload = remembered
            if self._keys.current().get(verified_by.kid) is verified_by:
                return check_claims(payload, self._clock.now(), self._leeway)
            self._verified.forget(token)
        header = read_header(token)
        key = self._keys.current().get(header.kid)
        if key is None:
            raise InvalidToken("The access token was not signed by a known key.")
        payload = verified_payload(token, header, key, self.issuer, self.audience)
        claims = check_claims(payload, self._clock.now(), self._leeway)
        self._verified.remember(token, key, payload)
        return claims
