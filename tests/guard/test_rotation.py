"""Key rotation while idgate and the guarded service both run: the guard picks up the new key
without a restart, old tokens keep verifying while their key does, and a retired key leaves the
guard when its cached JWKS expires (SECURITY.md HD-08 from the verifier's side)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import jwt
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from idgate.cli import app as cli
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.guard import Guard
from idgate.store.keystore import FileKeyStore
from tests.guard.conftest import IdgateLink
from tests.web.authz_helpers import login, make_user

runner = CliRunner()


async def idgate_cli(settings: Settings, *args: str) -> Result:
    """Run the idgate command on the server's data directory and database, as an operator."""
    env = {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(settings.data_dir),
        "IDGATE_DATABASE_URL": settings.resolved_database_url,
        "IDGATE_ISSUER": settings.issuer,
    }
    result = await asyncio.to_thread(runner.invoke, cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def kid_of(headers: dict[str, str]) -> str:
    kid: str = jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]
    return kid


async def test_a_rotated_key_is_picked_up_without_restart(
    app: FastAPI,
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    guard: Guard,
    link: IdgateLink,
    settings: Settings,
    clock: FixedClock,
) -> None:
    await make_user(app, "alice")
    old = await login(client, "alice")
    assert (await api.get("/me", headers=old)).status_code == 200
    assert link.jwks_fetches == 1
    await idgate_cli(settings, "keys", "rotate")
    clock.advance(seconds=1)  # idgate looks at its key manifest once a second
    new = await login(client, "alice")
    assert kid_of(new) != kid_of(old)
    # The unknown kid makes the guard fetch the JWKS again, once; both keys verify.
    assert (await api.get("/me", headers=new)).status_code == 200
    assert (await api.get("/me", headers=old)).status_code == 200
    assert link.jwks_fetches == 2
    assert guard.keys is not None and guard.keys.kids == {kid_of(old), kid_of(new)}
    # The old token verifies until it expires, across the guard's scheduled refreshes.
    clock.advance(timedelta(minutes=14))
    assert (await api.get("/me", headers=old)).status_code == 200
    assert link.jwks_fetches == 3
    # Once the old key is retired, a refresh of the guard's cache drops it.
    (previous, _) = FileKeyStore(settings.keys_dir, clock).describe()
    assert previous.kid == kid_of(old) and previous.retire_at is not None
    clock.set(max(previous.retire_at, clock.now() + timedelta(minutes=5)))
    fresh = await login(client, "alice")
    assert (await api.get("/me", headers=fresh)).status_code == 200
    assert guard.keys.kids == {kid_of(new)}


async def test_a_key_retired_at_once_leaves_the_guard_with_its_cache(
    app: FastAPI,
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    link: IdgateLink,
    settings: Settings,
    clock: FixedClock,
) -> None:
    await make_user(app, "alice")
    leaked = await login(client, "alice")
    assert (await api.get("/me", headers=leaked)).status_code == 200
    await idgate_cli(settings, "keys", "rotate", "--retire-previous-now", "--alg", "ES256")
    retired = next(k for k in FileKeyStore(settings.keys_dir, clock).describe() if k.retire_at)
    assert retired.retire_at is not None
    clock.set(max(clock.now() + timedelta(seconds=1), retired.retire_at))
    # idgate refuses the old key's tokens at once...
    assert (await client.get("/profile", headers=leaked)).status_code == 401
    # ...the guard until its cached JWKS expires (max-age 300 s: docs/guard.md).
    fetched = link.jwks_fetches
    assert (await api.get("/me", headers=leaked)).status_code == 200
    clock.advance(seconds=300)
    r = await api.get("/me", headers=leaked)
    assert r.status_code == 401 and "not signed by a known key" in r.json()["detail"]
    assert link.jwks_fetches > fetched
    new = await login(client, "alice")
    assert jwt.get_unverified_header(new["Authorization"].split()[1])["alg"] == "ES256"
    assert (await api.get("/me", headers=new)).status_code == 200
