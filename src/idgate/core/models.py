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
    #: Every credential issued before this instant (access tokens, refresh tokens, sessions) is
    #: dead: set when the password changes or the user signs out everywhere (JW-10, SS-07).
    revoked_before: datetime | None = None

    def issued_before_revocation(self, issued_at: datetime) -> bool:
        """Return whether a credential issued at ``issued_at`` was revoked since."""
        return self.revoked_before is not None and issued_at < self.revoked_before

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
