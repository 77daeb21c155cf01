"""The guard against a real ``idgate serve`` over TCP, with its default HTTP client and the wall
clock: tokens, an API key, a key rotation from the command line, a logout seen on an opt-in
route, and an idgate that is not there at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from idgate.guard import Guard
from tests.guard.conftest import API, protected_api
from tests.helpers import GOOD_PASSWORD
from tests.live import free_port, live_server


class Idgate:
    """A served idgate and its command line, on the same data directory and database."""

    def __init__(self, base: str, workdir: Path) -> None:
        self.base = base
        self.workdir = workdir

    def cli(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
        env.update(IDGATE_ENVIRONMENT="test", IDGATE_BCRYPT_COST="4", IDGATE_ISSUER=self.base)
        idgate = str(Path(sys.executable).with_name("idgate"))
        result = subprocess.run(
            [idgate, *args], cwd=self.workdir, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def api_key(self, owner: str, name: str, *scopes: str) -> str:
        created = self.cli("service-accounts", "create", owner, name)
        account = created.rsplit("(id ", 1)[1].rstrip(")\n")
        options = [arg for scope in scopes for arg in ("--scope", scope)]
        return self.cli("apikeys", "create", account, *options).strip().splitlines()[-1]

    def login(self, username: str) -> dict[str, str]:
        r = httpx.post(f"{self.base}/login", json={"username": username, "password": GOOD_PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def idgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idgate]:
    workdir = tmp_path_factory.mktemp("idgate")
    with live_server(workdir) as base:
        yield Idgate(base, workdir)


def kid(headers: dict[str, str]) -> str:
    value: str = jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]
    return value


async def test_the_guard_against_idgate_serve(idgate: Idgate) -> None:
    idgate.cli("users", "create", "operator", "--admin", "--generate-password")
    introspection = idgate.api_key("operator", "resource-server", "tokens:introspect")
    reader = idgate.api_key("operator", "reader", "reports:read")
    r = httpx.post(f"{idgate.base}/register", json={"username": "alice", "password": GOOD_PASSWORD})
    assert r.status_code == 201, r.text
    alice = idgate.login("alice")

    guard = Guard(idgate.base, "idgate", api_key=introspection, cache_ttl=timedelta(0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert (await api.get("/fresh", headers=alice)).status_code == 200
        r = await api.get("/reports", headers={"X-API-Key": reader})
        assert r.status_code == 200, r.text
        assert (await api.post("/posts", headers={"X-API-Key": reader})).status_code == 403

        # Rotate the signing key from the command line while both run.
        idgate.cli("keys", "rotate")
        deadline = time.monotonic() + 10
        new = idgate.login("alice")
        while kid(new) == kid(alice) and time.monotonic() < deadline:
            time.sleep(0.2)  # idgate looks at its key manifest once a second
            new = idgate.login("alice")
        assert kid(new) != kid(alice)
        assert (await api.get("/me", headers=new)).status_code == 200
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert guard.keys is not None and guard.keys.kids == {kid(alice), kid(new)}

        # A logout is seen at once by the opt-in route (no cache here), not by the plain one.
        assert httpx.post(f"{idgate.base}/logout", headers=new).status_code == 204
        assert (await api.get("/fresh", headers=new)).status_code == 401
        assert (await api.get("/me", headers=new)).status_code == 200
    await guard.aclose()


async def test_an_idgate_that_is_not_there(idgate: Idgate) -> None:
    r = httpx.post(f"{idgate.base}/register", json={"username": "carol", "password": GOOD_PASSWORD})
    assert r.status_code == 201, r.text
    carol = idgate.login("carol")
    # The keys are where nothing listens: a valid token cannot be checked, so it is refused.
    nowhere = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"
    guard = Guard(idgate.base, "idgate", jwks_uri=nowhere, timeout=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        r = await api.get("/me", headers=carol)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "unavailable" and r.headers["retry-after"] == "5"
    await guard.aclose()
