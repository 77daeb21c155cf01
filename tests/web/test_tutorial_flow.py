"""The classic tutorial's flow, unchanged, against idgate (DESIGN.md "Compatibility promise")."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery staple"


async def test_register_login_profile_public(client: httpx.AsyncClient) -> None:
    r = await client.post("/register", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 201
    assert r.json()["username"] == "alice"

    r = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    token = body["access_token"]

    r = await client.get("/profile", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["username"] == "alice"

    r = await client.get("/profile")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")

    r = await client.get("/profile", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]

    r = await client.get("/public")
    assert r.status_code == 200


async def test_a_common_password_is_refused_with_the_reason(client: httpx.AsyncClient) -> None:
    r = await client.post("/register", json={"username": "bob", "password": "password123"})
    assert r.status_code == 422
    assert r.json()["code"] == "weak_password"
    assert "at least 15 characters" in r.json()["detail"]
    r = await client.post("/register", json={"username": "bob", "password": "1234567890123456"})
    assert r.status_code == 422
    assert "too easy to guess" in r.json()["detail"]
