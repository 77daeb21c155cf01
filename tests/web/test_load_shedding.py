"""A login flood fills the hashing pool: new logins get a fast 503, everything else still works."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from idgate.config import Settings
from idgate.core.passwords.pool import HashingPool
from tests.helpers import GOOD_PASSWORD, login_token, register, wait_until
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
            await wait_until(lambda: pool.pending == 2)
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


async def test_a_full_pool_sheds_json_logins_before_the_application_reads_them(
    settings: Settings, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, hashing_threads=1, hashing_queue=0) as (app, client):
        await register(client)
        pool: HashingPool = app.state.services.hashing
        release = threading.Event()
        busy = asyncio.ensure_future(pool.run(release.wait))
        try:
            await wait_until(lambda: pool.pending == 1)
            # Not even parsed: the application would answer this body with a 422, the door
            # answers before anything reads it (web/overload.py).
            headers = {"content-type": "application/json"}
            with caplog.at_level(logging.INFO, logger="idgate.access"):
                for path in ("/login", "/register"):
                    r = await client.post(path, content=b"{not json", headers=headers)
                    assert r.status_code == 503, (path, r.text)
                    assert r.json()["code"] == "unavailable"
                    assert r.headers["retry-after"] == "1"
                    # The same headers as every other answer, and one access line each.
                    assert r.headers["x-content-type-options"] == "nosniff"
                    assert r.headers["cache-control"] == "no-store"
                    assert r.headers["x-request-id"]
            logged = [
                (vars(rec)["path"], vars(rec)["status"])
                for rec in caplog.records
                if rec.name == "idgate.access"
            ]
            assert logged == [("/login", 503), ("/register", 503)]
            assert pool.shed == 2
            # Other methods and paths go to the application, which answers as it always does:
            # the browser's login form reaches it (and its CSRF check, before any hashing).
            assert (await client.get("/login")).status_code == 405
            page = await client.post("/account/login", data={"username": "a", "password": "b"})
            assert page.json()["code"] == "csrf_failed"
        finally:
            release.set()
            await busy
        # Once the pool has room, the same request reaches the application again.
        r = await client.post("/login", content=b"{not json", headers=headers)
        assert r.status_code == 422
        assert (
            await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
        ).status_code == 200


async def test_a_shed_login_is_answered_after_the_pause_and_holds_nothing_meanwhile(
    settings: Settings, running: Running
) -> None:
    # A pause long enough to watch: the refusal waits in the pool's held count, not a thread.
    overrides = {"hashing_threads": 1, "hashing_queue": 0, "hashing_shed_delay": 1.0}
    async with running(settings, **overrides) as (app, client):
        await register(client)
        pool: HashingPool = app.state.services.hashing
        assert pool.shed_delay == 1.0
        release = threading.Event()
        busy = asyncio.ensure_future(pool.run(release.wait))
        try:
            await wait_until(lambda: pool.pending == 1)
            body = {"username": "alice", "password": GOOD_PASSWORD}
            door = asyncio.ensure_future(client.post("/login", json=body))
            await wait_until(lambda: pool.held == 1)
            assert not door.done()
            # Meanwhile everything else is served, the held refusal costs no thread or
            # connection.
            assert (await client.get("/health")).status_code == 200
            r = await door
            assert r.status_code == 503 and r.headers["retry-after"] == "1"
            assert pool.held == 0 and pool.shed == 1
        finally:
            release.set()
            await busy
        assert (await client.post("/login", json=body)).status_code == 200
        assert pool.held == 0


async def test_requests_that_need_no_password_reserve_a_core_and_logins_do_not(
    settings: Settings, running: Running
) -> None:
    async with running(settings, hashing_threads=2) as (app, client):
        pool: HashingPool = app.state.services.hashing
        pool.reserve.window = 60.0
        await register(client)
        token = await login_token(client)
        # Registrations and logins (JSON and shed ones alike) leave every core to hashing.
        assert not pool.reserve.reserved() and pool.reserve.allowed() == 2
        r = await client.get("/profile", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert pool.reserve.reserved() and pool.reserve.allowed() == 1
        # A login still works while a core is reserved: on the one thread left.
        assert await login_token(client)
    async with running(settings, hashing_threads=2, hashing_reserve_core=False) as (app, client):
        pool = app.state.services.hashing
        assert (await client.get("/health")).status_code == 200
        assert not pool.reserve.reserved() and pool.reserve.allowed() == 2
