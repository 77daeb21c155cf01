"""Signing-key rotation from the CLI while the server runs: no restart, overlap, retirement."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from idgate.cli import app as cli
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import rotation_overlap
from idgate.services import Services
from idgate.store.keystore import FileKeyStore
from tests.helpers import login_token, register

runner = CliRunner()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def jwks_kids(client: httpx.AsyncClient) -> set[str]:
    return {key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]}


async def idgate(settings: Settings, *args: str) -> Result:
    """Run the idgate command on the server's data directory and database (its own thread)."""
    env = {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(settings.data_dir),
        "IDGATE_DATABASE_URL": settings.resolved_database_url,
        "IDGATE_ISSUER": settings.issuer,
    }
    return await asyncio.to_thread(runner.invoke, cli, list(args), env=env)


async def test_rotation_without_restart(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, settings: Settings
) -> None:
    await register(client)
    old_token = await login_token(client)
    old_kid = kid_of(old_token)
    result = await idgate(settings, "keys", "rotate")
    assert result.exit_code == 0, result.output
    assert f"previous key {old_kid} verifies until" in result.output
    clock.advance(seconds=1)  # a running server looks at the key manifest once a second
    new_token = await login_token(client)
    new_kid = kid_of(new_token)
    assert new_kid != old_kid and f"new active key {new_kid}" in result.output
    # Tokens signed with the old key keep verifying, and both keys are published.
    assert (await client.get("/profile", headers=bearer(old_token))).status_code == 200
    assert (await client.get("/profile", headers=bearer(new_token))).status_code == 200
    assert await jwks_kids(client) == {old_kid, new_kid}
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        (event,) = await uow.audit.list(types=["key.rotated"])
    assert event.details["kid"] == new_kid and event.details["previous_kid"] == old_kid
    # Once every token the old key signed has expired, the key is retired: gone from the JWKS,
    # and a token naming it fails for that reason.
    (old_info, _) = FileKeyStore(settings.keys_dir, clock).describe()
    assert old_info.kid == old_kid and old_info.retire_at is not None
    # The CLI ran on the wall clock, this server on a test clock that started a bit earlier.
    assert old_info.retire_at - clock.now() >= rotation_overlap(
        settings.access_token_ttl, settings.jwt_leeway
    ) - timedelta(seconds=1)
    clock.set(old_info.retire_at - timedelta(seconds=1))
    assert await jwks_kids(client) == {old_kid, new_kid}
    clock.set(old_info.retire_at)
    assert await jwks_kids(client) == {new_kid}
    r = await client.get("/profile", headers=bearer(old_token))
    assert r.status_code == 401 and "not signed by a known key" in r.json()["detail"]
    assert kid_of(await login_token(client)) == new_kid


async def test_retiring_a_leaked_key_at_once(
    client: httpx.AsyncClient, clock: FixedClock, settings: Settings
) -> None:
    await register(client)
    old_token = await login_token(client)
    result = await idgate(settings, "keys", "rotate", "--retire-previous-now", "--alg", "ES256")
    assert result.exit_code == 0, result.output
    assert "is retired now" in result.output
    # The CLI ran on the wall clock: bring the server's test clock up to the retirement time.
    retired = next(k for k in FileKeyStore(settings.keys_dir, clock).describe() if k.retire_at)
    assert retired.retire_at is not None
    clock.set(max(clock.now() + timedelta(seconds=1), retired.retire_at))
    r = await client.get("/profile", headers=bearer(old_token))
    assert r.status_code == 401 and "not signed by a known key" in r.json()["detail"]
    new_token = await login_token(client)
    assert jwt.get_unverified_header(new_token)["alg"] == "ES256"
    assert (await client.get("/profile", headers=bearer(new_token))).status_code == 200
    assert await jwks_kids(client) == {kid_of(new_token)}


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
async def test_keys_list_shows_every_status(
    client: httpx.AsyncClient, clock: FixedClock, settings: Settings, alg: str
) -> None:
    await client.get("/.well-known/jwks.json")
    assert (await idgate(settings, "keys", "rotate", "--alg", alg)).exit_code == 0
    assert (await idgate(settings, "keys", "rotate", "--retire-previous-now")).exit_code == 0
    result = await idgate(settings, "keys", "list")
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["KID", "ALG", "CREATED", "STATUS", "RETIRES"]
    statuses = [(row.split()[1], row.split()[4]) for row in rows]
    assert statuses == [("EdDSA", "verify-only"), (alg, "retired"), (alg, "active")]
