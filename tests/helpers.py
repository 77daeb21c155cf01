"""Small helpers the API tests share."""

from __future__ import annotations

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
