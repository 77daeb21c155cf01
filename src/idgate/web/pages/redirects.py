"""The ``next`` parameter: where to go after signing in, and only ever inside idgate (OP-14).

A value is accepted only if it is a path on idgate itself: it starts with a single ``/``, has no
scheme or host, no backslash (browsers read ``/\\evil.test`` as ``//evil.test``) and no control
character. Anything else falls back to the account page; nothing is ever echoed into a
``Location`` header unchecked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_NEXT = "/account"
_MAX_LENGTH = 1024


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """Return ``value`` if it is a local path, else ``default``."""
    if not value or len(value) > _MAX_LENGTH:
        return default
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value) or "\\" in value:
        return default
    if not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
