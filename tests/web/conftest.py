"""Fixtures for the web tests: the app served as https://testserver with a client that behaves
like a browser (session cookies, CSRF tokens), and apps whose rate-limit and throttle state lives
in process memory or in Redis."""

from __future__ import annotations

import re
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
from tests.helpers import GOOD_PASSWORD

BASE = "https://testserver"
COOKIE = "__Host-idgate-session"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """Return the first CSRF token of a page."""
    match = _TOKEN.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


class Visitor:
    """An httpx client with a cookie jar, speaking to the app like a browser would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @property
    def cookie(self) -> str | None:
        return self.client.cookies.get(COOKIE)

    def use_cookie(self, value: str | None) -> None:
        self.client.cookies.clear()
        if value is not None:
            self.client.cookies.set(COOKIE, value, domain="testserver.local", path="/")

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.client.get(path, headers=HTML, **kwargs)  # type: ignore[arg-type]

    async def post(
        self, path: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {**HTML, "sec-fetch-site": "same-origin", "origin": "null", **(headers or {})}
        return await self.client.post(path, data=data, headers=sent)

    async def token(self, path: str = "/account/login") -> str:
        page = await self.get(path)
        assert page.status_code == 200, page.text
        return csrf_token(page.text)

    async def register(self, username: str = "alice", password: str = GOOD_PASSWORD) -> None:
        token = await self.token("/account/register")
        r = await self.post(
            "/account/register",
            {
                "csrf_token": token,
                "username": username,
                "password": password,
                "password_confirm": password,
            },
        )
        assert r.status_code == 303, r.text

    async def sign_in(self, username: str = "alice", password: str = GOOD_PASSWORD) -> str:
        token = await self.token()
        r = await self.post(
            "/account/login", {"csrf_token": token, "username": username, "password": password}
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/account"
        page = await self.get("/account")
        assert page.status_code == 200
        return csrf_token(page.text)


@pytest.fixture
def https_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"issuer": BASE})


@pytest.fixture
async def https_app(https_settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(https_settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def browser_for(app: FastAPI, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(
        transport=transport,
        base_url=BASE,
        headers={"user-agent": "Mozilla/5.0 (X11; Linux) Firefox/140.0"},
    )


@pytest.fixture
async def visitor(https_app: FastAPI) -> AsyncIterator[Visitor]:
    async with browser_for(https_app) as client:
        yield Visitor(client)


@pytest.fixture
async def second_visitor(https_app: FastAPI) -> AsyncIterator[Visitor]:
    async with browser_for(https_app, ip="198.51.100.20") as client:
        yield Visitor(client)


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
