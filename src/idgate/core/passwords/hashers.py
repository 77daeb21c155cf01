"""Self-describing password hashes: the first hasher hashes, every hasher verifies.

Every stored hash names its algorithm and parameters, so a later algorithm (argon2id) or a
higher bcrypt cost can still verify old hashes, and a successful login rehashes them (OWASP
Password Storage Cheat Sheet, "Upgrading the Work Factor"; the pattern of Django's
``contrib/auth/hashers.py``).

bcrypt reads at most 72 bytes, and pyca/bcrypt 5 raises on longer input instead of truncating.
idgate therefore never gives bcrypt the password itself: it gives it
``base64(HMAC-SHA-384(pepper, NFKC(password)))``, 64 ASCII bytes, as the OWASP Password Storage
Cheat Sheet recommends ("Pre-Hashing Passwords with bcrypt"). Every character stays significant,
NUL bytes included, long passwords work, and the pepper, kept outside the database, means a
stolen table alone cannot be attacked (nor "shucked" against other leaked hashes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import unicodedata
from dataclasses import dataclass
from typing import Protocol

import bcrypt
from argon2 import PasswordHasher as _Argon2, Type as _Argon2Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: bcrypt costs below this are refused outside the test environment (ASVS 5.0 appendix C).
MIN_BCRYPT_COST = 10


def normalize_password(password: str) -> str:
    """Return the form in which a password is hashed and verified.

    NIST SP 800-63B 5.1.1.2: verifiers SHOULD apply NFKC or NFKD normalisation before hashing, so a
    password typed as a precomposed ``ä`` matches one typed as ``a`` + combining diaeresis.
    """
    return unicodedata.normalize("NFKC", password)


@dataclass(frozen=True)
class Pepper:
    """A server-side secret mixed into every bcrypt input; ``id`` is recorded in each hash."""

    id: str
    secret: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> Pepper:
        if len(secret) < 32:
            raise ValueError("a pepper needs at least 32 bytes")
        ident = hashlib.sha256(b"idgate-pepper-id:" + secret).hexdigest()[:8]
        return cls(id=ident, secret=secret)

    def __repr__(self) -> str:
        return f"Pepper(id={self.id!r}, secret=***)"


class PasswordHasher(Protocol):
    """One password-hashing scheme.

    Implement this to add a scheme; register it in :class:`PasswordHashers`. Example::

        class MyHasher:
            def identifies(self, encoded: str) -> bool:
                return encoded.startswith("my$")
            ...
    """

    def identifies(self, encoded: str) -> bool:
        """Return whether ``encoded`` was produced by this scheme."""
        ...

    def hash(self, password: str) -> str:
        """Return a new self-describing hash of an already normalised password."""
        ...

    def verify(self, password: str, encoded: str) -> bool:
        """Return whether the normalised password matches ``encoded``."""
        ...

    def needs_rehash(self, encoded: str) -> bool:
        """Return whether ``encoded`` uses weaker parameters than this hasher would use now."""
        ...


class BcryptHasher:
    """bcrypt over a peppered HMAC-SHA-384 pre-hash: ``bcrypt-hmac-sha384$<pepper id>$<bcrypt>``."""

    prefix = "bcrypt-hmac-sha384$"

    def __init__(self, peppers: list[Pepper], cost: int = 12, *, allow_low_cost: bool = False):
        if not peppers:
            raise ValueError("BcryptHasher needs at least one pepper")
        if not 4 <= cost <= 31:
            raise ValueError("bcrypt cost must be between 4 and 31")
        if cost < MIN_BCRYPT_COST and not allow_low_cost:
            raise ValueError(f"bcrypt cost must be at least {MIN_BCRYPT_COST}")
        self.cost = cost
        self._current = peppers[0]
        self._peppers = {p.id: p for p in peppers}

    def _prehash(self, password: str, pepper: Pepper) -> bytes:
        digest = hmac.new(pepper.secret, password.encode("utf-8"), hashlib.sha384).digest()
        return base64.b64encode(digest)  # 64 bytes, no NUL: safe for bcrypt

    def identifies(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def hash(self, password: str) -> str:
        inner = bcrypt.hashpw(self._prehash(password, self._current), bcrypt.gensalt(self.cost))
        return f"{self.prefix}{self._current.id}${inner.decode('ascii')}"

    def _split(self, encoded: str) -> tuple[Pepper, bytes] | None:
        try:
            pepper_id, inner = encoded[len(self.prefix) :].split("$", 1)
        except ValueError:
            return None
        pepper = self._peppers.get(pepper_id)
        if pepper is None:
            return None
        return pepper, inner.encode("ascii", "replace")

    def verify(self, password: str, encoded: str) -> bool:
        parts = self._split(encoded)
        if parts is None:
            return False
        pepper, inner = parts
        try:
            return bcrypt.checkpw(self._prehash(password, pepper), inner)
        except ValueError:  # a corrupt stored hash must not become a 500
            return False

    def needs_rehash(self, encoded: str) -> bool:
        parts = self._split(encoded)
        if parts is None:
            return True
        pepper, inner = parts
        try:
            cost = int(inner.split(b"$")[2])
        except (IndexError, ValueError):
            return True
        return pepper.id != self._current.id or cost != self.cost


class LegacyBcryptHasher:
    """Verifies plain bcrypt hashes (``$2b$…``) imported from another system; never hashes.

    Such hashes were made from the raw password, so only passwords of at most 72 bytes can match:
    longer ones are refused rather than truncated (ASVS 6.2.8). Any successful login upgrades the
    hash to the current scheme.
    """

    prefixes = ("$2a$", "$2b$", "$2y$")

    def identifies(self, encoded: str) -> bool:
        return encoded.startswith(self.prefixes)

    def hash(self, password: str) -> str:
        raise NotImplementedError("legacy bcrypt hashes are verified, never created")

    def verify(self, password: str, encoded: str) -> bool:
        raw = password.encode("utf-8")
        if len(raw) > 72:
            return False
        try:
            return bcrypt.checkpw(raw, encoded.encode("ascii", "replace"))
        except ValueError:
            return False

    def needs_rehash(self, encoded: str) -> bool:
        return True


class Argon2idHasher:
    """argon2id through argon2-cffi; defaults are OWASP's minimum (m=19 MiB, t=2, p=1)."""

    prefix = "$argon2id$"

    def __init__(self, memory_cost: int = 19456, time_cost: int = 2, parallelism: int = 1):
        self._hasher = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=_Argon2Type.ID,
        )

    def identifies(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a password against a stored hash."""

    ok: bool
    needs_rehash: bool = False


class PasswordHashers:
    """The configured schemes: ``hashers[0]`` hashes new passwords, every one verifies."""

    def __init__(self, hashers: list[PasswordHasher]) -> None:
        if not hashers:
            raise ValueError("at least one password hasher is needed")
        self._hashers = hashers
        self._preferred = hashers[0]
        # A real hash of a random password, checked for unknown users so that a login for an
        # account that does not exist costs the same as one for an account that does (LG-02;
        # Django's ModelBackend, ticket #20760). Made on first need or by ``prepare``, not here:
        # at cost 12 it took a fifth of a second of every worker's start-up.
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def prepare(self) -> None:
        """Make the hash that unknown accounts are checked against (call it off the event loop,
        at start-up, so that no login waits for it)."""
        self._dummy_hash()

    def _dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self._preferred.hash(normalize_password("idgate-dummy-password-0000"))
            return self._dummy

    def hash(self, password: str) -> str:
        """Return a new hash of ``password`` with the preferred scheme."""
        return self._preferred.hash(normalize_password(password))

    def verify(self, password: str, encoded: str) -> Verification:
        """Check ``password`` against ``encoded`` with whichever scheme made it."""
        normalized = normalize_password(password)
        for hasher in self._hashers:
            if hasher.identifies(encoded):
                ok = hasher.verify(normalized, encoded)
                preferred = hasher is self._preferred
                stale = not preferred or hasher.needs_rehash(encoded)
                return Verification(ok=ok, needs_rehash=ok and stale)
        return Verification(ok=False)

    def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verification and learn nothing (for unknown accounts)."""
        self._preferred.verify(normalize_password(password), self._dummy_hash())
