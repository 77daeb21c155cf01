"""``idgate users``: create and list accounts from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from idgate.cli._common import fail, in_unit_of_work, load_settings, run_with_services
from idgate.core.audit import AuditEventType
from idgate.core.ids import token
from idgate.core.models import SYSTEM_ORIGIN, User
from idgate.core.ports import UnitOfWork
from idgate.core.users import ADMIN_ROLE, DEFAULT_ROLE
from idgate.services import Services

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


def _read_password(password_stdin: bool, generate: bool) -> tuple[str, bool]:
    if password_stdin and generate:
        raise fail("choose one of --password-stdin and --generate-password", 2)
    if generate:
        return token(24), True
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on standard input", 2)
        return password, False
    if not sys.stdin.isatty():
        raise fail(
            "no terminal to ask for a password: use --password-stdin or --generate-password", 2
        )
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True), False


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The new account's username.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="Give the account the admin role.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    generate_password: Annotated[
        bool,
        typer.Option("--generate-password", help="Generate a strong password and print it once."),
    ] = False,
) -> None:
    """Create an account (prompts for the password unless told otherwise)."""
    settings = load_settings()
    password, generated = _read_password(password_stdin, generate_password)
    roles = (DEFAULT_ROLE, ADMIN_ROLE) if admin else (DEFAULT_ROLE,)

    async def work(services: Services) -> User:
        async def register(uow: UnitOfWork) -> User:
            return await services.users.register(
                uow,
                username,
                password,
                SYSTEM_ORIGIN,
                roles=roles,
                event=AuditEventType.USER_CREATED,
            )

        return await in_unit_of_work(services, register)

    user = run_with_services(settings, work)
    typer.echo(f"created {user.username} (id {user.id}, roles: {', '.join(user.roles)})")
    if generated:
        typer.echo(f"password (shown once, store it now): {password}")


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="How many to skip.")] = 0,
) -> None:
    """List accounts, oldest first."""
    settings = load_settings()

    async def work(services: Services) -> list[User]:
        async def fetch(uow: UnitOfWork) -> list[User]:
            return list(await uow.users.list(offset=offset, limit=limit))

        return await in_unit_of_work(services, fetch)

    users = run_with_services(settings, work)
    if not users:
        typer.echo("no users")
        return
    typer.echo(f"{'ID':36}  {'USERNAME':24}  {'ROLES':16}  {'STATUS':8}  CREATED")
    for user in users:
        status = "disabled" if user.disabled else "active"
        typer.echo(
            f"{user.id!s:36}  {user.username:24}  {','.join(user.roles):16}  {status:8}  "
            f"{user.created_at:%Y-%m-%d %H:%M}"
        )


@app.command("unthrottle")
def unthrottle(
    username: Annotated[str, typer.Argument(help="The account whose failed logins to forget.")],
) -> None:
    """Lift the login throttle of an account at once (its failed-login count starts again).

    The counters live in Redis when IDGATE_REDIS_URL is set; without Redis they live in each
    server process, and restarting the server clears them.
    """
    settings = load_settings()
    if settings.redis_url is None:
        raise fail(
            "without IDGATE_REDIS_URL the login counters live in the server process: "
            "restart the server to clear them",
            2,
        )

    async def work(services: Services) -> None:
        async def run(uow: UnitOfWork) -> None:
            await services.users.unthrottle(uow, username, SYSTEM_ORIGIN)

        await in_unit_of_work(services, run)

    run_with_services(settings, work)
    typer.echo(f"the login throttle of {username} is lifted")
