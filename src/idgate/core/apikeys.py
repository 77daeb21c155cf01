"""API keys: the key format, and the records of service accounts and their keys.

A key looks like ``idg_`` + 43 characters + 6 characters, 53 in all::

    idg_RXhhbXBsZSBvbmx5OiBuZXZlciBhIHJlYWwga2V5IQx2P4Wgv

* ``idg_`` is a fixed prefix, so a leaked key is recognisable in logs, tickets and repositories;
* the 43 characters are 32 bytes (256 bits) from the OS CSPRNG, base64url without padding
  (ASVS 11.5.1, SECURITY.md AK-01);
* the last 6 characters are the CRC32 of everything before them, in base62, so a secret scanner
  (or idgate itself) can tell a real key from a random string offline without a database, as
  GitHub's token format does. It is a typo check, not a secret: it adds no entropy.

A scanner can match ``\\bidg_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}\\b`` and confirm the checksum with
:func:`is_well_formed`.

Keys are stored only as their SHA-256 (AK-02): a 256-bit random secret cannot be brute-forced,
so a slow password hash would add cost without adding safety (ASVS 6.5.2 applies the same
reasoning to high-entropy recovery codes). The full key is returned once, when it is created.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from idgate.core.errors import AuthenticationError
from idgate.core.ids import sha256_hex
from idgate.core.models import User

PREFIX = "idg_"
RANDOM_BYTES = 32
_RANDOM_CHARS = 43  # 32 bytes in unpadded base64url
_CHECKSUM_CHARS = 6  # 62**6 > 2**32
KEY_LENGTH = len(PREFIX) + _RANDOM_CHARS + _CHECKSUM_CHARS
#: What a secret scanner can search for.
KEY_PATTERN = re.compile(r"idg_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Longest header value that is hashed; anything longer cannot be a key anyway.
MAX_PRESENTED_LENGTH = 256


class InvalidApiKey(AuthenticationError):
    """One answer for a wrong, malformed, revoked or expired key, or a disabled owner (AK-04)."""

    code = "invalid_api_key"
    default_detail = "Invalid API key."


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    """Return the 6-character base62 CRC32 of ``body`` (the prefix and random part)."""
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_CHARS)


def generate_key() -> str:
    """Return a new key: prefix, 256 random bits, checksum."""
    random_part = base64.urlsafe_b64encode(secrets.token_bytes(RANDOM_BYTES)).rstrip(b"=").decode()
    body = PREFIX + random_part
    return body + checksum(body)


def is_well_formed(key: str) -> bool:
    """Return whether ``key`` has the format of an idgate key and a valid checksum."""
    if len(key) != KEY_LENGTH or not KEY_PATTERN.fullmatch(key):
        return False
    body, check = key[:-_CHECKSUM_CHARS], key[-_CHECKSUM_CHARS:]
    return secrets.compare_digest(checksum(body), check)


def hash_key(key: str) -> str:
    """Return the stored form of a key: SHA-256, hex."""
    return sha256_hex(key[:MAX_PRESENTED_LENGTH])


@dataclass(frozen=True)
class ServiceAccount:
    """A non-human principal (a service, a job, an integration) owned by a user.

    Its keys can never do more than its owner may; deleting the owner deletes it and its keys.
    """

    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    created_at: datetime
    description: str = ""


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its hash and metadata, never the key itself."""

    id: uuid.UUID
    service_account_id: uuid.UUID
    key_hash: str
    last4: str
    created_at: datetime
    name: str = ""
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: uuid.UUID | None = None

    @property
    def hint(self) -> str:
        """How listings show the key: the prefix and the last four characters."""
        return f"{PREFIX}...{self.last4}"

    def status(self, now: datetime) -> str:
        """Return ``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class ApiKeyRecord:
    """A key with its service account and the state of the account's owner, looked up together."""

    key: ApiKey
    account: ServiceAccount
    owner_disabled: bool


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: ``secret`` is the full key, shown to the caller this once."""

    key: ApiKey
    secret: str = field(repr=False)


@dataclass(frozen=True)
class VerifiedApiKey:
    """A key that authenticated a request: what an introspection endpoint would report."""

    key: ApiKey
    account: ServiceAccount
    owner: User
    #: The owner's permissions now; the key may do what these *and* its scopes allow.
    owner_permissions: tuple[str, ...]
