"""The caller of a guarded route, as idgate's credential describes it.

A person calls with an access token (``kind="user"``, ``method="bearer"``); a service calls with
an API key (``kind="service"``, ``method="api_key"``). Permission checks use idgate's own rules
(:mod:`idgate.core.rbac`): patterns such as ``posts:*``, scopes narrowing a credential, and an
API key allowed what both its scopes and its owner's permissions allow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from idgate.core.rbac import Authority, has_permission, may_act_on
from idgate.core.tokens.verification import AccessClaims
from idgate.guard.errors import forbidden

PrincipalKind = Literal["user", "service"]
AuthMethod = Literal["bearer", "api_key"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    * ``subject``: the user's id (the token's ``sub``) or the service account's id.
    * ``roles``, ``permissions``: from the access token as issued (valid until it expires), or
      from idgate at the time of the request when the route checked revocation
      (``checked_with_idgate``). A service holds no roles; ``permissions`` are its owner's.
    * ``scopes``: the credential's scopes (the token's ``scope`` claim, the key's scopes).
    * ``claims``: the verified access token, for a person.
    * ``credential_id``: the token's ``jti`` or the API key's id; ``owner_id``: the user who owns
      the service account.
    """

    subject: str
    kind: PrincipalKind
    method: AuthMethod
    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    claims: AccessClaims | None = None
    username: str | None = None
    owner_id: str | None = None
    credential_id: str | None = None
    checked_with_idgate: bool = False

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def authority(self) -> Authority:
        """What this caller may do. A service is always narrowed by its key's scopes; a person
        by the token's scope claim when it has one."""
        if self.kind == "service":
            return Authority(self.permissions, scopes=self.scopes)
        return Authority(self.permissions, scopes=self.scopes or None, roles=self.roles)

    def allows(self, permission: str) -> bool:
        """Return whether the caller may do ``permission`` (deny by default)."""
        return self.authority.allows(permission)

    def has_role(self, role: str) -> bool:
        return self.kind == "user" and role in self.roles

    def has_scope(self, scope: str) -> bool:
        """Return whether the credential itself carries ``scope``."""
        return has_permission(self.scopes, scope)

    def owns(self, owner_id: str | uuid.UUID | None) -> bool:
        """Return whether the caller is the person ``owner_id`` names. A service owns nothing
        through this rule: it acts as itself, never as its owner."""
        return self.kind == "user" and owner_id is not None and str(owner_id) == self.subject

    def may_act_on(self, owner_id: str | uuid.UUID | None, permission: str) -> bool:
        """The ownership rule: the owner may, and so may anyone holding ``permission``."""
        actor = self.subject if self.kind == "user" else ""
        owner = str(owner_id) if owner_id is not None else None
        return may_act_on(self.authority, actor, owner, permission)

    def require(self, permission: str) -> None:
        """Refuse with ``403`` unless the caller may do ``permission``."""
        if not self.allows(permission):
            raise forbidden(f"You need the {permission!r} permission.")

    def require_owner(self, owner_id: str | uuid.UUID | None) -> None:
        """Refuse with ``403`` unless the caller is the owner."""
        if not self.owns(owner_id):
            raise forbidden("Only the owner may do this.")

    def require_owner_or(self, owner_id: str | uuid.UUID | None, permission: str) -> None:
        """Refuse with ``403`` unless the caller is the owner or holds ``permission``."""
        if not self.may_act_on(owner_id, permission):
            raise forbidden("You may act only on your own resources here.")
