"""The posts example in process, next to a live idgate app: the rules the walkthrough does not
reach (a moderator role, expired tokens, bad input, unknown posts, configuration)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from examples.posts.app import create_app, from_env
from fastapi import FastAPI

from idgate.core.clock import FixedClock
from tests.guard.conftest import GuardFactory, introspection_key
from tests.web.authz_helpers import login, make_role, make_user


@pytest.fixture
async def posts(
    app: FastAPI, make_guard: GuardFactory, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    guard = make_guard(api_key=await introspection_key(app), realm="posts")
    api = create_app(guard, f"sqlite+aiosqlite:///{tmp_path / 'posts.db'}")
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://posts.test") as c:
            yield c


async def test_a_moderator_deletes_with_the_permission_but_edits_nothing(
    app: FastAPI, client: httpx.AsyncClient, posts: httpx.AsyncClient
) -> None:
    await make_user(app, "alice")
    await make_role(app, "moderator", ["posts:delete"])
    await make_user(app, "mod", "moderator")
    alice, mod = await login(client, "alice"), await login(client, "mod")
    r = await posts.post("/posts", json={"title": "t", "body": "b"}, headers=alice)
    assert r.status_code == 201, r.text
    post = r.json()["id"]
    r = await posts.patch(f"/posts/{post}", json={"body": "x"}, headers=mod)
    assert r.status_code == 403
    assert r.json() == {"code": "permission_denied", "detail": "Only the owner may do this."}
    assert (await posts.delete(f"/posts/{post}", headers=mod)).status_code == 204
    assert (await posts.get(f"/posts/{post}")).status_code == 404


async def test_bad_input_unknown_posts_and_expired_tokens(
    app: FastAPI, client: httpx.AsyncClient, posts: httpx.AsyncClient, clock: FixedClock
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    for body in ({"title": "", "body": "b"}, {"title": "t"}, {"title": "t", "body": "x" * 10_001}):
        assert (await posts.post("/posts", json=body, headers=alice)).status_code == 422
    assert (await posts.get("/posts/999")).status_code == 404
    assert (await posts.patch("/posts/999", json={"body": "x"}, headers=alice)).status_code == 404
    assert (await posts.get("/whoami")).json() == {"kind": None}
    clock.advance(timedelta(minutes=16))
    r = await posts.post("/posts", json={"title": "t", "body": "b"}, headers=alice)
    assert r.status_code == 401 and r.json()["detail"] == "The access token has expired."
    assert r.headers["www-authenticate"].startswith('Bearer realm="posts", error="invalid_token"')


def test_the_service_needs_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTS_IDGATE_API_KEY", raising=False)
    with pytest.raises(SystemExit, match="POSTS_IDGATE_API_KEY"):
        from_env()


async def test_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, app: FastAPI
) -> None:
    monkeypatch.setenv("POSTS_IDGATE_API_KEY", await introspection_key(app))
    monkeypatch.setenv("POSTS_IDGATE_ISSUER", "https://id.example.com")
    monkeypatch.setenv("POSTS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    api = from_env()
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://posts.test") as c:
            assert (await c.get("/posts")).json() == []


async def test_the_api_docs_show_both_credentials(posts: httpx.AsyncClient) -> None:
    schema = (await posts.get("/openapi.json")).json()
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    # Public routes ask for nothing; guarded ones declare the credentials.
    assert "security" not in schema["paths"]["/posts"]["get"]
    assert schema["paths"]["/posts"]["post"]["security"]
