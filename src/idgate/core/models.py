"""Domain records shared by the core and its ports. Plain data, no behaviour that needs I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class User:
    """A person's account.

    ``id`` is the stable subject (``sub``) of every token; ``username`` is how the person names
    themselves and may be shown; ``password_hash`` is self-describing (see ``passwords.hashers``).
    """

    id: uuid.UUID
    username: str
    password_hash: str | None
    created_at: datetime
    disabled: bool = False
    roles: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class RequestOrigin:
    """Who sent a request, as far as the server can tell: for audit events and rate limits.

    ``ip`` is the peer address, or the client address a trusted proxy reported.
    """

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


#: Origin of actions taken from the command line or by the server itself.
SYSTEM_ORIGIN = RequestOrigin(ip=None, user_agent="idgate-cli", request_id=None)
