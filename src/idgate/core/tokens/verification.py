"""The rules every verifier of idgate's access tokens applies: idgate itself and resource servers.

``AccessTokens.verify`` (the server, with its own key set) and ``idgate.guard`` (another service,
with the keys of the published JWKS) run the same two steps, so a token passes or fails the same
way wherever it is presented (RFC 8725, SECURITY.md JW-01..JW-12):

1. :func:`read_header`, before any key is looked up: the token's size is bounded; ``jku``,
   ``x5u``, ``jwk``, ``x5c`` and ``crit`` headers are refused outright (they never name a key and
   never cause a request); ``typ`` must be ``at+jwt`` (RFC 9068), so an ID token or any other JWT
   cannot pass as an access token; ``kid`` must be a short string: it is only ever a dictionary
   index into the verifier's key set.
2. :func:`verify_signed`, with the key the verifier found for that ``kid``: the algorithm comes
   only from that key (never from the token's ``alg``, so ``none``, HS256-with-the-public-key and
   every other confusion fail); the signature is checked before any claim is used; ``iss``,
   ``aud``, ``sub``, ``exp``, ``iat``, ``nbf`` and ``jti`` are required; time claims are compared
   with the verifier's clock with at most :data:`MAX_LEEWAY` of leeway.

This module does no I/O and imports only PyJWT and the standard library.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt

from idgate.core.clock import to_timestamp
from idgate.core.errors import InvalidToken

#: RFC 9068 section 2.1: access tokens carry ``typ: at+jwt``.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type
_ACCEPTED_TYPES = frozenset({ACCESS_TOKEN_TYPE, "application/at+jwt"})
#: Tokens longer than this are refused before parsing (SECURITY.md IN-05, JW-12).
MAX_TOKEN_LENGTH = 8192
#: A ``kid`` longer than this names no key of ours (ours are 43-character thumbprints).
MAX_KID_LENGTH = 128
#: Headers that would let a token name its own key (RFC 8725 3.10, CVE-2018-0114).
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"})
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti")
#: Registered claims that extra claims may not overwrite.
RESERVED_CLAIMS = frozenset({*REQUIRED_CLAIMS, "typ"})
#: Claims that become fields of :class:`AccessClaims`; the rest are kept as ``extra``.
_MAPPED_CLAIMS = RESERVED_CLAIMS | {"scope", "roles"}
#: The largest clock leeway any verifier may allow (SECURITY.md JW-05).
MAX_LEEWAY = timedelta(seconds=60)


class VerificationKey(Protocol):
    """A key a verifier trusts: its ``kid``, its one algorithm, and the key material."""

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    def verification_key(self) -> Any:
        """Return what PyJWT verifies with: a public key, or the HS256 secret."""
        ...


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


@dataclass(frozen=True)
class TokenHeader:
    """The parts of an unverified header a verifier may use: the ``kid`` to look a key up by,
    and the ``alg`` to compare with that key's algorithm."""

    kid: str
    alg: object


def check_leeway(leeway: timedelta) -> timedelta:
    """Return ``leeway`` if it is between 0 and :data:`MAX_LEEWAY`, else raise ``ValueError``."""
    if not timedelta(0) <= leeway <= MAX_LEEWAY:
        raise ValueError("clock leeway must be between 0 and 60 seconds")
    return leeway


