"""Service accounts and API keys over HTTP: shown once, X-API-Key only, scoped, one 401 for
every bad key, no account-takeover actions, and owners' data kept apart (AK-01..AK-05, AZ-03)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.apikeys import hash_key
from idgate.core.clock import FixedClock
from idgate.web.authorization import require_permission
from tests.helpers import GOOD_PASSWORD
from tests.web.authz_helpers import (
    api_key,
    audit_events,
    login,
    make_role,
    make_user,
    services_of,
    set_role,
)


@pytest.fixture
async def alice(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await make_role(app, "reporter", ["reports:*", "apikeys:*"])
    await make_user(app, "alice", "reporter")
    app.include_router(_reports_router())
    return await login(client, "alice")


def _reports_router() -> APIRouter:
    router = APIRouter()

    @router.get("/reports", dependencies=[Depends(require_permission("reports:read"))])
    async def read() -> dict[str, str]:
        return {"report": "ok"}

    @router.post("/reports", dependencies=[Depends(require_permission("reports:write"))])
    async def write() -> dict[str, str]:
        return {"written": "ok"}

    return router


async def new_account(client: httpx.AsyncClient, who: dict[str, str], name: str = "ci") -> str:
    r = await client.post("/service-accounts", json={"name": name}, headers=who)
    assert r.status_code == 201, r.text
    account_id: str = r.json()["id"]
    return account_id


async def new_key(
    client: httpx.AsyncClient, who: dict[str, str], account_id: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/service-accounts/{account_id}/api-keys", json=body, headers=who)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def test_a_key_is_shown_once_and_listed_only_by_its_hint(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    account = await new_account(client, alice)
    created = await new_key(client, alice, account, name="nightly", scopes=["reports:read"])
    secret = created["api_key"]
    assert secret.startswith("idg_") and len(secret) == 53
    assert created["key"]["hint"] == "idg_..." + secret[-4:]
    assert created["key"]["status"] == "active" and created["key"]["expires_at"] is not None
    listing = await client.get(f"/service-accounts/{account}/api-keys", headers=alice)
    one = await client.get(f"/api-keys/{created['key']['id']}", headers=alice)
    for body in (listing.text, one.text):
        assert secret not in body and secret[4:-4] not in body
    assert listing.json()[0]["hint"] == created["key"]["hint"]
    # Stored only as SHA-256.
    services = services_of(app)
    async with services.uow_factory() as uow:
        record = await uow.api_keys.find_by_hash(hash_key(secret))
    assert record is not None and record.key.key_hash == hash_key(secret)
    # Key events are audited without the key.
    (event,) = await audit_events(app, "api_key.created")
    assert event.details["scopes"] == ["reports:read"] and secret not in str(event.details)


async def test_a_key_works_in_the_header_only_and_within_its_scope(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    account = await new_account(client, alice)
    secret = (await new_key(client, alice, account, scopes=["reports:read"]))["api_key"]
    assert (await client.get("/reports", headers=api_key(secret))).status_code == 200
    # A scoped key used beyond its scope: alice may write reports, her read-only key may not.
    assert (await client.post("/reports", headers=alice)).status_code == 200
    r = await client.post("/reports", headers=api_key(secret))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    # Never from the query string (AK-03).
    r = await client.get("/reports", params={"api_key": secret, "X-API-Key": secret})
    assert r.status_code == 401


async def test_wrong_revoked_expired_keys_and_disabled_owners_get_one_answer(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str], clock: FixedClock
) -> None:
    account = await new_account(client, alice)
    revoked = await new_key(client, alice, account, scopes=["reports:read"])
    expiring = await new_key(client, alice, account, scopes=["reports:read"], expires_in_days=1)
    await make_role(app, "bobs", ["reports:read"])
    await make_user(app, "bob", "bobs")
    bob = await login(client, "bob")
    bob_id = (await client.get("/profile", headers=bob)).json()["id"]
    bobs_key = (await new_key(client, bob, await new_account(client, bob), scopes=[]))["api_key"]
    assert (
        await client.delete(f"/api-keys/{revoked['key']['id']}", headers=alice)
    ).status_code == 204
    clock.advance(timedelta(days=1))
    await make_user(app, "root", "admin")
    root = await login(client, "root")
    assert (await client.post(f"/admin/users/{bob_id}/disable", headers=root)).status_code == 200

    answers = set()
    for presented in (
        "idg_" + "A" * 49,
        "not a key at all",
        # The revoked key with its last character changed (never to itself): a bad checksum.
        revoked["api_key"][:-1] + ("y" if revoked["api_key"].endswith("x") else "x"),
        revoked["api_key"],
        expiring["api_key"],
        bobs_key,
        "x" * 5000,
    ):
        r = await client.get("/reports", headers=api_key(presented))
        assert r.status_code == 401
        headers = {
            k: v for k, v in r.headers.items() if k not in {"x-request-id", "content-length"}
        }
        answers.add((r.text, tuple(sorted(headers.items()))))
    assert len(answers) == 1
    assert '"code":"invalid_api_key"' in answers.pop()[0]
    reasons = [e.reason for e in await audit_events(app, "api_key.rejected")]
    assert reasons == [
        "malformed",
        "malformed",
        "malformed",
        "revoked",
        "expired",
        "revoked",  # disabling bob revoked his keys (SS-08)
        "malformed",
    ]


async def test_a_key_never_acts_as_a_user(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    account = await new_account(client, alice)
    secret = (await new_key(client, alice, account, scopes=["reports:*", "apikeys:*"]))["api_key"]
    key = api_key(secret)
    assert (await client.get("/profile", headers=key)).status_code == 403
    r = await client.post(
        "/password/change",
        json={"current_password": GOOD_PASSWORD, "new_password": "another long passphrase x"},
        headers=key,
    )
    assert r.status_code == 403
    r = await client.post("/login", json={"username": "", "password": ""}, headers=key)
    assert r.status_code in {401, 422} and "access_token" not in r.text
    assert (
        await client.post("/service-accounts", json={"name": "x"}, headers=key)
    ).status_code == 403
    assert (await client.get("/service-accounts", headers=key)).status_code == 403
    assert (await client.delete(f"/service-accounts/{account}", headers=key)).status_code == 403
    # Admin routes: a key held by an admin's service account is still not an admin (AZ-02).
    await make_user(app, "root", "admin")
    root = await login(client, "root")
    admin_key = (await new_key(client, root, await new_account(client, root), scopes=["*"]))[
        "api_key"
    ]
    for method, path in (("GET", "/admin/users"), ("GET", "/admin/roles")):
        assert (await client.request(method, path, headers=api_key(admin_key))).status_code == 403
    assert (await client.get("/reports", headers=api_key(admin_key))).status_code == 200


async def test_a_key_manages_its_own_account_within_its_scopes(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    account = await new_account(client, alice)
    other = await new_account(client, alice, "other")
    writer = await new_key(client, alice, account, scopes=["apikeys:write", "reports:read"])
    reader = (await new_key(client, alice, account, scopes=["apikeys:read"]))["api_key"]
    key = api_key(writer["api_key"])
    # It cannot create a key with more than its own scopes (AK-05), nor with an admin scope.
    for scopes in (["reports:write"], ["*"], ["admin:users"]):
        r = await client.post(
            f"/service-accounts/{account}/api-keys", json={"scopes": scopes}, headers=key
        )
        assert r.status_code == 403 and r.json()["code"] == "scope_not_allowed", scopes
    r = await client.post(
        f"/service-accounts/{account}/api-keys", json={"scopes": ["reports:read"]}, headers=key
    )
    assert r.status_code == 201
    # Not another service account, even of the same owner.
    assert (await client.get(f"/service-accounts/{other}/api-keys", headers=key)).status_code == 403
    # A read-only key may list but not write.
    assert (
        await client.get(f"/service-accounts/{account}/api-keys", headers=api_key(reader))
    ).status_code == 200
    r = await client.post(
        f"/service-accounts/{account}/api-keys", json={"scopes": []}, headers=api_key(reader)
    )
    assert r.status_code == 403
    # Nor rotate a sibling key with broader scopes (it would learn a more powerful key).
    broader = await new_key(client, alice, account, scopes=["reports:*"])
    r = await client.post(f"/api-keys/{broader['key']['id']}/rotate", json={}, headers=key)
    assert r.status_code == 403 and r.json()["code"] == "scope_not_allowed"
    r = await client.post(
        f"/api-keys/{writer['key']['id']}/rotate", json={}, headers=api_key(reader)
    )
    assert r.status_code == 403
    # Self-rotation: the new key works, the old one does not.
    r = await client.post(f"/api-keys/{writer['key']['id']}/rotate", json={}, headers=key)
    assert r.status_code == 201
    rotated = r.json()["api_key"]
    assert (await client.get("/reports", headers=key)).status_code == 401
    assert (await client.get("/reports", headers=api_key(rotated))).status_code == 200


async def test_users_cannot_touch_each_others_accounts_or_keys(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await make_user(app, "bob")
    bob = await login(client, "bob")
    bob_id = (await client.get("/profile", headers=bob)).json()["id"]
    bobs_account = await new_account(client, bob)
    bobs_key = await new_key(client, bob, bobs_account)
    key_id = bobs_key["key"]["id"]
    for method, path in (
        ("GET", f"/service-accounts/{bobs_account}"),
        ("DELETE", f"/service-accounts/{bobs_account}"),
        ("GET", f"/service-accounts/{bobs_account}/api-keys"),
        ("POST", f"/service-accounts/{bobs_account}/api-keys"),
        ("GET", f"/api-keys/{key_id}"),
        ("DELETE", f"/api-keys/{key_id}"),
        ("POST", f"/api-keys/{key_id}/rotate"),
        ("GET", f"/service-accounts?owner_id={bob_id}"),
    ):
        r = await client.request(method, path, json={}, headers=alice)
        assert r.status_code == 403, (method, path, r.status_code)
    assert (await client.get(f"/api-keys/{key_id}", headers=bob)).json()["status"] == "active"
    # Unknown ids are 404, for owners and strangers alike.
    r = await client.get("/api-keys/00000000-0000-4000-8000-000000000000", headers=alice)
    assert r.status_code == 404
    # An admin may (the ownership rule's permission: admins hold '*').
    await make_user(app, "root", "admin")
    root = await login(client, "root")
    assert (await client.delete(f"/api-keys/{key_id}", headers=root)).status_code == 204
    (revoked,) = await audit_events(app, "api_key.revoked")
    assert revoked.subject_id is not None and str(revoked.actor_id) != str(revoked.subject_id)


async def test_a_key_loses_what_its_owner_loses_at_once(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    owner_id = (await client.get("/profile", headers=alice)).json()["id"]
    account = await new_account(client, alice)
    secret = (await new_key(client, alice, account, scopes=["reports:read"]))["api_key"]
    assert (await client.get("/reports", headers=api_key(secret))).status_code == 200
    await set_role(app, uuid.UUID(owner_id), "reporter", held=False)
    assert (await client.get("/reports", headers=api_key(secret))).status_code == 403


async def test_last_used_is_tracked_without_a_write_per_request(
    app: FastAPI, client: httpx.AsyncClient, alice: dict[str, str], clock: FixedClock
) -> None:
    account = await new_account(client, alice)
    created = await new_key(client, alice, account, scopes=["reports:read"])
    key_url = f"/api-keys/{created['key']['id']}"
    assert (await client.get(key_url, headers=alice)).json()["last_used_at"] is None
    await client.get("/reports", headers=api_key(created["api_key"]))
    first = (await client.get(key_url, headers=alice)).json()["last_used_at"]
    assert first is not None
    clock.advance(seconds=20)
    await client.get("/reports", headers=api_key(created["api_key"]))
    assert (await client.get(key_url, headers=alice)).json()["last_used_at"] == first
    clock.advance(seconds=60)
    await client.get("/reports", headers=api_key(created["api_key"]))
    assert (await client.get(key_url, headers=alice)).json()["last_used_at"] != first


async def test_expiry_options_and_bad_input(
    client: httpx.AsyncClient, alice: dict[str, str], clock: FixedClock
) -> None:
    account = await new_account(client, alice)
    default = (await new_key(client, alice, account))["key"]
    assert default["expires_at"].startswith((clock.now() + timedelta(days=90)).date().isoformat())
    forever = (await new_key(client, alice, account, never_expires=True))["key"]
    assert forever["expires_at"] is None
    url = f"/service-accounts/{account}/api-keys"
    for body in (
        {"scopes": ["NOT VALID"]},
        {"scopes": "reports:read"},
        {"expires_in_days": 0},
        {"expires_in_days": "10"},
        {"name": "bad/name"},
    ):
        r = await client.post(url, json=body, headers=alice)
        assert r.status_code == 422 and r.json()["code"] in {
            "validation_error",
            "invalid_permission",
            "invalid_input",
        }, body
    r = await client.post("/service-accounts", json={"name": "ci"}, headers=alice)
    assert r.status_code == 409
    r = await client.post("/api-keys/not-a-uuid/rotate", json={}, headers=alice)
    assert r.status_code == 422
    r = await client.post(
        url,
        content="scopes=x",
        headers={**alice, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415


async def test_the_default_lifetime_comes_from_the_settings(
    settings: Settings, clock: FixedClock
) -> None:
    custom = settings.model_copy(update={"api_key_default_ttl": timedelta(days=7)})
    application = create_app(custom, clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await make_user(application, "alice")
            alice = await login(c, "alice")
            account = await new_account(c, alice)
            key = (await new_key(c, alice, account))["key"]
    assert key["expires_at"].startswith((clock.now() + timedelta(days=7)).date().isoformat())


# --- each key has its own rate limit (AK-04) ----------------------------------------------


@pytest.mark.parametrize(
    "backend_state", ["memory", pytest.param("redis", marks=pytest.mark.redis)]
)
async def test_each_key_is_rate_limited_on_its_own(
    settings: Settings, clock: FixedClock, request: pytest.FixtureRequest, backend_state: str
) -> None:
    overrides: dict[str, Any] = {"rate_limits": {"api_key.account": "3/minute"}}
    if backend_state == "redis":
        from pydantic import SecretStr

        overrides["redis_url"] = SecretStr(request.getfixturevalue("redis_url"))
        overrides["redis_prefix"] = request.getfixturevalue("redis_prefix")
    app = create_app(settings.model_copy(update=overrides), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await make_role(app, "reporter", ["reports:*", "apikeys:*"])
            await make_user(app, "alice", "reporter")
            app.include_router(_reports_router())
            alice = await login(client, "alice")
            account = await new_account(client, alice)
            first = (await new_key(client, alice, account, scopes=["reports:read"]))["api_key"]
            second = (await new_key(client, alice, account, scopes=["reports:read"]))["api_key"]
            statuses = [
                (await client.get("/reports", headers=api_key(first))).status_code for _ in range(4)
            ]
            assert statuses == [200, 200, 200, 429]
            refused = await client.get("/reports", headers=api_key(first))
            assert refused.json()["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            # Another key of the same service has its own quota; wrong keys spend none of it.
            for _ in range(5):
                # Change the last character (to one it is not: "x" if it was "x" made no change).
                tail = "y" if second.endswith("x") else "x"
                wrong = await client.get("/reports", headers=api_key(second[:-1] + tail))
                assert wrong.status_code == 401
            assert (await client.get("/reports", headers=api_key(second))).status_code == 200
