"""``idgate apikeys``: create, list, rotate and revoke a service account's API keys.

``create`` and ``rotate`` print the key once; idgate keeps only its SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._admin import parse_id, run, when
from idgate.cli._common import fail
from idgate.core.apikeys import ApiKey, NewApiKey
from idgate.core.models import SYSTEM_ORIGIN
from idgate.core.service_accounts import Ttl

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


app = typer.Typer(help="Manage API keys of service accounts.", no_args_is_help=True)

AccountId = Annotated[str, typer.Argument(help="The service account's id.")]
KeyId = Annotated[str, typer.Argument(help="The key's id (see `idgate apikeys list`).")]


def _print_new(new: NewApiKey) -> None:
    key = new.key
    typer.echo(f"key id:  {key.id}")
    typer.echo(f"scopes:  {', '.join(key.scopes) or '-'}")
    typer.echo(f"expires: {when(key.expires_at, 'never')}")
    typer.echo("API key (shown once, store it now; send it in the X-API-Key header):")
    typer.echo(new.secret)


@app.command("create")
def create(
    account_id: AccountId,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", "-s", help="A permission the key may use; repeat for more."),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=3650, help="Days until it expires [default: IDGATE_API_KEY_DEFAULT_TTL]."
        ),
    ] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Never expires.")] = False,
) -> None:
    """Create a key; its scopes must be held by the service account's owner."""
    if no_expiry and expires_in_days is not None:
        raise fail("choose one of --expires-in-days and --no-expiry", 2)
    parsed = parse_id(account_id, "service account")
    ttl: Ttl = None if no_expiry else "default"
    if expires_in_days is not None:
        ttl = timedelta(days=expires_in_days)

    async def work(services: Services, uow: UnitOfWork) -> NewApiKey:
        account = await services.service_accounts.get_account(uow, parsed)
        return await services.service_accounts.create_key(
            uow, account, SYSTEM_ORIGIN, scopes=scope or (), name=name, ttl=ttl
        )

    _print_new(run(work))


@app.command("list")
def list_keys(account_id: AccountId) -> None:
    """List a service account's keys (never the keys themselves)."""
    parsed = parse_id(account_id, "service account")

    async def work(services: Services, uow: UnitOfWork) -> tuple[Sequence[ApiKey], datetime]:
        account = await services.service_accounts.get_account(uow, parsed)
        return await services.service_accounts.list_keys(uow, account), services.clock.now()

    keys, now = run(work)
    if not keys:
        typer.echo("no keys")
        return
    typer.echo(
        f"{'ID':36}  {'KEY':11}  {'STATUS':7}  {'CREATED':16}  {'EXPIRES':16}  "
        f"{'LAST USED':16}  SCOPES"
    )
    for k in keys:
        typer.echo(
            f"{k.id!s:36}  {k.hint:11}  {k.status(now):7}  {when(k.created_at):16}  "
            f"{when(k.expires_at, 'never'):16}  {when(k.last_used_at):16}  "
            f"{','.join(k.scopes) or '-'}"
        )


@app.command("revoke")
def revoke(key_id: KeyId) -> None:
    """Revoke a key: its next use fails."""
    parsed = parse_id(key_id, "key")

    async def work(services: Services, uow: UnitOfWork) -> ApiKey:
        key = await services.service_accounts.get_key(uow, parsed)
        return await services.service_accounts.revoke_key(uow, key, SYSTEM_ORIGIN)

    key = run(work)
    typer.echo(f"revoked {key.hint} ({key.id})")


@app.command("rotate")
def rotate(
    key_id: KeyId,
    grace: Annotated[
        int,
        typer.Option(min=0, max=7 * 24 * 3600, help="Seconds the old key keeps working."),
    ] = 0,
) -> None:
    """Replace a key by a new one with the same scopes; prints the new key once."""
    parsed = parse_id(key_id, "key")

    async def work(services: Services, uow: UnitOfWork) -> NewApiKey:
        key = await services.service_accounts.get_key(uow, parsed)
        return await services.service_accounts.rotate_key(
            uow, key, SYSTEM_ORIGIN, grace=timedelta(seconds=grace)
        )

    new = run(work)
    typer.echo(f"the old key stops working {'in ' + str(grace) + ' s' if grace else 'now'}")
    _print_new(new)
