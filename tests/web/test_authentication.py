"""The authenticator chain: first credential present decides; services never reach user routes."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from idgate.core.errors import InvalidToken
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.services import Services
from idgate.web.dependencies import PrincipalDep, UowDep, current_principal
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


class CountingKeys(FakeServiceKeys):
    """Records the unit of work of every authentication it makes."""

    def __init__(self) -> None:
        self.calls: list[UnitOfWork] = []

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        self.calls.append(uow)
        return await super().authenticate(request, services, uow)


async def test_a_request_authenticates_once_and_shares_its_unit_of_work(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    keys = CountingKeys()
    app.state.authenticators.append(keys)

    @app.get("/test/principal-twice")
    async def principal_twice(request: Request, principal: PrincipalDep) -> dict[str, bool]:
        again = await current_principal(request)
        return {"same": again is principal}

    @app.get("/test/with-uow")
    async def with_uow(uow: UowDep, principal: PrincipalDep) -> dict[str, bool]:
        # A route that holds a unit of work: authentication uses it, so one request never
        # holds two write transactions (SQLite would make the second wait for the first).
        return {"shared": keys.calls[-1] is uow}

    headers = {"X-Test-Key": "good"}
    assert (await client.get("/test/principal-twice", headers=headers)).json() == {"same": True}
    assert len(keys.calls) == 1
    assert (await client.get("/test/with-uow", headers=headers)).json() == {"shared": True}
    assert len(keys.calls) == 2
    # Without a unit of work of the route's, authentication opens and closes one of its own.
    r = await client.get("/test/principal-twice", headers={"X-Test-Key": "bad"})
    assert r.status_code == 401
    assert len(keys.calls) == 3 and keys.calls[2] is not keys.calls[1]
