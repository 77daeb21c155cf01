"""The per-account throttle over HTTP: growing delays from any address, no victim lockout
thanks to device tokens, and throttled unknown accounts that look like real ones."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from idgate.config import Settings
from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.clock import FixedClock
from idgate.services import Services
from idgate.web.devices import DEVICE_COOKIE
from tests.helpers import GOOD_PASSWORD, register
from tests.web.conftest import Running

PROXY = "203.0.113.7"
#: Each attacker request seems to come from another address; per-IP limits never trigger.
OPEN = {"trusted_proxies": [PROXY]}


async def login(
    client: httpx.AsyncClient,
    username: str = "alice",
    password: str = "wrong password",
    *,
    device_token: str | None = None,
    ip: str = "198.51.100.1",
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"username": username, "password": password}
    if device_token is not None:
        body["device_token"] = device_token
    headers = {"X-Forwarded-For": ip}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return await client.post("/login", json=body, headers=headers)


async def attack(client: httpx.AsyncClient, times: int, username: str = "alice") -> list[int]:
    return [
        (await login(client, username, ip=f"192.0.2.{n % 250 + 1}")).status_code
        for n in range(times)
    ]


async def events(app: FastAPI, type: str) -> list[AuditEvent]:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        return list(await uow.audit.list(types=[type]))


async def test_failures_from_many_addresses_throttle_the_account(
    limit_settings: Settings, running: Running, clock: FixedClock
) -> None:
    async with running(limit_settings, **OPEN) as (app, client):
        await register(client)
        assert await attack(client, 5) == [401] * 5
        r = await login(client, password=GOOD_PASSWORD, ip="198.51.100.200")
        assert r.status_code == 429
        assert r.json()["code"] == "login_throttled"
        assert r.headers["retry-after"] == "1"
        assert "ratelimit-limit" not in r.headers
        clock.advance(seconds=1)
        assert (await login(client, password=GOOD_PASSWORD)).status_code == 200
        # A success starts the count again.
        assert await attack(client, 5) == [401] * 5
        for _ in range(3):
            assert (await login(client)).status_code == 429
        # One audit record per waiting period, however many attempts it refused.
        throttled = await events(app, AuditEventType.LOGIN_THROTTLED)
        assert len(throttled) == 2
        assert {(e.reason, e.details["retry_after"]) for e in throttled} == {("login", 1)}


async def test_delays_grow_with_each_failure(
    limit_settings: Settings, running: Running, clock: FixedClock
) -> None:
    async with running(limit_settings, **OPEN) as (_, client):
        await attack(client, 5)
        waits = []
        for _ in range(4):
            r = await login(client)
            waits.append(int(r.headers["retry-after"]))
            clock.advance(seconds=waits[-1])
            assert (await login(client)).status_code == 401
        assert waits == [1, 2, 4, 8]


async def test_a_throttled_unknown_account_looks_like_a_throttled_real_one(
    limit_settings: Settings, running: Running
) -> None:
    # LG-01: the throttle counts per username, whether or not the account exists.
    async with running(limit_settings, **OPEN) as (_, client):
        await register(client, "alice")
        await attack(client, 5, "alice")
        await attack(client, 5, "ghost")
        real, ghost = await login(client, "alice"), await login(client, "ghost")
        assert real.status_code == ghost.status_code == 429
        assert real.content == ghost.content

        def visible(r: httpx.Response) -> dict[str, str]:
            return {k: v for k, v in r.headers.items() if k not in {"x-request-id", "date"}}

        assert visible(real) == visible(ghost)


async def test_the_owner_with_a_device_token_is_not_locked_out(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings, **OPEN) as (app, client):
        await register(client)
        first = await login(client, password=GOOD_PASSWORD)
        device_token = first.json()["device_token"]
        assert first.cookies.get(DEVICE_COOKIE) == device_token
        # The attacker hammers the account from everywhere, far past the lockout threshold.
        await attack(client, 5)
        assert (await login(client)).status_code == 429
        assert (await login(client, password=GOOD_PASSWORD)).status_code == 429
        # The owner's client presents its token, in the body or as the browser cookie.
        r = await login(client, password=GOOD_PASSWORD, device_token=device_token)
        assert r.status_code == 200, r.text
        r = await login(
            client, password=GOOD_PASSWORD, cookies={DEVICE_COOKIE: r.json()["device_token"]}
        )
        assert r.status_code == 200, r.text
        # The owner's success did not lift the throttle for everyone else.
        assert (await login(client, password=GOOD_PASSWORD)).status_code == 429
        succeeded = await events(app, AuditEventType.LOGIN_SUCCEEDED)
        assert [e.details["trusted_device"] for e in succeeded] == [True, True, False]


async def test_a_device_token_counts_only_for_its_account(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings, **OPEN) as (_, client):
        await register(client, "alice")
        await register(client, "bob")
        bobs = (await login(client, "bob", GOOD_PASSWORD)).json()["device_token"]
        await attack(client, 5, "alice")
        r = await login(client, "alice", GOOD_PASSWORD, device_token=bobs)
        assert r.status_code == 429
        forged = bobs[:-4] + ("AAAA" if not bobs.endswith("AAAA") else "BBBB")
        r = await login(client, "bob", GOOD_PASSWORD, device_token=forged)
        assert r.status_code == 200  # not throttled, and a bad token is simply ignored


async def test_a_stolen_device_token_buys_only_a_few_guesses(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings, device_token_max_failures=3, **OPEN) as (_, client):
        await register(client)
        device_token = (await login(client, password=GOOD_PASSWORD)).json()["device_token"]
        await attack(client, 5)
        statuses = [(await login(client, device_token=device_token)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]


async def test_the_device_cookie_is_a_host_cookie(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings) as (_, client):
        await register(client)
        r = await login(client, password=GOOD_PASSWORD)
        cookie = r.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert cookie.startswith(f"{DEVICE_COOKIE}={r.json()['device_token']};")
        assert {"httponly", "secure", "path", "samesite", "max-age"} <= attributes
        assert "domain" not in attributes and "samesite=strict" in cookie.lower()


async def test_wrong_current_passwords_are_throttled(
    limit_settings: Settings, running: Running, clock: FixedClock
) -> None:
    async with running(limit_settings, rate_limits={"password_change.account": "off"}) as (
        _,
        client,
    ):
        await register(client)
        token = (await login(client, password=GOOD_PASSWORD)).json()["access_token"]

        async def change(current: str) -> httpx.Response:
            return await client.post(
                "/password/change",
                json={"current_password": current, "new_password": "an entirely new phrase"},
                headers={"Authorization": f"Bearer {token}"},
            )

        assert [(await change("wrong")).status_code for _ in range(5)] == [403] * 5
        r = await change(GOOD_PASSWORD)
        assert r.status_code == 429 and r.json()["code"] == "login_throttled"
        clock.advance(seconds=1)
        assert (await change(GOOD_PASSWORD)).status_code == 200


async def test_the_lockout_is_long_but_bounded(
    limit_settings: Settings, running: Running, clock: FixedClock
) -> None:
    # NIST SP 800-63B 5.2.2 caps consecutive failures (100 by default, 20 here for speed);
    # LG-04: the lockout that follows ends by itself.
    fast = {
        "login_throttle_max_delay": timedelta(seconds=1),
        "login_lockout_failures": 20,
        **OPEN,
    }
    async with running(limit_settings, **fast) as (_, client):
        await register(client)
        for n in range(20):
            ip = f"192.0.2.{n % 250 + 1}"
            r = await login(client, ip=ip)
            if r.status_code == 429:
                clock.advance(seconds=int(r.headers["retry-after"]))
                r = await login(client, ip=ip)
            assert r.status_code == 401
        r = await login(client, password=GOOD_PASSWORD)
        assert r.status_code == 429 and r.headers["retry-after"] == "86400"
        clock.advance(seconds=86400)
        assert (await login(client, password=GOOD_PASSWORD)).status_code == 200
