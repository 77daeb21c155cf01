"""Usernames: one canonical form, so look-alike and case variants cannot create a second account.

A username is NFKC-normalised and trimmed for display, and additionally case-folded for uniqueness
and lookup (ASVS 5.0 1.1.1, 1.5.3): ``Alice``, ``alice`` and ``Alice`` typed in full-width
letters are one account. Letters and digits of any script are allowed, plus ``. _ - @ +``, so
an email address can serve as a username.
"""

from __future__ import annotations

import unicodedata

from idgate.core.errors import InvalidUsername

MIN_LENGTH = 3
MAX_LENGTH = 128
_PUNCTUATION = frozenset("._-@+")


def normalize_username(raw: str) -> str:
    """Return the display form: NFKC, surrounding whitespace removed."""
    return unicodedata.normalize("NFKC", raw).strip()


def canonical_username(raw: str) -> str:
    """Return the form used for uniqueness and lookup (display form, case-folded)."""
    return unicodedata.normalize("NFKC", normalize_username(raw).casefold())


def validate_username(raw: str) -> str:
    """Return the display form of ``raw`` or raise :class:`InvalidUsername` saying why."""
    name = normalize_username(raw)
    if len(name) < MIN_LENGTH:
        raise InvalidUsername(f"Username must be at least {MIN_LENGTH} characters long.")
    if len(name) > MAX_LENGTH:
        raise InvalidUsername(f"Username must be at most {MAX_LENGTH} characters long.")
    if any(not (c.isalnum() or c in _PUNCTUATION) for c in name):
        raise InvalidUsername(
            "Username may contain only letters, digits and the characters . _ - @ +"
        )
    return name
