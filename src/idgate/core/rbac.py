"""Roles and permissions (RBAC), scopes, and the ownership rule. Pure functions and records.

The model:

* A **permission** is a string of ``:``-separated segments naming a resource and an action:
  ``posts:delete``, ``reports:monthly:read``. Segments are lower-case letters, digits and
  ``_ . -``.
* A **pattern** may use ``*`` as a whole segment: ``posts:*`` grants every permission that starts
  with ``posts:`` (``posts:read``, ``posts:comments:delete``, but not ``posts`` itself); ``*`` in
  the middle matches exactly one segment (``posts:*:read``); ``*`` alone grants everything.
* A **role** is a named set of permissions (patterns); users hold roles. Two roles are built in:
  ``admin`` (holds ``*``, cannot be changed) and ``user`` (every account; no permission until an
  administrator gives it some).
* **Scopes** narrow what a credential may do below what its holder may do. An API key carries
  scopes (permission patterns) and may only do what both its scopes *and* its owner's
  permissions allow; an access token that carries a ``scope`` claim is narrowed the same way.

A permission check therefore asks an :class:`Authority` built from fresh data (idgate's own
endpoints read roles from the database on every request, SECURITY.md AZ-05) or from a verified
access token's claims (resource servers, valid until the token expires).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from idgate.core.errors import InvalidInput

if TYPE_CHECKING:
    from idgate.core.models import User
    from idgate.core.ports import UnitOfWork
    from idgate.core.principal import Principal
    from idgate.core.tokens.access import AccessClaims

ADMIN_ROLE = "admin"
USER_ROLE = "user"
BUILTIN_ROLES = frozenset({ADMIN_ROLE, USER_ROLE})
#: The pattern that grants everything; the admin role holds it.
ALL = "*"
#: The access-token claim that carries the holder's permissions for resource servers.
PERMISSIONS_CLAIM = "permissions"

MAX_PERMISSION_LENGTH = 128
MAX_SEGMENTS = 8
_SEGMENT = re.compile(r"^(?:[a-z0-9][a-z0-9_.-]*|\*)$")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


class InvalidPermission(InvalidInput):
    code = "invalid_permission"
    default_detail = "The permission is not valid."


class InvalidRoleName(InvalidInput):
    code = "invalid_role_name"
    default_detail = "The role name is not valid."


@dataclass(frozen=True)
class Role:
    """A named set of permission patterns. ``builtin`` roles cannot be deleted."""

    name: str
    description: str = ""
    builtin: bool = False
    permissions: tuple[str, ...] = ()
    created_at: datetime | None = None


def validate_permission(value: str, *, allow_patterns: bool = True) -> str:
    """Return ``value`` if it is a valid permission (or pattern), else raise
    :class:`InvalidPermission` saying why."""
    if not isinstance(value, str) or not value or len(value) > MAX_PERMISSION_LENGTH:
        raise InvalidPermission(
            f"A permission is 1 to {MAX_PERMISSION_LENGTH} characters, such as 'posts:delete'."
        )
    segments = value.split(":")
    if len(segments) > MAX_SEGMENTS or not all(_SEGMENT.match(s) for s in segments):
        raise InvalidPermission(
            f"{value!r} is not a permission: use ':'-separated segments of lower-case letters, "
            "digits and '_ . -', such as 'posts:delete' (or '*' as a whole segment)."
        )
    if not allow_patterns and ALL in segments:
        raise InvalidPermission(f"{value!r} is a pattern; a concrete permission is needed here.")
    return value


def validate_role_name(value: str) -> str:
    """Return ``value`` if it is a valid role name, else raise :class:`InvalidRoleName`."""
    if not isinstance(value, str) or not _ROLE_NAME.match(value):
        raise InvalidRoleName(
            "A role name is 2 to 64 characters: a lower-case letter, then lower-case letters, "
            "digits and '_ . -'."
        )
    return value


def covers(granted: str, requested: str) -> bool:
    """Return whether the pattern ``granted`` allows everything ``requested`` allows.

    ``requested`` may itself be a pattern (is the scope ``posts:*`` within ``*``? yes; is
    ``posts:*`` within ``posts:read``? no).
    """
    g, r = granted.split(":"), requested.split(":")
    for i, segment in enumerate(g):
        if segment == ALL and i == len(g) - 1:
            return len(r) > i  # a trailing '*' grants one or more further segments
        if i >= len(r):
            return False
        if r[i] == ALL and i == len(r) - 1:
            return False  # the request ends in '*' (any tail); only a trailing '*' covers that
        if segment != ALL and segment != r[i]:
            return False
    return len(r) == len(g)


def has_permission(granted: Iterable[str], permission: str) -> bool:
    """Return whether any pattern in ``granted`` allows ``permission``."""
    return any(covers(pattern, permission) for pattern in granted)


def uncovered(granted: Iterable[str], requested: Iterable[str]) -> list[str]:
    """Return the patterns of ``requested`` that ``granted`` does not fully allow."""
    patterns = tuple(granted)
    return [p for p in requested if not has_permission(patterns, p)]


def normalize_permissions(values: Iterable[str]) -> tuple[str, ...]:
    """Validate, de-duplicate and sort a list of permissions or patterns."""
    return tuple(sorted({validate_permission(v) for v in values}))


@dataclass(frozen=True)
class Authority:
    """What a caller may do: ``permissions``, narrowed by ``scopes`` unless ``scopes`` is None.

    >>> Authority(("posts:*",), scopes=("posts:read",)).allows("posts:delete")
    False
    """

    permissions: tuple[str, ...] = ()
    scopes: tuple[str, ...] | None = None
    roles: tuple[str, ...] = field(default=())

    def allows(self, permission: str) -> bool:
        """Return whether ``permission`` is allowed (deny by default)."""
        if not has_permission(self.permissions, permission):
            return False
        return self.scopes is None or has_permission(self.scopes, permission)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def may_act_on(authority: Authority, actor_id: str, owner_id: str | None, permission: str) -> bool:
    """The ownership rule: the owner of a resource may act on it, and so may anyone holding
    ``permission`` (``posts:delete`` lets a moderator delete other people's posts).

    Ids are compared as strings; a resource without an owner is governed by the permission only.
    """
    if actor_id and owner_id is not None and str(owner_id) == str(actor_id):
        return True
    return authority.allows(permission)


def claims_authority(claims: AccessClaims) -> Authority:
    """Return the :class:`Authority` a verified access token states, for resource servers.

    The token's ``permissions`` claim holds the patterns of the user's roles when it was issued;
    its ``scope`` claim, when present, narrows them. Malformed claims grant nothing.
    """
    raw = claims.extra.get(PERMISSIONS_CLAIM, [])
    permissions = permissions_claim(raw)
    return Authority(permissions, scopes=claims.scope or None, roles=claims.roles)


def permissions_claim(raw: Any) -> tuple[str, ...]:
    """Return the valid patterns of a ``permissions`` claim value (nothing if it is malformed)."""
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        return ()
    try:
        return tuple(validate_permission(p) for p in raw)
    except InvalidPermission:
        return ()


def token_claims(permissions: Sequence[str]) -> Mapping[str, Any]:
    """Return the extra access-token claims that let resource servers decide offline."""
    return {PERMISSIONS_CLAIM: list(permissions)}


async def user_token_claims(uow: UnitOfWork, user: User) -> Mapping[str, Any]:
    """Return the extra claims of an access token for ``user``: every token issuer (login,
    refresh, OAuth) passes them to ``AccessTokens.issue(..., extra=...)``."""
    return token_claims(await uow.roles.permissions_of(user.roles))


async def authority_of(principal: Principal, uow: UnitOfWork) -> Authority:
    """Return what ``principal`` may do, from the current state of the database.

    A user's permissions come from the roles loaded with the request (never from token claims),
    so a demotion is effective on the next request (AZ-05). A service principal (API key) carries
    its owner's permissions, read when the key was checked, and is always narrowed by its scopes.
    """
    if principal.kind == "service":
        return Authority(principal.permissions, scopes=principal.scopes)
    permissions = await uow.roles.permissions_of(principal.roles)
    return Authority(permissions, scopes=principal.scopes or None, roles=principal.roles)
