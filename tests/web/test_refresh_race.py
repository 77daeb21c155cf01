"""The double-tab / retry race: concurrent refreshes with one refresh token (RT-04).

The rule (docs/tokens.md): exactly one wins. The others get ``invalid_grant``, and because they
were concurrent with the winner (not a later replay) the session lives on with the winner's pair.

Both tests run on SQLite and PostgreSQL. The first makes every request read the token as unused
before any of them writes (a barrier inside the repository), so only the atomic compare-and-set
can tell them apart; the second fires a burst through two independent app instances (two
connection pools, as two idgate servers would have).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.core.tokens.refresh import RefreshFamily, RefreshToken
from idgate.services import Services
from idgate.store.repositories.tokens import SqlRefreshTokenRepository
from tests.helpers import GOOD_PASSWORD, register


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    await register(client)
    r = await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


async def events(app: FastAPI) -> list[str]:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        return [
            e.type for e in await uow.audit.list(types=["token.refreshed", "refresh.race_lost"])
        ]


async def test_readers_that_all_saw_the_token_unused_still_get_one_winner(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = await login(client)
    parties = 8
    barrier = asyncio.Barrier(parties)
    real_find = SqlRefreshTokenRepository.find

    async def find_then_wait(
        self: SqlRefreshTokenRepository, token_hash: str
    ) -> tuple[RefreshToken, RefreshFamily] | None:
        found = await real_find(self, token_hash)
        assert found is not None and found[0].used_at is None
        # Nobody writes until everybody has read: a check-then-write would let all through.
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return found

    monkeypatch.setattr(SqlRefreshTokenRepository, "find", find_then_wait)
    responses = await asyncio.gather(
        *(
            client.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
            for _ in range(parties)
        )
    )
    monkeypatch.undo()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (parties - 1), [r.text for r in responses]
    assert all(r.json()["code"] == "invalid_grant" for r in responses if r.status_code == 401)
    winner = next(r.json() for r in responses if r.status_code == 200)
    # The losers were concurrent, not a replay: the winner's session lives on.
    r = await client.get("/profile", headers={"Authorization": f"Bearer {winner['access_token']}"})
    assert r.status_code == 200
    r = await client.post("/token/refresh", json={"refresh_token": winner["refresh_token"]})
    assert r.status_code == 200
    assert (
        sorted(await events(app)) == ["refresh.race_lost"] * (parties - 1) + ["token.refreshed"] * 2
    )


@pytest.fixture
async def second_instance(settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    """Another idgate process on the same database and data directory."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_burst_across_two_instances_has_exactly_one_winner(
    app: FastAPI, client: httpx.AsyncClient, second_instance: FastAPI
) -> None:
    pair = await login(client)
    transport = httpx.ASGITransport(app=second_instance, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        clients = [client, other] * 10
        responses = await asyncio.gather(
            *(
                c.post("/token/refresh", json={"refresh_token": pair["refresh_token"]})
                for c in clients
            )
        )
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, [r.text for r in responses]
    assert statuses.count(401) == 19
    assert {r.json()["code"] for r in responses if r.status_code == 401} == {"invalid_grant"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    r = await client.post("/token/refresh", json={"refresh_token": winner["refresh_token"]})
    assert r.status_code == 200
