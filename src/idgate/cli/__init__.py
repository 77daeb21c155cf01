"""The ``idgate`` command: one Typer sub-app per module in this package."""

from __future__ import annotations

import typer

from idgate.cli import apikeys, audit, check, keys, migrate, roles, serve, service_accounts, users

app = typer.Typer(
    name="idgate",
    help="idgate: authentication and authorization for your API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("migrate")(migrate.migrate)
app.command("check")(check.check)
app.command("audit")(audit.audit)
app.add_typer(users.app, name="users")
app.add_typer(roles.app, name="roles")
app.add_typer(service_accounts.app, name="service-accounts")
app.add_typer(apikeys.app, name="apikeys")
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Entry point of the ``idgate`` console script."""
    app()
