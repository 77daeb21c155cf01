"""Requests that need no password hashing are served on the event loop alone.

FastAPI runs every plain ``def`` dependency or endpoint in a worker thread; that round trip cost
more than the rest of a bearer request (bench/). This test fails if one creeps back in.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import login_token, register


async def _no_thread(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a request ran code in FastAPI's thread pool")


async def test_bearer_public_and_discovery_routes_run_no_thread(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(client)
    token = await login_token(client)
    monkeypatch.setattr("fastapi.dependencies.utils.run_in_threadpool", _no_thread)
    monkeypatch.setattr("fastapi.routing.run_in_threadpool", _no_thread)
    answers = [
        await client.get("/profile", headers={"Authorization": f"Bearer {token}"}),
        await client.get("/public"),
        await client.get("/.well-known/jwks.json"),
        await client.get("/health"),
        await client.get("/health/ready"),
    ]
    assert [answer.status_code for answer in answers] == [200] * len(answers)
