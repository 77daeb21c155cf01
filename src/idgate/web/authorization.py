"""FastAPI dependencies for authorization: permissions, roles, scopes and ownership.

They read the way the rule is said::

    @router.delete("/posts/{post_id}", dependencies=[Depends(require_permission("posts:delete"))])
    async def delete_any_post(post_id: int) -> None: ...

    @router.get("/admin/stats", dependencies=[Depends(require_role("admin"))])
    async def stats() -> Stats: ...

    @router.patch("/posts/{post_id}")
    async def edit_post(post_id: int, authz: AuthorizationDep) -> Post:
        post = await load(post_id)
        await authz.require_owner_or(post.author_id, "posts:edit")  # owner, or a moderator
        ...

A request without a credential gets ``401``; an authenticated caller who is not allowed gets
``403`` (deny by default, AZ-01), and the refusal is audited (AU-01). Permissions are evaluated
from the database on every request (:func:`idgate.core.rbac.authority_of`), so taking a role
away takes effect on the next request (AZ-05).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from idgate.core.admin import Actor
from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.errors import PermissionDenied
from idgate.core.models import RequestOrigin
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.core.rbac import Authority, authority_of, has_permission, may_act_on
from idgate.services import Services
from idgate.web.dependencies import CurrentUser, OriginDep, PrincipalDep, ServicesDep, UowDep


class Authorization:
    """The caller, what they may do, and the checks a route makes once it has loaded a resource."""

    def __init__(
        self,
        principal: Principal,
        authority: Authority,
        uow: UnitOfWork,
        origin: RequestOrigin,
        services: Services,
        path: str,
    ) -> None:
        self.principal = principal
        self.authority = authority
        self._uow = uow
        self._origin = origin
        self._services = services
        self._path = path

    def allows(self, permission: str) -> bool:
        """Return whether the caller holds ``permission`` (and, if scoped, the scope for it)."""
        return self.authority.allows(permission)

    async def require(self, permission: str) -> None:
        """Refuse with 403 unless the caller holds ``permission``."""
        if not self.allows(permission):
            await self.deny(
                "missing_permission",
                f"You need the {permission!r} permission.",
                permission=permission,
            )

    async def require_owner_or(self, owner_id: uuid.UUID | str | None, permission: str) -> None:
        """The ownership rule: pass if the caller owns the resource or holds ``permission``.

        Only a user owns resources through this rule; an API key acts as its service account,
        never as its owner, so it needs the permission.
        """
        actor = self.principal.subject if self.principal.kind == "user" else ""
        owner = str(owner_id) if owner_id is not None else None
        if not may_act_on(self.authority, actor, owner, permission):
            await self.deny(
                "not_owner",
                "You may act only on your own resources here.",
                permission=permission,
            )

    async def deny(self, reason: str, detail: str, **details: Any) -> None:
        """Audit the refusal, then raise :class:`PermissionDenied` (403)."""
        principal = self.principal
        user_id = principal.user.id if principal.is_user and principal.user else None
        await self._uow.audit.add(
            AuditEvent.create(
                AuditEventType.ACCESS_DENIED,
                self._services.clock.now(),
                self._origin,
                outcome=Outcome.FAILURE,
                actor_id=user_id,
                subject_id=user_id,
                reason=reason,
                details={
                    "path": self._path,
                    "principal": principal.subject,
                    "kind": principal.kind,
                    "method": principal.method,
                    **details,
                },
            )
        )
        raise PermissionDenied(detail)


async def get_authorization(
    request: Request, principal: PrincipalDep, uow: UowDep, origin: OriginDep, services: ServicesDep
) -> Authorization:
    """Authenticate the request (401 otherwise) and load what the caller may do."""
    authority = await authority_of(principal, uow)
    return Authorization(principal, authority, uow, origin, services, request.url.path)


AuthorizationDep = Annotated[Authorization, Depends(get_authorization)]

PrincipalCheck = Callable[..., Awaitable[Principal]]


def require_permission(*permissions: str) -> PrincipalCheck:
    """Dependency: the caller must hold every one of ``permissions``; returns the principal."""

    async def check(authz: AuthorizationDep) -> Principal:
        for permission in permissions:
            await authz.require(permission)
        return authz.principal

    return check


def require_role(role: str) -> PrincipalCheck:
    """Dependency: the caller must be a user holding ``role`` now; API keys never pass."""

    async def check(authz: AuthorizationDep) -> Principal:
        if authz.principal.kind != "user" or role not in authz.principal.roles:
            await authz.deny("missing_role", f"You need the {role!r} role.", role=role)
        return authz.principal

    return check


def require_scope(*scopes: str) -> PrincipalCheck:
    """Dependency: the credential must carry every one of ``scopes`` (API-key scopes, or an
    access token's ``scope`` claim). A credential without scopes carries none."""

    async def check(authz: AuthorizationDep) -> Principal:
        for scope in scopes:
            if not has_permission(authz.principal.scopes, scope):
                await authz.deny(
                    "missing_scope", f"This credential lacks the {scope!r} scope.", scope=scope
                )
        return authz.principal

    return check


def acting_user(user: CurrentUser, origin: OriginDep) -> Actor:
    """The user performing an administrative action, for the audit trail."""
    return Actor(user, origin)


ActorDep = Annotated[Actor, Depends(acting_user)]

__all__ = [
    "ActorDep",
    "Authorization",
    "AuthorizationDep",
    "acting_user",
    "get_authorization",
    "require_permission",
    "require_role",
    "require_scope",
]
