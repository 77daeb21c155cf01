"""Free text that idgate stores or searches: bounded, and without control characters.

A NUL or other control character in a description or a search would at best corrupt a log line
and at worst be refused by the database (PostgreSQL rejects NUL in text), so it is refused here
with a clear 422 instead.
"""

from __future__ import annotations

import unicodedata

from idgate.core.errors import InvalidInput


def has_control_characters(value: str) -> bool:
    """Return whether ``value`` contains a control, format or unassigned character."""
    return any(unicodedata.category(c).startswith("C") for c in value)


def plain_text(value: str, what: str, *, max_length: int = 256) -> str:
    """Return ``value`` trimmed, or raise :class:`InvalidInput` if it is too long or contains
    control characters."""
    text = value.strip()
    if has_control_characters(text):
        raise InvalidInput(f"The {what} may not contain control characters.")
    if len(text) > max_length:
        raise InvalidInput(f"The {what} is at most {max_length} characters long.")
    return text
