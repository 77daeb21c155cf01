"""Password hashing and the password policy."""

from __future__ import annotations

from idgate.core.passwords.hashers import (
    Argon2idHasher,
    BcryptHasher,
    LegacyBcryptHasher,
    PasswordHasher,
    PasswordHashers,
    Pepper,
    normalize_password,
)
from idgate.core.passwords.policy import PasswordPolicy

__all__ = [
    "Argon2idHasher",
    "BcryptHasher",
    "LegacyBcryptHasher",
    "PasswordHasher",
    "PasswordHashers",
    "PasswordPolicy",
    "Pepper",
    "normalize_password",
]
