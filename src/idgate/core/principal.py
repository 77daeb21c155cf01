"""Who is making a request, whatever proved it: an access token, a session, an API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from idgate.core.models import User
from idgate.core.tokens.access import AccessClaims

PrincipalKind = Literal["user", "service"]
AuthMethod = Literal["bearer", "session", "api_key"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``subject`` is the stable id of the user or service account. ``method`` says how the request
    proved it, so routes can refuse a method (an API key never reaches a user-only route).
    ``claims`` holds the verified access token when ``method`` is ``bearer``.

    For a service (an API key): ``scopes`` are the key's scopes, ``permissions`` its owner's
    permissions when the key was checked (a key never exceeds either), ``owner_id`` the user who
    owns the service account and ``credential_id`` the key's id. Services hold no roles.
    """

    subject: str
    kind: PrincipalKind
    method: AuthMethod
    user: User | None = None
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    claims: AccessClaims | None = None
    permissions: tuple[str, ...] = ()
    owner_id: str | None = None
    credential_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.kind == "user" and self.user is not None
