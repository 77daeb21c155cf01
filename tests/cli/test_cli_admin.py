"""Administration from the command line: users, roles, service accounts and API keys."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from idgate.app import create_app
from idgate.cli import app
from idgate.config import Settings
from idgate.core.apikeys import is_well_formed

runner = CliRunner()
PASSWORD = "correct horse battery staple\n"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_DATABASE_URL": database_url,
    }


def idgate(env: dict[str, str], *args: str, input: str | None = None, ok: bool = True) -> str:
    result = runner.invoke(app, list(args), input=input, env=env)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
    return result.output


def status_with_key(settings: Settings, path: str, key: str) -> int:
    """Call the server (sharing the CLI's database) with an API key; return the status."""

    async def call() -> int:
        server = create_app(settings)
        async with server.router.lifespan_context(server):
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.get(path, headers={"X-API-Key": key})).status_code

    return asyncio.run(call())


def test_help_for_every_new_command() -> None:
    for args in (
        ["users", "show"],
        ["users", "disable"],
        ["users", "enable"],
        ["users", "delete"],
        ["users", "revoke"],
        ["users", "roles", "add"],
        ["users", "roles", "remove"],
        ["roles"],
        ["roles", "list"],
        ["roles", "create"],
        ["roles", "delete"],
        ["roles", "grant"],
        ["roles", "revoke"],
        ["service-accounts", "create"],
        ["apikeys", "create"],
        ["apikeys", "list"],
        ["apikeys", "revoke"],
        ["apikeys", "rotate"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, args


def test_users_and_roles(env: dict[str, str]) -> None:
    idgate(env, "users", "create", "root", "--admin", "--password-stdin", input=PASSWORD)
    idgate(env, "users", "create", "alice", "--password-stdin", input=PASSWORD)
    idgate(env, "users", "create", "albert", "--password-stdin", input=PASSWORD)
    out = idgate(env, "users", "list", "--search", "AL")
    assert "alice" in out and "albert" in out and "root" not in out and "(1-2 of 2)" in out

    out = idgate(env, "roles", "create", "moderator", "-p", "posts:delete", "-p", "posts:edit")
    assert "posts:delete, posts:edit" in out
    idgate(env, "roles", "grant", "moderator", "posts:*")
    out = idgate(env, "roles", "revoke", "moderator", "posts:edit")
    assert "posts:*, posts:delete" in out
    out = idgate(env, "roles", "list")
    assert re.search(r"admin\s+built-in\s+\*", out) and "moderator" in out
    assert "invalid_permission" in idgate(env, "roles", "grant", "moderator", "BAD", ok=False)
    assert "builtin_role" in idgate(env, "roles", "delete", "user", ok=False)

    out = idgate(env, "users", "roles", "add", "alice", "moderator")
    assert "moderator, user" in out
    out = idgate(env, "users", "show", "alice")
    assert "roles:          moderator, user" in out and "status:         active" in out
    assert "not_found" in idgate(env, "users", "roles", "add", "alice", "nope", ok=False)
    idgate(env, "users", "roles", "remove", "alice", "moderator")
    assert "last_admin" in idgate(env, "users", "roles", "remove", "root", "admin", ok=False)
    idgate(env, "roles", "delete", "moderator")
    assert "not_found" in idgate(env, "roles", "show", "moderator", ok=False)

    assert "disabled alice" in idgate(env, "users", "disable", "alice")
    assert "status:         disabled" in idgate(env, "users", "show", "alice")
    assert "enabled alice" in idgate(env, "users", "enable", "alice")
    assert "revoked every token" in idgate(env, "users", "revoke", "alice", "--api-keys")
    assert "--yes" in idgate(env, "users", "delete", "albert", ok=False)
    assert "deleted albert" in idgate(env, "users", "delete", "albert", "--yes")
    assert "not_found" in idgate(env, "users", "show", "albert", ok=False)


def test_service_accounts_and_api_keys(env: dict[str, str]) -> None:
    idgate(env, "users", "create", "root", "--admin", "--password-stdin", input=PASSWORD)
    idgate(env, "users", "create", "alice", "--password-stdin", input=PASSWORD)
    idgate(env, "roles", "create", "reader", "-p", "apikeys:read", "-p", "reports:read")
    idgate(env, "users", "roles", "add", "alice", "reader")
    out = idgate(env, "service-accounts", "create", "alice", "ci")
    account = re.search(r"\(id ([0-9a-f-]{36})\)", out)
    assert account
    account_id = account.group(1)
    assert "ci" in idgate(env, "service-accounts", "list", "--owner", "alice")

    out = idgate(env, "apikeys", "create", account_id, "-s", "apikeys:read", "--name", "n1")
    secret = out.strip().splitlines()[-1]
    assert is_well_formed(secret) and "shown once" in out
    key_id = re.search(r"key id:\s+(\S+)", out)
    assert key_id
    out = idgate(env, "apikeys", "create", account_id, "-s", "admin:users", ok=False)
    assert "scope_not_allowed" in out
    out = idgate(
        env, "apikeys", "create", account_id, "--no-expiry", "--expires-in-days", "3", ok=False
    )
    assert "choose one" in out
    listing = idgate(env, "apikeys", "list", account_id)
    assert secret not in listing and f"idg_...{secret[-4:]}" in listing and "active" in listing

    # The key works against the server using the same database.
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=Path(env["IDGATE_DATA_DIR"]),
        database_url=env["IDGATE_DATABASE_URL"],
        bcrypt_cost=4,
    )
    url = f"/service-accounts/{account_id}/api-keys"
    assert status_with_key(settings, url, secret) == 200
    out = idgate(env, "apikeys", "rotate", key_id.group(1))
    rotated = out.strip().splitlines()[-1]
    assert is_well_formed(rotated) and rotated != secret
    assert status_with_key(settings, url, secret) == 401
    assert status_with_key(settings, url, rotated) == 200
    new_id = re.search(r"key id:\s+(\S+)", out)
    assert new_id
    idgate(env, "apikeys", "revoke", new_id.group(1))
    assert status_with_key(settings, url, rotated) == 401
    assert "revoked" in idgate(env, "apikeys", "list", account_id)
    assert "not a key id" in idgate(env, "apikeys", "revoke", "nope", ok=False)
    assert "deleted service account ci" in idgate(
        env, "service-accounts", "delete", account_id, "--yes"
    )
    assert "no service accounts" in idgate(env, "service-accounts", "list")
