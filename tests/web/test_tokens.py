"""Refresh, logout and logout-everywhere over HTTP, on SQLite and PostgreSQL (and Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.admin import Actor
from idgate.core.clock import FixedClock
from idgate.core.models import SYSTEM_ORIGIN
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    r = await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD, **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str, **extra: Any) -> httpx.Response:
    return await client.post("/token/refresh", json={"refresh_token": token, **extra})


async def profile_status(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get("/profile", headers=bearer(access_token))).status_code


async def audit_types(app: FastAPI) -> list[tuple[str, str | None]]:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        return [(e.type, e.reason) for e in reversed(await uow.audit.list())]


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, Any]:
    assert (await register(client)).status_code == 201
    return await login(client)


async def test_login_returns_an_opaque_refresh_token(alice: dict[str, Any]) -> None:
    assert alice["token_type"] == "bearer" and alice["expires_in"] == 900
    assert alice["refresh_expires_in"] == 14 * 24 * 3600
    refresh_token = alice["refresh_token"]
    assert len(refresh_token) >= 43 and "." not in refresh_token
    claims = jwt.decode(alice["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "idgate" and claims["sid"]


async def test_refresh_rotates(
    client: httpx.AsyncClient, alice: dict[str, Any], clock: FixedClock, app: FastAPI
) -> None:
    clock.advance(timedelta(minutes=10))
    r = await refresh(client, alice["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["refresh_token"] != alice["refresh_token"]
    assert await profile_status(client, second["access_token"]) == 200
    old = jwt.decode(alice["access_token"], options={"verify_signature": False})
    new = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert new["sid"] == old["sid"] and new["jti"] != old["jti"]
    assert ("token.refreshed", None) in await audit_types(app)


async def test_reuse_revokes_the_whole_family(
    client: httpx.AsyncClient, alice: dict[str, Any], clock: FixedClock, app: FastAPI
) -> None:
    other_session = await login(client)
    second = (await refresh(client, alice["refresh_token"])).json()
    clock.advance(timedelta(seconds=30))  # past the grace: this is reuse, not a race
    r = await refresh(client, alice["refresh_token"])
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_grant" and "already used" in r.json()["detail"]
    # Every refresh token and every still-valid access token of the family is dead (RT-03) ...
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    assert await profile_status(client, second["access_token"]) == 401
    assert await profile_status(client, alice["access_token"]) == 401
    # ... and only of that family.
    assert await profile_status(client, other_session["access_token"]) == 200
    assert (await refresh(client, other_session["refresh_token"])).status_code == 200
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        (event,) = await uow.audit.list(types=["refresh.reuse_detected"])
    assert event.outcome == "failure" and event.ip == "203.0.113.7" and event.request_id
    assert event.subject_id is not None and event.details["client_id"] == "idgate"


async def test_token_kinds_are_not_interchangeable(
    client: httpx.AsyncClient, alice: dict[str, Any]
) -> None:
    # JW-08: a refresh token is no access token, and an access token refreshes nothing.
    r = await client.get("/profile", headers=bearer(alice["refresh_token"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = await refresh(client, alice["access_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    assert (await refresh(client, alice["refresh_token"])).status_code == 200


async def test_bound_to_the_client(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    mobile = await login(client, client_id="mobile-app")
    claims = jwt.decode(mobile["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "mobile-app"
    r = await refresh(client, mobile["refresh_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    r = await refresh(client, alice["refresh_token"], client_id="mobile-app")
    assert r.status_code == 401
    assert (
        await refresh(client, mobile["refresh_token"], client_id="mobile-app")
    ).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"refresh_token": 12}, 422, "validation_error"),
        ({"refresh_token": ""}, 422, "validation_error"),
        ({"refresh_token": "x" * 9000}, 422, "validation_error"),
        ({"refresh_token": "x" * 5000}, 401, "invalid_grant"),
        ({"refresh_token": "abc", "client_id": "a b"}, 422, "validation_error"),
        ({"refresh_token": "not-a-token"}, 401, "invalid_grant"),
    ],
)
async def test_bad_refresh_requests(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    r = await client.post("/token/refresh", json=body)
    assert r.status_code == status and r.json()["code"] == code
    r = await client.post("/token/refresh", content=b"refresh_token=x")
    assert r.status_code == 415


async def test_idle_and_absolute_expiry(
    client: httpx.AsyncClient, alice: dict[str, Any], clock: FixedClock
) -> None:
    token = alice["refresh_token"]
    for _ in range(2):  # 2 x 13 days of activity: each refresh is within the idle limit
        clock.advance(timedelta(days=13))
        r = await refresh(client, token)
        assert r.status_code == 200, r.text
        token = r.json()["refresh_token"]
    # The last token's lifetime is capped by the login's absolute limit (4 days left).
    assert r.json()["refresh_expires_in"] == 4 * 24 * 3600
    clock.advance(timedelta(days=4))
    # 30 days after the login: past the absolute limit despite the activity.
    r = await refresh(client, token)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    fresh = await login(client)
    clock.advance(timedelta(days=14))
    r = await refresh(client, fresh["refresh_token"])
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_logout_revokes_a_still_valid_access_token_at_once(
    client: httpx.AsyncClient, alice: dict[str, Any], clock: FixedClock, app: FastAPI
) -> None:
    other_session = await login(client)
    clock.advance(timedelta(minutes=1))
    r = await client.post("/logout", headers=bearer(alice["access_token"]))
    assert r.status_code == 204, r.text
    # Not expired (14 minutes left), yet refused from now on; its refresh token too.
    r = await client.get("/profile", headers=bearer(alice["access_token"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert (await refresh(client, alice["refresh_token"])).status_code == 401
    # A second logout with the same token is refused: it is no credential any more.
    assert (await client.post("/logout", headers=bearer(alice["access_token"]))).status_code == 401
    # The other session is untouched.
    assert await profile_status(client, other_session["access_token"]) == 200
    assert ("logout", None) in await audit_types(app)


async def test_logout_with_the_refresh_token_when_the_access_token_expired(
    client: httpx.AsyncClient, alice: dict[str, Any], clock: FixedClock
) -> None:
    second = (await refresh(client, alice["refresh_token"])).json()
    clock.advance(timedelta(minutes=20))
    assert await profile_status(client, second["access_token"]) == 401  # expired
    # Clients often send their (expired) access token along: the refresh token still counts.
    r = await client.post(
        "/logout",
        json={"refresh_token": second["refresh_token"]},
        headers=bearer(second["access_token"]),
    )
    assert r.status_code == 204
    assert (await refresh(client, second["refresh_token"])).status_code == 401
    other = await login(client)
    r = await client.post("/logout", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 204
    assert (await refresh(client, other["refresh_token"])).status_code == 401
    # Unknown refresh tokens end nothing and reveal nothing.
    assert (await client.post("/logout", json={"refresh_token": "unknown"})).status_code == 204


async def test_logout_refusals(client: httpx.AsyncClient, alice: dict[str, Any]) -> None:
    r = await client.post("/logout")
    assert r.status_code == 401
    r = await client.post("/logout", headers=bearer("garbage"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = await client.post(
        "/logout",
        content=b"refresh_token=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    # Another user's refresh token cannot be ended with my access token.
    await register(client, "bob")
    bob = (await client.post("/login", json={"username": "bob", "password": GOOD_PASSWORD})).json()
    r = await client.post(
        "/logout",
        json={"refresh_token": bob["refresh_token"]},
        headers=bearer(alice["access_token"]),
    )
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    assert await profile_status(client, alice["access_token"]) == 200
    assert (await refresh(client, bob["refresh_token"])).status_code == 200


async def test_logout_everywhere(
    client: httpx.AsyncClient, alice: dict[str, Any], app: FastAPI
) -> None:
    sessions = [alice, await login(client), await login(client, client_id="cli")]
    r = await client.post("/logout/all", headers=bearer(sessions[1]["access_token"]))
    assert r.status_code == 204
    for session in sessions:
        assert await profile_status(client, session["access_token"]) == 401
    assert (await refresh(client, sessions[0]["refresh_token"])).status_code == 401
    assert (await refresh(client, sessions[2]["refresh_token"], client_id="cli")).status_code == 401
    # Logging in again works at once, even within the same second.
    again = await login(client)
    assert await profile_status(client, again["access_token"]) == 200
    assert ("logout.all", "logout_all") in await audit_types(app)
    assert (await client.post("/logout/all")).status_code == 401


async def test_a_disabled_user_loses_every_token_at_once(
    client: httpx.AsyncClient, alice: dict[str, Any], app: FastAPI, clock: FixedClock
) -> None:
    services: Services = app.state.services
    operator = Actor(None, SYSTEM_ORIGIN)
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("alice")
        assert user is not None
        await services.admin.set_disabled(uow, operator, user.id, True)
        await uow.commit()
    assert await profile_status(client, alice["access_token"]) == 401
    r = await refresh(client, alice["refresh_token"])
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    # Enabled again, the account logs in afresh; its old session does not come back.
    async with services.uow_factory() as uow:
        await services.admin.set_disabled(uow, operator, user.id, False)
        await uow.commit()
    assert await profile_status(client, alice["access_token"]) == 401
    assert (await refresh(client, alice["refresh_token"])).status_code == 401
    clock.advance(seconds=1)  # disabling revoked everything up to the next whole second
    fresh = await login(client)
    assert await profile_status(client, fresh["access_token"]) == 200
    assert (await refresh(client, fresh["refresh_token"])).status_code == 200


async def test_an_administrators_revoke_ends_refresh_sessions_too(
    client: httpx.AsyncClient, alice: dict[str, Any], app: FastAPI, clock: FixedClock
) -> None:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("alice")
        assert user is not None
        await services.admin.revoke_credentials(uow, Actor(None, SYSTEM_ORIGIN), user.id)
        await uow.commit()
    assert await profile_status(client, alice["access_token"]) == 401
    r = await refresh(client, alice["refresh_token"])
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    clock.advance(seconds=1)
    assert (await refresh(client, (await login(client))["refresh_token"])).status_code == 200


# --- the deny-list in Redis ------------------------------------------------------------------


@pytest.fixture
async def redis_client(
    settings: Settings, clock: FixedClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={
            "redis_url": SecretStr(redis_url),
            "redis_prefix": redis_prefix,
            "revocation_store": "redis",
        }
    )
    application = create_app(configured, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.mark.redis
async def test_the_deny_list_in_redis(
    redis_client: httpx.AsyncClient, redis_url: str, redis_prefix: str, clock: FixedClock
) -> None:
    client = redis_client
    await register(client)
    one, two = await login(client), await login(client)
    assert (await client.post("/logout", headers=bearer(one["access_token"]))).status_code == 204
    assert await profile_status(client, one["access_token"]) == 401
    assert await profile_status(client, two["access_token"]) == 200
    second = (await refresh(client, two["refresh_token"])).json()
    clock.advance(timedelta(seconds=30))
    assert (await refresh(client, two["refresh_token"])).status_code == 401  # reuse
    assert await profile_status(client, second["access_token"]) == 401
    import redis

    plain = redis.Redis.from_url(redis_url)
    try:
        keys = list(plain.scan_iter(match=redis_prefix + "revoked:*"))
    finally:
        plain.close()
    # one: its access token; two: both access tokens of the family.
    assert len(keys) == 3


async def test_an_unreachable_redis_deny_list_fails_closed(
    client: httpx.AsyncClient, alice: dict[str, Any], settings: Settings, clock: FixedClock
) -> None:
    # The same deployment, restarted with a Redis that does not answer.
    unreachable = {"redis_url": SecretStr("redis://127.0.0.1:1/0"), "redis_prefix": "x:"}
    for store, expected in (("redis", 503), ("database", 200)):
        configured = settings.model_copy(update={**unreachable, "revocation_store": store})
        application = create_app(configured, clock=clock)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                r = await c.get("/profile", headers=bearer(alice["access_token"]))
        # With the deny-list in Redis it cannot be asked, so no bearer token is accepted: 503,
        # not 200. With it in the database (the default) a bearer check needs no Redis.
        assert r.status_code == expected, (store, r.text)
        if expected == 503:
            assert r.json()["code"] == "unavailable"
            assert "revocation list" in r.json()["detail"] and "retry-after" in r.headers
    assert await profile_status(client, alice["access_token"]) == 200


async def test_refresh_tokens_are_stored_hashed_and_never_logged(
    client: httpx.AsyncClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import hashlib
    import logging

    from sqlalchemy import text

    from idgate.logs import json_formatter
    from idgate.store.db import create_engine

    with caplog.at_level(logging.DEBUG):
        await register(client)
        first = await login(client)
        second = (await refresh(client, first["refresh_token"])).json()
        await refresh(client, first["refresh_token"])  # a lost race, audited
        await client.post("/logout", json={"refresh_token": second["refresh_token"]})
    formatter = json_formatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as connection:
            hashes = set(
                (await connection.execute(text("SELECT token_hash FROM refresh_tokens"))).scalars()
            )
            rows: list[str] = []
            for table in ("refresh_tokens", "refresh_families", "audit_events", "revoked_tokens"):
                result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
                rows += [str(row) for row in result]
            dump = "\n".join(rows)
    finally:
        await engine.dispose()
    for token in (first["refresh_token"], second["refresh_token"]):
        assert hashlib.sha256(token.encode()).hexdigest() in hashes  # RT-01: only the hash
        assert token not in dump
        assert token not in logged  # AU-02


async def test_refreshes_are_rate_limited_per_account(
    settings: Settings, clock: FixedClock
) -> None:
    limited = settings.model_copy(
        update={"rate_limits": {"refresh.account": "2/minute", "refresh.ip": "off"}}
    )
    application = create_app(limited, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await register(c)
            await register(c, "bob")
            token = (await login(c))["refresh_token"]
            for _ in range(2):
                r = await refresh(c, token)
                assert r.status_code == 200 and r.headers["ratelimit-limit"] == "2"
                token = r.json()["refresh_token"]
            r = await refresh(c, token)
            assert r.status_code == 429 and "retry-after" in r.headers
            # Another account is not affected; unknown tokens count against no account.
            bob = await c.post("/login", json={"username": "bob", "password": GOOD_PASSWORD})
            assert (await refresh(c, bob.json()["refresh_token"])).status_code == 200
            assert (await refresh(c, "unknown")).status_code == 401
    # The refused request rotated nothing: elsewhere (here: a fresh instance), the token works.
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            assert (await refresh(c, token)).status_code == 200
