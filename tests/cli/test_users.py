"""``idgate users disable`` while the server runs: every token of the account stops at once, and
re-enabling the account brings none of them back (SS-08)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from idgate.cli import app as cli
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, register

runner = CliRunner()


async def idgate(settings: Settings, *args: str) -> Result:
    env = {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(settings.data_dir),
        "IDGATE_DATABASE_URL": settings.resolved_database_url,
        "IDGATE_ISSUER": settings.issuer,
    }
    return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)


async def test_disable_and_enable(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, clock: FixedClock
) -> None:
    await register(client)
    credentials = {"username": "alice", "password": GOOD_PASSWORD}
    pair = (await client.post("/login", json=credentials)).json()
    result = await idgate(settings, "users", "disable", "Alice")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("disabled alice")
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/profile", headers=headers)).status_code == 401
    r = await client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    assert (await client.post("/login", json=credentials)).status_code == 401

    result = await idgate(settings, "users", "enable", "alice")
    assert result.exit_code == 0, result.output
    # The old tokens stay dead; a fresh login works.
    assert (await client.get("/profile", headers=headers)).status_code == 401
    r = await client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    # The CLI ran on the wall clock; move the server's test clock up to it.
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("alice")
    assert user is not None and user.revoked_before is not None
    clock.set(max(clock.now(), user.revoked_before))
    fresh = (await client.post("/login", json=credentials)).json()
    r = await client.get("/profile", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert r.status_code == 200
    async with services.uow_factory() as uow:
        kinds = [e.type for e in await uow.audit.list(types=["user.disabled", "user.enabled"])]
    assert kinds == ["user.enabled", "user.disabled"]


async def test_unknown_user(settings: Settings, client: httpx.AsyncClient) -> None:
    result = await idgate(settings, "users", "disable", "ghost")
    assert result.exit_code == 1 and "not_found" in result.output and "ghost" in result.output
