"""``idgate roles``: roles and the permissions they grant (see docs/authorization.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._admin import OPERATOR, run
from idgate.core.rbac import Role

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


app = typer.Typer(help="Manage roles and their permissions.", no_args_is_help=True)

RoleName = Annotated[str, typer.Argument(help="The role's name, such as 'moderator'.")]
Permission = Annotated[
    str, typer.Argument(help="A permission or pattern, such as 'posts:delete' or 'posts:*'.")
]


def _line(role: Role) -> str:
    kind = "built-in" if role.builtin else "custom"
    return f"{role.name:20}  {kind:8}  {', '.join(role.permissions) or '-'}"


@app.command("list")
def list_roles() -> None:
    """List roles with their permissions."""

    async def work(services: Services, uow: UnitOfWork) -> Sequence[Role]:
        return await services.admin.list_roles(uow)

    typer.echo(f"{'ROLE':20}  {'KIND':8}  PERMISSIONS")
    for role in run(work):
        typer.echo(_line(role))


@app.command("show")
def show(name: RoleName) -> None:
    """Show one role."""

    async def work(services: Services, uow: UnitOfWork) -> Role:
        return await services.admin.get_role(uow, name)

    role = run(work)
    typer.echo(_line(role))
    if role.description:
        typer.echo(role.description)


@app.command("create")
def create(
    name: RoleName,
    description: Annotated[str, typer.Option(help="What the role is for.")] = "",
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", "-p", help="A permission to grant; repeat for more."),
    ] = None,
) -> None:
    """Create a custom role."""

    async def work(services: Services, uow: UnitOfWork) -> Role:
        return await services.admin.create_role(
            uow, OPERATOR, name, description=description, permissions=permission or ()
        )

    typer.echo(f"created {_line(run(work))}")


@app.command("delete")
def delete(name: RoleName) -> None:
    """Delete a custom role; its holders lose it at once."""

    async def work(services: Services, uow: UnitOfWork) -> None:
        await services.admin.delete_role(uow, OPERATOR, name)

    run(work)
    typer.echo(f"deleted role {name}")


@app.command("grant")
def grant(name: RoleName, permission: Permission) -> None:
    """Add a permission to a role; its holders have it at once."""

    async def work(services: Services, uow: UnitOfWork) -> Role:
        return await services.admin.grant_permission(uow, OPERATOR, name, permission)

    typer.echo(_line(run(work)))


@app.command("revoke")
def revoke(name: RoleName, permission: Permission) -> None:
    """Remove a permission from a role; its holders lose it at once."""

    async def work(services: Services, uow: UnitOfWork) -> Role:
        return await services.admin.revoke_permission(uow, OPERATOR, name, permission)

    typer.echo(_line(run(work)))
