"""``idgate service-accounts``: the non-human principals that hold API keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._admin import OPERATOR, confirm, parse_id, run, when
from idgate.core.apikeys import ServiceAccount
from idgate.core.models import SYSTEM_ORIGIN

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


app = typer.Typer(help="Manage service accounts (owners of API keys).", no_args_is_help=True)


@app.command("create")
def create(
    owner: Annotated[str, typer.Argument(help="The owning user's id or username.")],
    name: Annotated[str, typer.Argument(help="A name, unique among the owner's accounts.")],
    description: Annotated[str, typer.Option(help="What the service is.")] = "",
) -> None:
    """Create a service account owned by a user; its keys never exceed the owner's permissions."""

    async def work(services: Services, uow: UnitOfWork) -> ServiceAccount:
        user = await services.admin.find_user(uow, owner)
        return await services.service_accounts.create_account(
            uow, user, name, SYSTEM_ORIGIN, description=description, actor_id=OPERATOR.id
        )

    account = run(work)
    typer.echo(f"created service account {account.name} (id {account.id})")


@app.command("list")
def list_accounts(
    owner: Annotated[str | None, typer.Option(help="Only this user's (id or username).")] = None,
) -> None:
    """List service accounts."""

    async def work(services: Services, uow: UnitOfWork) -> Sequence[ServiceAccount]:
        owner_id = (await services.admin.find_user(uow, owner)).id if owner else None
        return await services.service_accounts.list_accounts(uow, owner_id, limit=10_000)

    accounts = run(work)
    if not accounts:
        typer.echo("no service accounts")
        return
    typer.echo(f"{'ID':36}  {'NAME':24}  {'OWNER':36}  CREATED")
    for a in accounts:
        typer.echo(f"{a.id!s:36}  {a.name:24}  {a.owner_id!s:36}  {when(a.created_at)}")


@app.command("delete")
def delete(
    account_id: Annotated[str, typer.Argument(help="The service account's id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a service account and all its API keys."""
    parsed = parse_id(account_id, "service account")
    confirm(f"Delete service account {account_id} and its keys?", yes)

    async def work(services: Services, uow: UnitOfWork) -> ServiceAccount:
        account = await services.service_accounts.get_account(uow, parsed)
        await services.service_accounts.delete_account(uow, account, SYSTEM_ORIGIN)
        return account

    typer.echo(f"deleted service account {run(work).name}")
