"""The admin API for roles and their permissions.

Changing a role's permissions changes what every holder may do, so it needs the
administrator's current password (AZ-02); creating a role (held by nobody yet) does not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from idgate.core.rbac import ADMIN_ROLE, MAX_PERMISSION_LENGTH
from idgate.web.admin_schemas import Reauthenticate, RoleIn, RoleOut
from idgate.web.authorization import ActorDep, require_role
from idgate.web.dependencies import ServicesDep, UowDep, require_json

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not an administrator, or the current password is wrong"},
    404: {"description": "No such role or permission"},
    409: {"description": "The role exists, or is built in"},
}

PermissionPath = Annotated[str, Path(max_length=MAX_PERMISSION_LENGTH)]


def build_router() -> APIRouter:
    router = APIRouter(
        prefix="/admin/roles",
        tags=["admin"],
        dependencies=[Depends(require_role(ADMIN_ROLE))],
        responses=_ERRORS,
    )

    @router.get("", response_model=list[RoleOut], name="admin_list_roles")
    async def list_roles(services: ServicesDep, uow: UowDep) -> list[RoleOut]:
        """Every role with its permissions."""
        return [RoleOut.of(role) for role in await services.admin.list_roles(uow)]

    @router.post(
        "",
        status_code=201,
        response_model=RoleOut,
        name="admin_create_role",
        dependencies=[Depends(require_json)],
    )
    async def create_role(
        body: RoleIn, services: ServicesDep, uow: UowDep, who: ActorDep
    ) -> RoleOut:
        """Create a custom role with its permissions."""
        role = await services.admin.create_role(
            uow, who, body.name, description=body.description, permissions=body.permissions
        )
        return RoleOut.of(role)

    @router.get("/{name}", response_model=RoleOut, name="admin_get_role")
    async def get_role(name: str, services: ServicesDep, uow: UowDep) -> RoleOut:
        """One role."""
        return RoleOut.of(await services.admin.get_role(uow, name))

    @router.delete("/{name}", status_code=204, name="admin_delete_role")
    async def delete_role(name: str, services: ServicesDep, uow: UowDep, who: ActorDep) -> Response:
        """Delete a custom role; its holders lose it at once."""
        await services.admin.delete_role(uow, who, name)
        return Response(status_code=204)

    @router.put(
        "/{name}/permissions/{permission}",
        response_model=RoleOut,
        name="admin_grant_permission",
        dependencies=[Depends(require_json)],
    )
    async def grant_permission(
        name: str,
        permission: PermissionPath,
        body: Reauthenticate,
        services: ServicesDep,
        uow: UowDep,
        who: ActorDep,
    ) -> RoleOut:
        """Add a permission or pattern to a role; confirm with your current password."""
        role = await services.admin.grant_permission(
            uow, who, name, permission, password=body.current_password
        )
        return RoleOut.of(role)

    @router.delete(
        "/{name}/permissions/{permission}",
        response_model=RoleOut,
        name="admin_revoke_permission",
        dependencies=[Depends(require_json)],
    )
    async def revoke_permission(
        name: str,
        permission: PermissionPath,
        body: Reauthenticate,
        services: ServicesDep,
        uow: UowDep,
        who: ActorDep,
    ) -> RoleOut:
        """Remove a permission from a role; confirm with your current password."""
        role = await services.admin.revoke_permission(
            uow, who, name, permission, password=body.current_password
        )
        return RoleOut.of(role)

    return router