def read_header(token: str) -> TokenHeader:
    """Check what can be checked before a key is chosen; return the ``kid`` to look up.

    Raises :class:`InvalidToken` for an oversized or malformed token, a forbidden header, a
    ``typ`` other than ``at+jwt``, or a missing or implausible ``kid``.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The access token is malformed.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("The access token is malformed.") from None
    if FORBIDDEN_HEADERS & header.keys():
        raise InvalidToken("The access token uses a header idgate does not accept.")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("The token is not an access token.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise InvalidToken("The access token was not signed by a known key.")
    return TokenHeader(kid=kid, alg=header.get("alg"))


def verify_signed(
    token: str,
    header: TokenHeader,
    key: VerificationKey,
    *,
    issuer: str,
    audience: str | Sequence[str],
    now: datetime,
    leeway: timedelta,
) -> AccessClaims:
    """Verify ``token`` with ``key`` (the key its ``kid`` names) and return its claims.

    ``audience`` is the verifier's own audience, or a list of the audiences it accepts
    (SECURITY.md JW-07). Raises :class:`InvalidToken` saying what was wrong, never quoting the
    token.
    """
    return _check_claims(verified_payload(token, header, key, issuer, audience), now, leeway)


def verified_payload(
    token: str,
    header: TokenHeader,
    key: VerificationKey,
    issuer: str,
    audience: str | Sequence[str],
) -> dict[str, Any]:
    """Verify the signature, ``iss``, ``aud`` and presence of the required claims of ``token``
    and return its payload; its time and content claims are for :func:`check_claims`."""
    if header.alg != key.alg:
        raise InvalidToken("The access token's algorithm does not match its key.")
    try:
        claims = jwt.decode(
            token,
            key.verification_key(),
            algorithms=[key.alg],
            audience=audience if isinstance(audience, str) else list(audience),
            issuer=issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                # Time claims are checked below against the verifier's clock.
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
    if not isinstance(claims, dict):
        raise InvalidToken("The access token is malformed.")
    return claims


class VerifiedTokens:
    """Tokens whose signature, issuer and audience were verified, each with the key that did it.

    A token is sent with every request of its lifetime; verifying its signature again each time
    (an EdDSA check cost as much as a whole bare FastAPI request, docs/benchmarks.md) is replaced
    by a lookup. Only the signature is remembered: time and content claims are checked on every
    use (:func:`check_claims`). An entry counts only with the very key object that verified it,
    so a key removed from the key set, or a key set fetched anew, forgets its tokens at once
    (the caller compares, :meth:`get`).
    At most ``size`` tokens are kept; the oldest is forgotten first.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[VerificationKey, dict[str, Any]]] = OrderedDict()

    def get(self, token: str) -> tuple[VerificationKey, dict[str, Any]] | None:
        """Return the key that verified ``token`` and its payload, or None.

        The caller must check that this key is still the one its key set holds for that kid,
        and :meth:`forget` the token otherwise.
        """
        return self._entries.get(token)

    def forget(self, token: str) -> None:
        """Forget ``token`` (its key is gone or was replaced)."""
        self._entries.pop(token, None)

    def remember(self, token: str, key: VerificationKey, payload: dict[str, Any]) -> None:
        """Remember that ``key`` verified ``token``, whose payload is ``payload``."""
        self._entries[token] = (key, payload)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def check_claims(claims: dict[str, Any], now: datetime, leeway: timedelta) -> AccessClaims:
    """Check the claims of a token whose signature and ``iss``/``aud`` were already verified
    (time claims against ``now``) and return them; raise :class:`InvalidToken` otherwise."""
    return _check_claims(claims, now, leeway)


def _check_claims(claims: dict[str, Any], now: datetime, leeway: timedelta) -> AccessClaims:
    current = to_timestamp(now)
    margin = int(check_leeway(leeway).total_seconds())
    try:
        exp, iat, nbf = (int(claims[name]) for name in ("exp", "iat", "nbf"))
    except (TypeError, ValueError, OverflowError):
        raise InvalidToken("The access token has an invalid time claim.") from None
    if exp <= current - margin:
        raise InvalidToken("The access token has expired.")
    if nbf > current + margin or iat > current + margin:
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
    extra = {k: v for k, v in claims.items() if k not in _MAPPED_CLAIMS}
    try:
        issued_at = datetime.fromtimestamp(iat, UTC)
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidToken("The access token has an invalid time claim.") from None
    return AccessClaims(
        subject=subject,
        jti=jti,
        issued_at=issued_at,
        expires_at=expires_at,
        scope=tuple(scope.split()),
        roles=tuple(roles),
        extra=extra,
    )
