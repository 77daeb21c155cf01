"""Device tokens: proof that a client has logged in to an account before.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": after a successful login the
client receives a token bound to that account; a later login to the same account that presents it
is judged on the device's own failure count, not on the account's, so an attacker hammering the
account from elsewhere cannot lock its owner out (SECURITY.md LG-04).

A token is ``d1.<device id>.<expiry>.<mac>``: a random 128-bit id, an expiry (Unix seconds) and an
HMAC-SHA-256 over both and the account id, with a key only the server holds. It carries no
account id or name; a token made for one account is worthless for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from idgate.core.clock import Clock

_VERSION = "d1"
_MAX_LENGTH = 128


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class IssuedDevice:
    """A freshly issued device token and its lifetime in seconds (for a cookie's Max-Age)."""

    token: str
    device_id: str
    max_age: int


class DeviceTokens:
    """Issues and checks device tokens with ``secret`` (at least 32 bytes)."""

    def __init__(self, secret: bytes, clock: Clock, ttl: timedelta = timedelta(days=180)) -> None:
        if len(secret) < 32:
            raise ValueError("the device-token secret must be at least 32 bytes")
        # A key of its own, derived for this purpose only (RFC 8725 3.5: one key per purpose).
        self._key = hmac.new(secret, b"idgate device token v1", hashlib.sha256).digest()
        self.clock = clock
        self.ttl = ttl

    def _mac(self, device_id: str, expires: int, user_id: uuid.UUID) -> str:
        message = f"{_VERSION}|{device_id}|{expires}|{user_id}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, user_id: uuid.UUID) -> IssuedDevice:
        """Return a new token for a client that just logged in to ``user_id``."""
        device_id = _b64(secrets.token_bytes(16))
        max_age = int(self.ttl.total_seconds())
        expires = int(self.clock.now().timestamp()) + max_age
        token = f"{_VERSION}.{device_id}.{expires}.{self._mac(device_id, expires, user_id)}"
        return IssuedDevice(token, device_id, max_age)

    def verify(self, token: str | None, user_id: uuid.UUID | None) -> str | None:
        """Return the device id if ``token`` is genuine, unexpired and bound to ``user_id``."""
        if not token or user_id is None or len(token) > _MAX_LENGTH:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        _, device_id, expires_text, mac = parts
        try:
            if len(_unb64(device_id)) != 16:
                return None
        except (binascii.Error, ValueError):
            return None
        expires = int(expires_text)
        if not hmac.compare_digest(mac, self._mac(device_id, expires, user_id)):
            return None
        if expires <= self.clock.now().timestamp():
            return None
        return device_id
