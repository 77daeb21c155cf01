"""Browser sessions kept in Redis (IDGATE_SESSION_STORE=redis): the same behaviour, shared by
every instance."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from tests.web.conftest import Visitor, browser_for

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_app(
    https_settings: Settings, clock: FixedClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[FastAPI]:
    settings = https_settings.model_copy(
        update={
            "redis_url": SecretStr(redis_url),
            "redis_prefix": redis_prefix,
            "session_store": "redis",
        }
    )
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def test_sessions_live_in_redis_and_logout_is_seen_by_every_instance(
    redis_app: FastAPI,
    https_settings: Settings,
    clock: FixedClock,
    redis_url: str,
    redis_prefix: str,
) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    # A second instance of the same deployment: same database, same Redis.
    twin = create_app(redis_app.state.services.settings, clock=clock)
    try:
        async with (
            twin.router.lifespan_context(twin),
            browser_for(redis_app) as one,
            browser_for(twin) as other,
        ):
            visitor = Visitor(one)
            await visitor.register()
            token = await visitor.sign_in()
            keys = [k.decode() async for k in client.scan_iter(match=f"{redis_prefix}session:*")]
            assert len(keys) == 1  # the pre-session was replaced by the signed-in one
            other.cookies.update(one.cookies)
            assert (await other.get("/profile")).status_code == 200
            page = await visitor.get("/account")
            assert page.text.count('<li class="session') == 1

            r = await visitor.post("/account/logout", {"csrf_token": token})
            assert r.status_code == 303
            assert [k async for k in client.scan_iter(match=f"{redis_prefix}session:*")] == []
            assert (await other.get("/profile")).status_code == 401
    finally:
        await client.aclose()


async def test_password_change_with_redis_sessions(redis_app: FastAPI) -> None:
    async with browser_for(redis_app) as one, browser_for(redis_app) as two:
        first, second = Visitor(one), Visitor(two)
        await first.register()
        token = await first.sign_in()
        await second.sign_in()
        new = "a much better passphrase indeed"
        r = await first.post(
            "/account/password",
            {
                "csrf_token": token,
                "current_password": "correct horse battery staple",
                "new_password": new,
                "new_password_confirm": new,
            },
        )
        assert r.status_code == 303
        assert (await one.get("/profile")).status_code == 200
        assert (await two.get("/profile")).status_code == 401
