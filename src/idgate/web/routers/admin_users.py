"""The admin API for accounts: list and search, view, disable, enable, delete, roles, revoke.

Every route needs a user holding the ``admin`` role now (API keys never pass), and every action
is audited with the administrator as actor. Granting or taking a role needs the administrator's
current password in the body (AZ-02).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from idgate.core.rbac import ADMIN_ROLE
from idgate.web.admin_schemas import (
    AdminUserOut,
    Reauthenticate,
    RevokeCredentials,
    RevokedOut,
    UserPage,
)
from idgate.web.authorization import ActorDep, require_role
from idgate.web.dependencies import ServicesDep, UowDep, require_json

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not an administrator, or the current password is wrong"},
    404: {"description": "No such user or role"},
    409: {"description": "The last administrator, or the administrator's own account"},
}


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/admin/users",
        tags=["admin"],
        dependencies=[Depends(require_role(ADMIN_ROLE))],
        responses=_ERRORS,
    )

    @router.get("", response_model=UserPage, name="admin_list_users")
    async def list_users(
        services: ServicesDep,
        uow: UowDep,
        q: Annotated[str | None, Query(max_length=128, description="Part of a username")] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> UserPage:
        """List accounts, oldest first; ``q`` searches usernames (case-insensitive)."""
        page = await services.admin.list_users(uow, query=q, offset=offset, limit=limit)
        return UserPage(
            items=[AdminUserOut.of(u) for u in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )

    @router.get("/{user_id}", response_model=AdminUserOut, name="admin_get_user")
    async def get_user(user_id: uuid.UUID, services: ServicesDep, uow: UowDep) -> AdminUserOut:
        """One account."""
        return AdminUserOut.of(await services.admin.get_user(uow, user_id))

    @router.post("/{user_id}/disable", response_model=AdminUserOut, name="admin_disable_user")
    async def disable(
        user_id: uuid.UUID, services: ServicesDep, uow: UowDep, who: ActorDep
    ) -> AdminUserOut:
        """Disable an account: its tokens and sessions stop working at once, and its service
        accounts' API keys are revoked."""
        return AdminUserOut.of(await services.admin.set_disabled(uow, who, user_id, True))

    @router.post("/{user_id}/enable", response_model=AdminUserOut, name="admin_enable_user")
    async def enable(
        user_id: uuid.UUID, services: ServicesDep, uow: UowDep, who: ActorDep
    ) -> AdminUserOut:
        """Enable an account again (credentials ended by disabling stay ended)."""
        return AdminUserOut.of(await services.admin.set_disabled(uow, who, user_id, False))

    @router.delete("/{user_id}", status_code=204, name="admin_delete_user")
    async def delete(
        user_id: uuid.UUID, services: ServicesDep, uow: UowDep, who: ActorDep
    ) -> Response:
        """Delete an account, its roles, and its service accounts with their keys."""
        await services.admin.delete_user(uow, who, user_id)
        return Response(status_code=204)

    @router.post(
        "/{user_id}/revoke",
        response_model=RevokedOut,
        name="admin_revoke_user_credentials",
        dependencies=[Depends(require_json)],
    )
    async def revoke(
        user_id: uuid.UUID,
        body: RevokeCredentials,
        services: ServicesDep,
        uow: UowDep,
        who: ActorDep,
    ) -> RevokedOut:
        """End every access token, refresh token and session the user holds now."""
        instant = await services.admin.revoke_credentials(
            uow, who, user_id, include_api_keys=body.include_api_keys
        )
        return RevokedOut(revoked_before=instant)

    @router.put(
        "/{user_id}/roles/{role}",
        response_model=AdminUserOut,
        name="admin_grant_role",
        dependencies=[Depends(require_json)],
    )
    async def grant_role(
        user_id: uuid.UUID,
        role: str,
        body: Reauthenticate,
        services: ServicesDep,
        uow: UowDep,
        who: ActorDep,
    ) -> AdminUserOut:
        """Give a role; confirm with your current password."""
        user = await services.admin.grant_role(
            uow, who, user_id, role, password=body.current_password
        )
        return AdminUserOut.of(user)

    @router.delete(
        "/{user_id}/roles/{role}",
        response_model=AdminUserOut,
        name="admin_revoke_role",
        dependencies=[Depends(require_json)],
    )
    async def revoke_role(
        user_id: uuid.UUID,
        role: str,
        body: Reauthenticate,
        services: ServicesDep,
        uow: UowDep,
        who: ActorDep,
    ) -> AdminUserOut:
        """Take a role away; effective on the user's next request to idgate. Confirm with your
        current password."""
        user = await services.admin.revoke_role(
            uow, who, user_id, role, password=body.current_password
        )
        return AdminUserOut.of(user)

    return router
