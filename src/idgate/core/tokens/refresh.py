"""Refresh tokens: opaque secrets, stored only as a hash, grouped into families.

A *family* is one login of one user on one client (RFC 9700 4.14.2 calls it a grant). Every
refresh rotates the token: the presented one is marked used and a new one joins the family. A
used token presented again is *reuse*: someone holds a copy, so the whole family dies (RT-02,
RT-03). Each token also remembers the access token issued with it, so ending a family can put
every still-valid access token of that family on the deny-list.

Expiry has two clocks (RT-06): each token dies ``idle`` after it was issued unless rotated, and the
family dies ``absolute`` after the login whatever its activity.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from idgate.core.errors import InvalidClientId
from idgate.core.ids import sha256_hex, token

#: 32 bytes from the OS CSPRNG: 256 bits, base64url (ASVS 11.5.1, SECURITY.md RT-01).
REFRESH_TOKEN_BYTES = 32
#: Longest refresh token idgate looks up; anything longer is not one of ours.
MAX_REFRESH_TOKEN_LENGTH = 512
#: The client id of idgate's own password login when the request names none.
FIRST_PARTY_CLIENT = "idgate"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class RefreshPolicy:
    """How long refresh tokens live and how a lost race is told from reuse.

    ``reuse_grace``: a rotated token presented again within this time of its rotation is taken for
    the double-tab / retry race and refused without ending the family; later, it is reuse.
    """

    idle: timedelta = timedelta(days=14)
    absolute: timedelta = timedelta(days=30)
    reuse_grace: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        if self.idle <= timedelta(0) or self.absolute <= timedelta(0):
            raise ValueError("refresh-token lifetimes must be positive")
        if self.idle > self.absolute:
            raise ValueError("the idle refresh-token lifetime may not exceed the absolute one")
        if not timedelta(0) <= self.reuse_grace <= timedelta(seconds=60):
            raise ValueError("the refresh reuse grace must be between 0 and 60 seconds")


@dataclass
class RefreshFamily:
    """One login's chain of refresh tokens, bound to a user and a client (RT-01, RT-05)."""

    id: uuid.UUID
    user_id: uuid.UUID
    client_id: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass
class RefreshToken:
    """One refresh token of a family; the secret itself is never stored, only its SHA-256.

    ``access_jti`` / ``access_expires_at`` name the access token issued together with this one.
    """

    id: uuid.UUID
    family_id: uuid.UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    access_jti: str
    access_expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class LiveAccessToken:
    """An access token that has not expired yet, to be put on the deny-list."""

    jti: str
    expires_at: datetime


def new_refresh_secret() -> tuple[str, str]:
    """Return a fresh refresh token and the hash under which it is stored."""
    secret = token(REFRESH_TOKEN_BYTES)
    return secret, hash_refresh_token(secret)


def hash_refresh_token(secret: str) -> str:
    """Return the stored form of a refresh token.

    SHA-256 is enough for a 256-bit random secret (ASVS 11.4.1 / 6.5.2: no slow KDF needed above
    112 bits); it keeps lookups fast and a stolen database useless for refreshing.
    """
    return sha256_hex(secret)


def validate_client_id(client_id: str | None) -> str:
    """Return the client id a token pair is bound to; the first-party client when None."""
    if client_id is None:
        return FIRST_PARTY_CLIENT
    if not _CLIENT_ID.match(client_id):
        raise InvalidClientId()
    return client_id
