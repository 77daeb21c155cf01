"""``idgate users``: create, list, inspect, disable, delete accounts and manage their roles.

Every command acts as the server's operator and is audited; none asks for an administrator's
password, since whoever can run it can read the database anyway.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._admin import OPERATOR, confirm, run, when
from idgate.cli._common import fail, in_unit_of_work, load_settings, run_with_services
from idgate.core.admin import Page
from idgate.core.audit import AuditEventType
from idgate.core.ids import token
from idgate.core.models import SYSTEM_ORIGIN, User
from idgate.core.users import ADMIN_ROLE, DEFAULT_ROLE

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
roles_app = typer.Typer(help="Give or take a user's roles.", no_args_is_help=True)
app.add_typer(roles_app, name="roles")

UserRef = Annotated[str, typer.Argument(help="The user's id or username.")]


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
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Show usernames containing this.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="How many to skip.")] = 0,
) -> None:
    """List accounts, oldest first."""

    async def work(services: Services, uow: UnitOfWork) -> Page[User]:
        return await services.admin.list_users(uow, query=search, offset=offset, limit=limit)

    page = run(work)
    if not page.items:
        typer.echo("no users")
        return
    typer.echo(f"{'ID':36}  {'USERNAME':24}  {'ROLES':16}  {'STATUS':8}  CREATED")
    for user in page.items:
        status = "disabled" if user.disabled else "active"
        typer.echo(
            f"{user.id!s:36}  {user.username:24}  {','.join(user.roles):16}  {status:8}  "
            f"{user.created_at:%Y-%m-%d %H:%M}"
        )
    shown = f"{page.offset + 1}-{page.offset + len(page.items)}"
    typer.echo(f"({shown} of {page.total})")


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


def _show(user: User) -> None:
    typer.echo(f"id:             {user.id}")
    typer.echo(f"username:       {user.username}")
    typer.echo(f"roles:          {', '.join(user.roles) or '-'}")
    typer.echo(f"status:         {'disabled' if user.disabled else 'active'}")
    typer.echo(f"created:        {when(user.created_at)}")
    typer.echo(f"revoked before: {when(user.revoked_before)}")


@app.command("show")
def show(user: UserRef) -> None:
    """Show one account."""

    async def work(services: Services, uow: UnitOfWork) -> User:
        return await services.admin.find_user(uow, user)

    _show(run(work))


def _set_disabled(ref: str, disabled: bool) -> User:
    async def work(services: Services, uow: UnitOfWork) -> User:
        found = await services.admin.find_user(uow, ref)
        return await services.admin.set_disabled(uow, OPERATOR, found.id, disabled)

    return run(work)


@app.command("disable")
def disable(user: UserRef) -> None:
    """Disable an account: its tokens and sessions end now and its API keys are revoked."""
    found = _set_disabled(user, True)
    typer.echo(f"disabled {found.username}; its tokens, sessions and API keys no longer work")


@app.command("enable")
def enable(user: UserRef) -> None:
    """Enable a disabled account (credentials ended by disabling stay ended)."""
    found = _set_disabled(user, False)
    typer.echo(f"enabled {found.username}")


@app.command("delete")
def delete(
    user: UserRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete an account with its roles, service accounts and API keys."""
    confirm(f"Delete {user} with its service accounts and API keys?", yes)

    async def work(services: Services, uow: UnitOfWork) -> User:
        found = await services.admin.find_user(uow, user)
        await services.admin.delete_user(uow, OPERATOR, found.id)
        return found

    typer.echo(f"deleted {run(work).username}")


@app.command("revoke")
def revoke(
    user: UserRef,
    api_keys: Annotated[
        bool, typer.Option("--api-keys", help="Also revoke the API keys of their service accounts.")
    ] = False,
) -> None:
    """End every token and session the user holds now ("sign out everywhere")."""

    async def work(services: Services, uow: UnitOfWork) -> User:
        found = await services.admin.find_user(uow, user)
        await services.admin.revoke_credentials(uow, OPERATOR, found.id, include_api_keys=api_keys)
        return found

    found = run(work)
    extra = " and API keys" if api_keys else ""
    typer.echo(f"revoked every token and session{extra} of {found.username}")


@roles_app.command("add")
def add_role(user: UserRef, role: Annotated[str, typer.Argument(help="The role.")]) -> None:
    """Give a role to a user."""

    async def work(services: Services, uow: UnitOfWork) -> User:
        found = await services.admin.find_user(uow, user)
        return await services.admin.grant_role(uow, OPERATOR, found.id, role)

    found = run(work)
    typer.echo(f"{found.username} now has the roles: {', '.join(found.roles)}")


@roles_app.command("remove")
def remove_role(user: UserRef, role: Annotated[str, typer.Argument(help="The role.")]) -> None:
    """Take a role from a user; effective on their next request."""

    async def work(services: Services, uow: UnitOfWork) -> User:
        found = await services.admin.find_user(uow, user)
        return await services.admin.revoke_role(uow, OPERATOR, found.id, role)

    found = run(work)
    typer.echo(f"{found.username} now has the roles: {', '.join(found.roles) or '-'}")
