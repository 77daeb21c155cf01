"""The authenticator chain: first credential present decides; services never reach user routes."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from idgate.core.errors import InvalidToken
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.services import Services
from tests.helpers import login_token, register


class FakeServiceKeys:
    """Stands in for a service credential: X-Test-Key: good is a service principal."""

    def applies(self, request: Request) -> bool:
        return "x-test-key" in request.headers

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        if request.headers["x-test-key"] != "good":
            raise InvalidToken("bad key")
        return Principal(subject="svc-1", kind="service", method="api_key", scopes=("a",))


async def test_a_service_principal_is_refused_on_user_routes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.authenticators.append(FakeServiceKeys())
    r = await client.get("/profile", headers={"X-Test-Key": "good"})
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await client.get("/profile", headers={"X-Test-Key": "bad"})
    assert r.status_code == 401


async def test_the_first_credential_present_decides(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.authenticators.append(FakeServiceKeys())
    await register(client)
    token = await login_token(client)
    both = {"Authorization": f"Bearer {token}", "X-Test-Key": "good"}
    assert (await client.get("/profile", headers=both)).status_code == 200
    # A failing bearer token is not rescued by another credential.
    both["Authorization"] = "Bearer broken"
    assert (await client.get("/profile", headers=both)).status_code == 401
