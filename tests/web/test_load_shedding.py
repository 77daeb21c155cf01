"""A login flood fills the hashing pool: new logins get a fast 503, everything else still works."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from idgate.config import Settings
from idgate.core.passwords.pool import HashingPool
from tests.helpers import GOOD_PASSWORD, login_token, register
from tests.web.conftest import Running


async def test_a_full_pool_sheds_logins_and_spares_other_requests(
    settings: Settings, running: Running
) -> None:
    async with running(settings, hashing_threads=1, hashing_queue=1) as (app, client):
        await register(client)
        token = await login_token(client)
        pool: HashingPool = app.state.services.hashing
        release = threading.Event()
        # The pool's one thread is busy and its one queue slot taken, as in a flood.
        busy = [asyncio.ensure_future(pool.run(release.wait)) for _ in range(2)]
        try:
            for _ in range(1000):
                if pool.pending == 2:
                    break
                await asyncio.sleep(0.005)
            body = {"username": "alice", "password": GOOD_PASSWORD}
            statements: list[str] = []

            def record(*args: Any) -> None:
                statements.append(args[2])

            # A shed request costs no database work: in a flood most requests are shed, and
            # the event loop they share serves everyone else.
            event.listen(Engine, "before_cursor_execute", record)
            try:
                r = await client.post("/login", json=body)
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "unavailable"
                assert r.headers["retry-after"] == "1"
                r = await client.post("/login", json={"username": "ghost", "password": "x" * 20})
                assert r.status_code == 503  # unknown accounts alike (LG-01)
                r = await client.post(
                    "/register", json={"username": "bob", "password": GOOD_PASSWORD}
                )
                assert r.status_code == 503
            finally:
                event.remove(Engine, "before_cursor_execute", record)
            assert statements == []
            # Nothing that needs no hashing waits for the pool.
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/.well-known/jwks.json")).status_code == 200
            r = await client.get("/profile", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            assert pool.shed == 3
        finally:
            release.set()
            await asyncio.gather(*busy)
        # Shed attempts were not counted as failed guesses: five real failures still pass.
        wrong = {"username": "alice", "password": "wrong password"}
        assert [(await client.post("/login", json=wrong)).status_code for _ in range(5)] == [
            401
        ] * 5
        assert (await client.post("/login", json=body)).status_code == 429
