"""Fixtures for the brute-force tests: shared state in process memory or in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock

Running = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limit_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """``settings`` with rate-limit and throttle state in memory, or in the test Redis."""
    if request.param == "memory":
        return settings
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_prefix")
    return settings.model_copy(update={"redis_url": SecretStr(url), "redis_prefix": prefix})


@pytest.fixture
def running(clock: FixedClock) -> Running:
    """``async with running(settings, **overrides) as (app, client)``: an app with a client."""

    @asynccontextmanager
    async def run(
        settings: Settings, peer: str = "203.0.113.7", **overrides: Any
    ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        app = create_app(settings.model_copy(update=overrides), clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(peer, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield app, c

    return run
