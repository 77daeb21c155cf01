"""Secrets and identifiers: all randomness comes from the OS CSPRNG (``secrets``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_id() -> uuid.UUID:
    """Return a random (version 4) id: stable, opaque and never reused for another record."""
    return uuid.uuid4()


def token(nbytes: int = 32) -> str:
    """Return a URL-safe random secret of ``nbytes`` bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    """Return the SHA-256 of a high-entropy secret, the form in which such secrets are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets without leaking where they differ."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
