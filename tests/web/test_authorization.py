"""The authorization dependencies, used the way an application would: a small posts API
mounted on idgate, protected by require_permission, require_role, require_scope and the
ownership rule."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException

from idgate.core.principal import Principal
from idgate.core.rbac import claims_authority
from idgate.web.authorization import (
    AuthorizationDep,
    require_permission,
    require_role,
    require_scope,
)
from tests.web.authz_helpers import (
    audit_events,
    login,
    make_role,
    make_user,
    services_of,
    set_role,
)


@dataclass
class Post:
    id: int
    author_id: str


# A principal allowed to create posts, as an application would declare it once.
PostAuthor = Annotated[Principal, Depends(require_permission("posts:create"))]


def posts_router(posts: dict[int, Post]) -> APIRouter:
    router = APIRouter()

    @router.get("/reports", dependencies=[Depends(require_permission("reports:read"))])
    async def reports() -> dict[str, str]:
        return {"report": "ok"}

    @router.get("/stats", dependencies=[Depends(require_role("admin"))])
    async def stats() -> dict[str, int]:
        return {"posts": len(posts)}

    @router.get("/scoped", dependencies=[Depends(require_scope("reports:read"))])
    async def scoped() -> dict[str, str]:
        return {"scoped": "ok"}

    @router.post("/posts/{post_id}", status_code=201)
    async def create(post_id: int, principal: PostAuthor) -> dict[str, int]:
        posts[post_id] = Post(post_id, principal.subject)
        return {"id": post_id}

    @router.delete("/posts/{post_id}", status_code=204)
    async def delete(post_id: int, authz: AuthorizationDep) -> None:
        post = posts.get(post_id)
        if post is None:
            raise HTTPException(404, "No such post.")
        await authz.require_owner_or(post.author_id, "posts:delete")
        del posts[post_id]

    return router


@pytest.fixture
def posts(app: FastAPI) -> dict[int, Post]:
    store: dict[int, Post] = {}
    app.include_router(posts_router(store))
    return store


async def test_unauthenticated_is_401_and_forbidden_is_403(
    app: FastAPI, client: httpx.AsyncClient, posts: dict[int, Post]
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    for path in ("/reports", "/stats", "/scoped"):
        r = await client.get(path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        r = await client.get(path, headers=alice)
        assert r.status_code == 403 and r.json()["code"] == "permission_denied", path
    denied = await audit_events(app, "access.denied")
    assert [(e.reason, e.details["path"]) for e in denied] == [
        ("missing_permission", "/reports"),
        ("missing_role", "/stats"),
        ("missing_scope", "/scoped"),
    ]
    assert all(e.actor_id is not None and e.outcome == "failure" for e in denied)


async def test_an_admin_only_route_refuses_a_normal_user_and_ignores_spoofed_headers(
    app: FastAPI, client: httpx.AsyncClient, posts: dict[int, Post]
) -> None:
    await make_user(app, "root", "admin")
    user = await make_user(app, "alice")
    alice = await login(client, "alice")
    spoofed = {**alice, "X-Role": "admin", "X-User-Id": str(user.id), "X-Roles": "admin"}
    assert (await client.get("/stats", headers=spoofed)).status_code == 403
    assert (await client.get("/stats", headers=await login(client, "root"))).status_code == 200


async def test_permissions_come_from_roles_and_patterns(
    app: FastAPI, client: httpx.AsyncClient, posts: dict[int, Post]
) -> None:
    await make_role(app, "analyst", ["reports:*"])
    await make_user(app, "ann", "analyst")
    ann = await login(client, "ann")
    assert (await client.get("/reports", headers=ann)).status_code == 200
    # A bearer token from /login carries no scope, so a scope-only route still refuses it.
    assert (await client.get("/scoped", headers=ann)).status_code == 403
    # The admin role holds '*'.
    await make_user(app, "root", "admin")
    assert (await client.get("/reports", headers=await login(client, "root"))).status_code == 200


async def test_ownership_a_user_cannot_act_on_another_users_post(
    app: FastAPI, client: httpx.AsyncClient, posts: dict[int, Post]
) -> None:
    await make_role(app, "author", ["posts:create"])
    await make_role(app, "moderator", ["posts:delete"])
    await make_user(app, "alice", "author")
    await make_user(app, "bob", "author")
    await make_user(app, "mod", "moderator")
    alice, bob, mod = (
        await login(client, "alice"),
        await login(client, "bob"),
        await login(client, "mod"),
    )
    assert (await client.post("/posts/1", headers=alice)).status_code == 201
    assert (await client.post("/posts/2", headers=bob)).status_code == 201
    r = await client.delete("/posts/2", headers=alice)  # bob's post
    assert r.status_code == 403 and 2 in posts
    assert (await client.delete("/posts/1", headers=alice)).status_code == 204  # her own
    assert (await client.delete("/posts/2", headers=mod)).status_code == 204  # a moderator
    assert posts == {}
    (denied,) = await audit_events(app, "access.denied")
    assert denied.reason == "not_owner" and denied.details["permission"] == "posts:delete"


async def test_a_demotion_takes_effect_on_the_next_request(
    app: FastAPI, client: httpx.AsyncClient, posts: dict[int, Post]
) -> None:
    await make_user(app, "root", "admin")
    user = await make_user(app, "boss", "admin")
    boss = await login(client, "boss")
    assert (await client.get("/stats", headers=boss)).status_code == 200
    assert (await client.get("/admin/users", headers=boss)).status_code == 200
    await set_role(app, user.id, "admin", held=False)
    # Same, still unexpired token: idgate reads roles from the database on every request.
    assert (await client.get("/stats", headers=boss)).status_code == 403
    assert (await client.get("/admin/users", headers=boss)).status_code == 403


async def test_access_tokens_carry_roles_and_permissions_for_resource_servers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await make_role(app, "editor", ["posts:*", "reports:read"])
    await make_user(app, "eve", "editor")
    token = (await login(client, "eve"))["Authorization"].split()[1]
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["roles"] == ["editor", "user"]
    assert payload["permissions"] == ["posts:*", "reports:read"]
    assert payload["aud"] == "idgate"  # JW-07: a restrictive audience
    # What a resource server does offline, from the verified claims alone:
    claims = services_of(app).access_tokens.verify(token)
    authority = claims_authority(claims)
    assert authority.allows("posts:delete") and authority.allows("reports:read")
    assert not authority.allows("reports:write")


async def test_every_protected_idgate_route_needs_authentication(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    public = {
        "/register",
        "/login",
        "/token/refresh",  # its credential is the refresh token in the body
        "/public",
        "/health",
        "/health/ready",
        "/",
        "/.well-known/jwks.json",
        "/docs",
        "/redoc",
        "/openapi.json",
        "/docs/oauth2-redirect",
    }
    checked = 0
    # Enumerated from the OpenAPI document, as an outside tester would (AZ-01).
    for path, operations in app.openapi()["paths"].items():
        methods = {m.upper() for m in operations}
        if path in public:
            continue
        concrete = path.replace("{user_id}", str(uuid.uuid4())).replace(
            "{account_id}", str(uuid.uuid4())
        )
        concrete = concrete.replace("{key_id}", str(uuid.uuid4())).replace("{name}", "user")
        concrete = concrete.replace("{role}", "admin").replace("{permission}", "posts:read")
        for method in methods - {"HEAD", "OPTIONS"}:
            r = await client.request(method, concrete, json={}, headers={"X-Role": "admin"})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 25
