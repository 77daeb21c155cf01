"""Access tokens: short-lived JWTs (RFC 9068 profile) issued and verified with strict rules.

Verification follows RFC 8725 and SECURITY.md JW-01..JW-12:

* the token's size is bounded before anything is parsed;
* the key is chosen only by ``kid`` from idgate's own key set, and the algorithm only from that key
  (never from the token's ``alg``), so ``none``, HS256-with-the-public-key and every other algorithm
  confusion fail;
* ``jku``, ``x5u``, ``jwk``, ``x5c`` and ``crit`` headers are refused outright: they are never used
  to find a key, and no outbound request is ever made;
* ``typ`` must be ``at+jwt``, so an ID token or any other JWT cannot pass as an access token;
* ``iss``, ``aud``, ``sub``, ``exp``, ``iat``, ``nbf`` and ``jti`` are required; time claims are
  checked against the injected clock with a small leeway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from idgate.core.clock import Clock, to_timestamp
from idgate.core.errors import InvalidToken
from idgate.core.ids import new_id
from idgate.core.tokens.keys import KeyProvider

#: RFC 9068 section 2.1: access tokens carry ``typ: at+jwt``.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type
#: Tokens longer than this are refused before parsing (SECURITY.md IN-05, JW-12).
MAX_TOKEN_LENGTH = 8192
#: Headers that would let a token name its own key (RFC 8725 3.10, CVE-2018-0114).
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"})
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti")
#: Registered claims that extra claims may not overwrite.
_RESERVED = frozenset({*_REQUIRED_CLAIMS, "typ"})
MAX_LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly signed access token and what the server needs to remember about it."""

    token: str
    jti: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True)
class AccessClaims:
    """The verified content of an access token."""

    subject: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    scope: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def session_id(self) -> str | None:
        """The ``sid`` claim: the refresh-token family this token was issued with, if any."""
        sid = self.extra.get("sid")
        return sid if isinstance(sid, str) else None

    @property
    def client_id(self) -> str | None:
        """The ``client_id`` claim (RFC 9068 2.2): the client the token was issued to."""
        client = self.extra.get("client_id")
        return client if isinstance(client, str) else None


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
        if leeway > MAX_LEEWAY:
            raise ValueError("clock leeway may not exceed 60 seconds")
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        self._leeway = leeway

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
            key: value for key, value in (extra or {}).items() if key not in _RESERVED
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
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The access token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("The access token is malformed.") from None
        if _FORBIDDEN_HEADERS & header.keys():
            raise InvalidToken("The access token uses a header idgate does not accept.")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in {ACCESS_TOKEN_TYPE, "application/at+jwt"}:
            raise InvalidToken("The token is not an access token.")
        kid = header.get("kid")
        key = self._keys.current().get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("The access token was not signed by a known key.")
        if header.get("alg") != key.alg:
            raise InvalidToken("The access token's algorithm does not match its key.")
        try:
            claims = jwt.decode(
                token,
                key.verification_key(),
                algorithms=[key.alg],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    # Time claims are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise InvalidToken("The access token is for another audience.") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("The access token is from another issuer.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The access token lacks the {exc.claim!r} claim.") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("The access token's signature is invalid.") from None
        except jwt.PyJWTError:
            raise InvalidToken("The access token is malformed.") from None
        return self._check_claims(claims)

    def _check_claims(self, claims: dict[str, Any]) -> AccessClaims:
        now = to_timestamp(self._clock.now())
        leeway = int(self._leeway.total_seconds())
        try:
            exp, iat, nbf = (int(claims[name]) for name in ("exp", "iat", "nbf"))
        except (TypeError, ValueError, OverflowError):
            raise InvalidToken("The access token has an invalid time claim.") from None
        if exp <= now - leeway:
            raise InvalidToken("The access token has expired.")
        if nbf > now + leeway or iat > now + leeway:
            raise InvalidToken("The access token is not valid yet.")
        subject, jti = claims["sub"], claims["jti"]
        if not isinstance(subject, str) or not subject or not isinstance(jti, str) or not jti:
            raise InvalidToken("The access token has an invalid subject or id.")
        scope = claims.get("scope", "")
        roles = claims.get("roles", [])
        if not isinstance(scope, str) or not isinstance(roles, list):
            raise InvalidToken("The access token has invalid scope or roles.")
        if not all(isinstance(role, str) for role in roles):
            raise InvalidToken("The access token has invalid roles.")
        extra = {k: v for k, v in claims.items() if k not in _RESERVED | {"scope", "roles"}}
        return AccessClaims(
            subject=subject,
            jti=jti,
            issued_at=datetime.fromtimestamp(iat, UTC),
            expires_at=datetime.fromtimestamp(exp, UTC),
            scope=tuple(scope.split()),
            roles=tuple(roles),
            extra=extra,
        )
