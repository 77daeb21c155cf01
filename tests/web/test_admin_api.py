"""The admin API: admins only, every action audited, privilege changes re-authenticated, and
disabling or deleting an account ends everything it held (AZ-02, AZ-05, SS-08, AU-01, AU-04)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from idgate.core.clock import FixedClock
from idgate.core.errors import InvalidToken
from tests.helpers import GOOD_PASSWORD
from tests.web.authz_helpers import api_key, audit_events, login, make_role, make_user

CONFIRM = {"current_password": GOOD_PASSWORD}


@pytest.fixture
async def root(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await make_user(app, "root", "admin")
    return await login(client, "root")


async def user_id(client: httpx.AsyncClient, who: dict[str, str]) -> str:
    uid: str = (await client.get("/profile", headers=who)).json()["id"]
    return uid


async def test_every_admin_route_refuses_users_and_api_keys(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    await make_role(app, "keys", ["apikeys:*", "admin:*"])
    await make_user(app, "alice", "keys")
    alice = await login(client, "alice")
    account = (await client.post("/service-accounts", json={"name": "ci"}, headers=alice)).json()
    created = await client.post(
        f"/service-accounts/{account['id']}/api-keys", json={"scopes": ["admin:*"]}, headers=alice
    )
    key = api_key(created.json()["api_key"])
    target = await user_id(client, alice)
    routes = [
        (path, method.upper())
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/admin/")
        for method in operations
    ]
    assert len(routes) >= 13
    for path, method in routes:
        concrete = (
            path.replace("{user_id}", target)
            .replace("{role}", "admin")
            .replace("{name}", "keys")
            .replace("{permission}", "x:y")
        )
        for who in (alice, key):
            r = await client.request(method, concrete, json=CONFIRM, headers=who)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
    # Nothing changed: alice is still a plain user.
    r = await client.get(f"/admin/users/{target}", headers=root)
    assert r.json()["roles"] == ["keys", "user"] and not r.json()["disabled"]


async def test_list_search_and_paginate(
    client: httpx.AsyncClient, app: FastAPI, root: dict[str, str], clock: FixedClock
) -> None:
    for name in ("alice", "alfred", "bob", "al_x", "alxy"):
        clock.advance(seconds=1)
        await make_user(app, name)
    r = await client.get("/admin/users", params={"q": "AL", "limit": 2}, headers=root)
    body = r.json()
    assert r.status_code == 200 and body["total"] == 4 and body["limit"] == 2
    assert [u["username"] for u in body["items"]] == ["alice", "alfred"]
    r = await client.get("/admin/users", params={"q": "al", "offset": 2}, headers=root)
    assert [u["username"] for u in r.json()["items"]] == ["al_x", "alxy"]
    # LIKE wildcards in the query are literal characters.
    for q, expected in (("_", ["al_x"]), ("%", []), ("l_x", ["al_x"])):
        r = await client.get("/admin/users", params={"q": q}, headers=root)
        assert [u["username"] for u in r.json()["items"]] == expected
    r = await client.get("/admin/users", headers=root)
    assert r.json()["total"] == 6
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"q": "x" * 200}):
        assert (await client.get("/admin/users", params=params, headers=root)).status_code == 422
    assert (await client.get("/admin/users/not-a-uuid", headers=root)).status_code == 422
    r = await client.get("/admin/users/00000000-0000-4000-8000-000000000000", headers=root)
    assert r.status_code == 404


async def test_disable_ends_tokens_and_keys_at_once_and_enable_restores_login(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str], clock: FixedClock
) -> None:
    await make_role(app, "svc", ["apikeys:read"])
    await make_user(app, "bob", "svc")
    bob = await login(client, "bob")
    bob_id = await user_id(client, bob)
    account = (await client.post("/service-accounts", json={"name": "ci"}, headers=bob)).json()
    key = (
        await client.post(
            f"/service-accounts/{account['id']}/api-keys",
            json={"scopes": ["apikeys:read"]},
            headers=bob,
        )
    ).json()["api_key"]
    keys_url = f"/service-accounts/{account['id']}/api-keys"
    assert (await client.get(keys_url, headers=api_key(key))).status_code == 200
    r = await client.post(f"/admin/users/{bob_id}/disable", headers=root)
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert (await client.get("/profile", headers=bob)).status_code == 401
    assert (await client.get(keys_url, headers=api_key(key))).status_code == 401
    r = await client.post("/login", json={"username": "bob", "password": GOOD_PASSWORD})
    assert r.status_code == 401
    clock.advance(seconds=2)
    r = await client.post(f"/admin/users/{bob_id}/enable", headers=root)
    assert r.status_code == 200 and r.json()["disabled"] is False
    # Enabling again does not bring back what disabling ended.
    assert (await client.get("/profile", headers=bob)).status_code == 401
    assert (await client.get(keys_url, headers=api_key(key))).status_code == 401
    assert (await client.get("/profile", headers=await login(client, "bob"))).status_code == 200
    events = await audit_events(app, "user.disabled", "user.enabled")
    root_id = await user_id(client, root)
    assert [(e.type, str(e.actor_id), str(e.subject_id)) for e in events] == [
        ("user.disabled", root_id, bob_id),
        ("user.enabled", root_id, bob_id),
    ]
    assert events[0].ip == "203.0.113.7" and events[0].details == {"api_keys_revoked": 1}


async def test_delete_removes_the_account_and_what_it_owned(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    await make_user(app, "bob")
    bob = await login(client, "bob")
    bob_id = await user_id(client, bob)
    account = (await client.post("/service-accounts", json={"name": "ci"}, headers=bob)).json()
    key = (
        await client.post(f"/service-accounts/{account['id']}/api-keys", json={}, headers=bob)
    ).json()
    r = await client.delete(f"/admin/users/{bob_id}", headers=root)
    assert r.status_code == 204
    assert (await client.get("/profile", headers=bob)).status_code == 401
    assert (await client.get(f"/admin/users/{bob_id}", headers=root)).status_code == 404
    assert (await client.get(f"/service-accounts/{account['id']}", headers=root)).status_code == 404
    assert (await client.get(f"/api-keys/{key['key']['id']}", headers=root)).status_code == 404
    r = await client.get("/profile", headers=api_key(key["api_key"]))
    assert r.status_code == 401
    (event,) = await audit_events(app, "user.deleted")
    assert str(event.subject_id) == bob_id and event.details["username"] == "bob"
    # The username is free again.
    await make_user(app, "bob")


async def test_role_changes_need_the_current_password_and_are_audited(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    alice_id = await user_id(client, alice)
    url = f"/admin/users/{alice_id}/roles/admin"
    assert (await client.put(url, headers=root)).status_code == 415
    r = await client.put(url, json={}, headers=root)
    assert r.status_code == 422
    r = await client.put(url, json={"current_password": "wrong password entirely"}, headers=root)
    assert r.status_code == 403 and r.json()["code"] == "current_password_incorrect"
    assert (await client.get("/admin/users", headers=alice)).status_code == 403
    r = await client.put(url, json=CONFIRM, headers=root)
    assert r.status_code == 200 and r.json()["roles"] == ["admin", "user"]
    # Alice's existing token works for admin routes at once: roles are read per request.
    assert (await client.get("/admin/users", headers=alice)).status_code == 200
    r = await client.request("DELETE", url, json=CONFIRM, headers=root)
    assert r.status_code == 200 and r.json()["roles"] == ["user"]
    assert (await client.get("/admin/users", headers=alice)).status_code == 403
    r = await client.put(f"/admin/users/{alice_id}/roles/nope", json=CONFIRM, headers=root)
    assert r.status_code == 404
    r = await client.request("DELETE", url, json=CONFIRM, headers=root)
    assert r.status_code == 404
    events = await audit_events(
        app, "role.granted", "role.revoked", "reauthentication.failed", "access.denied"
    )
    assert [(e.type, e.outcome) for e in events] == [
        ("reauthentication.failed", "failure"),
        ("access.denied", "failure"),
        ("role.granted", "success"),
        ("role.revoked", "success"),
        ("access.denied", "failure"),
    ]


async def test_the_last_admin_and_self_administration_are_guarded(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    root_id = await user_id(client, root)
    r = await client.post(f"/admin/users/{root_id}/disable", headers=root)
    assert r.status_code == 409 and r.json()["code"] == "self_administration"
    assert (await client.delete(f"/admin/users/{root_id}", headers=root)).status_code == 409
    r = await client.request(
        "DELETE", f"/admin/users/{root_id}/roles/admin", json=CONFIRM, headers=root
    )
    assert r.status_code == 409 and r.json()["code"] == "last_admin"


async def test_revoke_a_users_sessions_and_tokens(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str], clock: FixedClock
) -> None:
    await make_role(app, "svc", ["apikeys:read"])
    await make_user(app, "bob", "svc")
    bob = await login(client, "bob")
    bob_id = await user_id(client, bob)
    account = (await client.post("/service-accounts", json={"name": "ci"}, headers=bob)).json()
    key = api_key(
        (
            await client.post(
                f"/service-accounts/{account['id']}/api-keys",
                json={"scopes": ["apikeys:read"]},
                headers=bob,
            )
        ).json()["api_key"]
    )
    keys_url = f"/service-accounts/{account['id']}/api-keys"
    r = await client.post(f"/admin/users/{bob_id}/revoke", json={}, headers=root)
    assert r.status_code == 200 and r.json()["revoked_before"]
    assert (await client.get("/profile", headers=bob)).status_code == 401
    assert (await client.get(keys_url, headers=key)).status_code == 200  # keys kept by default
    clock.advance(seconds=2)
    bob = await login(client, "bob")
    assert (await client.get("/profile", headers=bob)).status_code == 200
    r = await client.post(
        f"/admin/users/{bob_id}/revoke", json={"include_api_keys": True}, headers=root
    )
    assert r.status_code == 200
    assert (await client.get(keys_url, headers=key)).status_code == 401
    events = await audit_events(app, "user.credentials_revoked")
    assert [e.details.get("api_keys_revoked") for e in events] == [None, 1]


async def test_manage_roles_and_permissions(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    r = await client.get("/admin/roles", headers=root)
    assert {(x["name"], tuple(x["permissions"]), x["builtin"]) for x in r.json()} == {
        ("admin", ("*",), True),
        ("user", (), True),
    }
    body: dict[str, Any] = {
        "name": "moderator",
        "description": "Mods",
        "permissions": ["posts:delete"],
    }
    r = await client.post("/admin/roles", json=body, headers=root)
    assert r.status_code == 201 and r.json()["permissions"] == ["posts:delete"]
    assert (await client.post("/admin/roles", json=body, headers=root)).status_code == 409
    for bad in ({"name": "Bad Name"}, {"name": "ok-role", "permissions": ["NOPE"]}, {"name": 3}):
        r = await client.post("/admin/roles", json=bad, headers=root)
        assert r.status_code == 422, bad
    url = "/admin/roles/moderator/permissions/posts:*"
    assert (await client.put(url, json={}, headers=root)).status_code == 422
    r = await client.put(url, json={"current_password": "not the password!"}, headers=root)
    assert r.status_code == 403
    r = await client.put(url, json=CONFIRM, headers=root)
    assert r.status_code == 200 and r.json()["permissions"] == ["posts:*", "posts:delete"]
    r = await client.request("DELETE", url, json=CONFIRM, headers=root)
    assert r.json()["permissions"] == ["posts:delete"]
    r = await client.put("/admin/roles/moderator/permissions/NOT:OK", json=CONFIRM, headers=root)
    assert r.status_code == 422 and r.json()["code"] == "invalid_permission"
    r = await client.put("/admin/roles/admin/permissions/x:y", json=CONFIRM, headers=root)
    assert r.status_code == 409 and r.json()["code"] == "builtin_role"
    for builtin in ("admin", "user"):
        assert (await client.delete(f"/admin/roles/{builtin}", headers=root)).status_code == 409
    assert (await client.get("/admin/roles/moderator", headers=root)).status_code == 200
    assert (await client.delete("/admin/roles/moderator", headers=root)).status_code == 204
    assert (await client.get("/admin/roles/moderator", headers=root)).status_code == 404
    events = await audit_events(
        app, "role.created", "role.permission_granted", "role.permission_revoked", "role.deleted"
    )
    assert [e.type for e in events] == [
        "role.created",
        "role.permission_granted",
        "role.permission_revoked",
        "role.deleted",
    ]
    assert all(e.actor_id is not None and e.request_id for e in events)


async def test_a_new_permission_reaches_holders_at_once(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    await make_role(app, "ops", [])
    await make_user(app, "olga", "ops")
    olga = await login(client, "olga")
    assert (await client.get("/service-accounts", headers=olga)).status_code == 200
    other = await user_id(client, root)
    url = f"/service-accounts?owner_id={other}"
    assert (await client.get(url, headers=olga)).status_code == 403
    r = await client.put(
        "/admin/roles/ops/permissions/service_accounts:read", json=CONFIRM, headers=root
    )
    assert r.status_code == 200
    assert (await client.get(url, headers=olga)).status_code == 200
    r = await client.request(
        "DELETE", "/admin/roles/ops/permissions/service_accounts:read", json=CONFIRM, headers=root
    )
    assert (await client.get(url, headers=olga)).status_code == 403


async def test_the_audit_log_cannot_be_changed_through_the_api(
    client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/admin/audit", "/admin/audit/1", "/audit"):
            r = await client.request(method, path, json={}, headers=root)
            assert r.status_code in {404, 405}, (method, path)


async def test_tokens_keep_permissions_until_they_expire_for_resource_servers(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str], clock: FixedClock
) -> None:
    await make_role(app, "ops", ["ops:run"])
    await make_user(app, "olga", "ops")
    olga = await login(client, "olga")
    olga_id = await user_id(client, olga)
    await client.request("DELETE", f"/admin/users/{olga_id}/roles/ops", json=CONFIRM, headers=root)
    services = app.state.services
    claims = services.access_tokens.verify(olga["Authorization"].split()[1])
    assert claims.extra["permissions"] == ["ops:run"]  # stale until exp, as documented
    fresh = services.access_tokens.verify((await login(client, "olga"))["Authorization"].split()[1])
    assert fresh.extra["permissions"] == [] and fresh.roles == ("user",)  # new tokens: at once
    clock.advance(services.access_tokens.ttl + timedelta(minutes=2))
    with pytest.raises(InvalidToken, match="expired"):
        services.access_tokens.verify(olga["Authorization"].split()[1])


async def test_hostile_input_gets_a_clear_4xx(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    alice = await make_user(app, "alice")
    for q in ("\x00", "al\x00", "a\u202eb", "' OR 1=1 --"):
        r = await client.get("/admin/users", params={"q": q}, headers=root)
        assert r.status_code in {200, 422}, (q, r.status_code)
        if r.status_code == 200:
            assert r.json()["items"] == []
    for name in ("%00", "a%00b", "x" * 300, "Ünïcode", "%20", "a%0Ab"):
        for method, path in (
            ("GET", f"/admin/roles/{name}"),
            ("DELETE", f"/admin/roles/{name}"),
            ("PUT", f"/admin/roles/{name}/permissions/x:y"),
            ("PUT", f"/admin/users/{alice.id}/roles/{name}"),
            ("DELETE", f"/admin/users/{alice.id}/roles/{name}"),
            ("DELETE", f"/admin/roles/user/permissions/{name}"),
        ):
            r = await client.request(method, path, json=CONFIRM, headers=root)
            assert 400 <= r.status_code < 500, (method, path, r.status_code)
    for body in (
        {"name": "ok-role", "description": "bad\x00text"},
        {"name": "ok-role", "description": "x" * 257},
        {"name": "ok\x00role"},
    ):
        r = await client.post("/admin/roles", json=body, headers=root)
        assert r.status_code == 422, body
    alice_token = await login(client, "alice")
    r = await client.post(
        "/service-accounts", json={"name": "ci", "description": "a\x00b"}, headers=alice_token
    )
    assert r.status_code == 422
    assert (await client.get("/admin/roles/ok-role", headers=root)).status_code == 404


async def test_guessing_the_admins_password_is_throttled(
    app: FastAPI, client: httpx.AsyncClient, root: dict[str, str], clock: FixedClock
) -> None:
    """Someone holding an admin's token cannot use the re-authentication to guess the password."""
    await make_user(app, "alice")
    alice_id = await user_id(client, await login(client, "alice"))
    url = f"/admin/users/{alice_id}/roles/admin"
    statuses = []
    for attempt in range(6):
        r = await client.put(
            url, json={"current_password": f"guess number {attempt}!"}, headers=root
        )
        statuses.append(r.status_code)
    # Throttled like logins after the free failures (the same counter as password change).
    assert statuses == [403] * 5 + [429]
    r = await client.put(url, json=CONFIRM, headers=root)
    assert r.status_code == 429  # even the right password waits out the delay
    assert [e.reason for e in await audit_events(app, "login.throttled")] == ["role.grant"]
    clock.advance(timedelta(seconds=2))
    r = await client.put(url, json=CONFIRM, headers=root)
    assert r.status_code == 200
