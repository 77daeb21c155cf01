"""Small helpers the API tests share."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

#: A password every policy check accepts; tests that are not about passwords use it.
GOOD_PASSWORD = "correct horse battery staple"


async def register(
    client: httpx.AsyncClient, username: str = "alice", password: str = GOOD_PASSWORD
) -> httpx.Response:
    response = await client.post("/register", json={"username": username, "password": password})
    return response


async def login_token(
    client: httpx.AsyncClient, username: str = "alice", password: str = GOOD_PASSWORD
) -> str:
    response = await client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def run_test_alone(target: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one test in a fresh pytest, without this run's IDGATE_* and CI settings plus ``env``.

    For the tests that prove a missing real component fails CI instead of being skipped.
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("IDGATE_", "CI"))}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", target],
        cwd=Path(__file__).resolve().parents[1],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Wait (5 s at most) until ``predicate()`` holds, e.g. until work reached a thread pool."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")
