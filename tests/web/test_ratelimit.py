"""Rate limits over HTTP: per IP, per account, global; 429 before any hashing; trusted proxies."""

from __future__ import annotations

import logging
import random

import httpx
import pytest
from fastapi import FastAPI

from idgate.config import Settings
from idgate.core.audit import AuditEvent, AuditEventType
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, login_token, register
from tests.web.conftest import Running

pytestmark = pytest.mark.usefixtures("limit_settings")


def count_hashes(app: FastAPI) -> list[int]:
    """Count the password checks and hashes that reach the hashing pool."""
    pool = app.state.services.hashing
    calls = [0]
    original = pool.run

    async def counting(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return await original(fn, *args, **kwargs)

    pool.run = counting
    return calls


async def login(
    client: httpx.AsyncClient, password: str = "wrong password", **headers: str
) -> httpx.Response:
    return await client.post(
        "/login", json={"username": "alice", "password": password}, headers=headers
    )


async def audit_events(app: FastAPI, type: str) -> list[AuditEvent]:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        return list(await uow.audit.list(types=[type]))


async def test_login_is_limited_per_ip_before_any_hashing(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings, rate_limits={"login.ip": "3/minute"}) as (app, client):
        await register(client)
        hashes = count_hashes(app)
        statuses = [(await login(client)).status_code for _ in range(3)]
        assert statuses == [401, 401, 401] and hashes[0] == 3
        r = await login(client, GOOD_PASSWORD)
        assert r.status_code == 429, r.text
        assert r.json() == {"code": "rate_limited", "detail": "Too many requests. Try again later."}
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.headers["ratelimit-limit"] == "3"
        assert r.headers["ratelimit-remaining"] == "0"
        assert r.headers["ratelimit-policy"] == "3;w=60"
        assert hashes[0] == 3  # refused before the password was looked at
        for _ in range(3):
            assert (await login(client)).status_code == 429
        events = await audit_events(app, AuditEventType.RATE_LIMITED)
        assert len(events) == 1  # one record per exhausted window, not per refusal

    # Another address has its own count.
    async with running(limit_settings, peer="198.51.100.77") as (_, other):
        assert (await login(other)).status_code == 401


async def test_allowed_answers_carry_ratelimit_headers(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings) as (_, client):
        await register(client)
        r = await login(client, GOOD_PASSWORD)
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "10"
        assert r.headers["ratelimit-remaining"] == "9"
        assert r.headers["ratelimit-policy"] == "10;w=60"


async def test_registration_is_limited_to_five_an_hour_per_ip(
    limit_settings: Settings, running: Running
) -> None:
    async with running(limit_settings) as (_, client):
        for n in range(5):
            assert (await register(client, f"user{n}")).status_code == 201
        r = await register(client, "user5")
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert r.headers["ratelimit-policy"] == "5;w=3600"


async def test_password_change_is_limited_per_account(
    limit_settings: Settings, running: Running
) -> None:
    overrides = {"password_change.account": "2/minute", "password_change.ip": "off"}
    async with running(limit_settings, rate_limits=overrides) as (_, client):
        await register(client, "alice")
        await register(client, "bob")
        alice, bob = await login_token(client, "alice"), await login_token(client, "bob")

        async def change(token: str) -> httpx.Response:
            return await client.post(
                "/password/change",
                json={"current_password": "wrong", "new_password": "x" * 20},
                headers={"Authorization": f"Bearer {token}"},
            )

        assert [(await change(alice)).status_code for _ in range(2)] == [403, 403]
        assert (await change(alice)).status_code == 429
        assert (await change(bob)).status_code == 403
        r = await client.post(
            "/password/change",
            json={"current_password": GOOD_PASSWORD, "new_password": "bob's brand new phrase"},
            headers={"Authorization": f"Bearer {bob}"},
        )
        # The answer is the fresh token pair, and it keeps the RateLimit headers.
        assert r.status_code == 200 and r.json()["refresh_token"]
        assert r.headers["ratelimit-limit"] == "2" and r.headers["ratelimit-remaining"] == "0"


async def test_forged_forwarded_headers_do_not_reset_the_limit(
    limit_settings: Settings, running: Running
) -> None:
    # LG-06: no trusted proxy is configured, so X-Forwarded-For is the client's own claim.
    async with running(limit_settings, rate_limits={"login.ip": "2/minute"}) as (_, client):
        await login(client)
        await login(client)
        for _ in range(5):
            fake = ".".join(str(random.randint(1, 254)) for _ in range(4))
            r = await login(client, **{"X-Forwarded-For": fake, "Forwarded": f"for={fake}"})
            assert r.status_code == 429


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    limit_settings: Settings, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(
        limit_settings, rate_limits={"login.ip": "2/minute"}, trusted_proxies=["203.0.113.7"]
    ) as (app, client):
        first = {"X-Forwarded-For": "198.51.100.1"}
        # The client wrote the left entry itself; the proxy appended the right one.
        second = {"X-Forwarded-For": "198.51.100.1, 198.51.100.2"}
        assert [(await login(client, **first)).status_code for _ in range(3)] == [401, 401, 429]
        with caplog.at_level(logging.INFO, logger="idgate.access"):
            assert (await login(client, **second)).status_code == 401
        access = [r.__dict__["client"] for r in caplog.records if r.name == "idgate.access"]
        assert access == ["198.51.100.2"]
        failed = await audit_events(app, AuditEventType.LOGIN_FAILED)
        assert {event.ip for event in failed} == {"198.51.100.1", "198.51.100.2"}
        limited = await audit_events(app, AuditEventType.RATE_LIMITED)
        assert [event.ip for event in limited] == ["198.51.100.1"]


async def test_the_global_limit_counts_every_client(
    limit_settings: Settings, running: Running
) -> None:
    overrides = {"login.global": "3/minute", "login.ip": "off"}
    async with running(limit_settings, rate_limits=overrides, trusted_proxies=["203.0.113.7"]) as (
        _,
        client,
    ):
        for n in range(3):
            r = await login(client, **{"X-Forwarded-For": f"198.51.100.{n + 1}"})
            assert r.status_code == 401
        r = await login(client, **{"X-Forwarded-For": "198.51.100.99"})
        assert r.status_code == 429


async def test_limits_can_be_switched_off(limit_settings: Settings, running: Running) -> None:
    async with running(
        limit_settings, rate_limits={"login.ip": "1/hour"}, rate_limits_enabled=False
    ) as (_, client):
        assert [(await login(client)).status_code for _ in range(3)] == [401, 401, 401]


async def test_with_the_defaults_the_eleventh_login_in_a_minute_is_refused(
    limit_settings: Settings, running: Running
) -> None:
    # SECURITY.md LG-05: a burst of logins from one address meets 429 with Retry-After.
    async with running(limit_settings) as (_, client):
        statuses = []
        for n in range(12):
            body = {"username": f"user{n}", "password": "wrong password"}
            statuses.append((await client.post("/login", json=body)).status_code)
        assert statuses == [401] * 10 + [429, 429]
