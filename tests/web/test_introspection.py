"""``POST /introspect`` (RFC 7662): callers authenticate and hold ``tokens:introspect``; anything
not active is ``{"active": false}`` and nothing more (SECURITY.md OP-15)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from idgate.config import Settings
from idgate.core.apikeys import NewApiKey
from idgate.core.clock import FixedClock
from idgate.core.models import SYSTEM_ORIGIN
from idgate.core.tokens.keys import new_signing_key
from tests.web.authz_helpers import (
    api_key,
    audit_events,
    login,
    make_role,
    make_user,
    services_of,
    set_role,
)
from tests.web.conftest import Running, Visitor

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def new_key(app: FastAPI, owner: str, scopes: list[str], **kwargs: Any) -> str:
    """Create a service account of ``owner`` and a key with ``scopes``; return the key."""
    return (await create_key(app, owner, scopes, **kwargs)).secret


async def create_key(app: FastAPI, owner: str, scopes: list[str], **kwargs: Any) -> NewApiKey:
    services = services_of(app)
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username(owner)
        assert user is not None
        account = await services.service_accounts.create_account(
            uow, user, f"svc-{uuid.uuid4().hex[:8]}", SYSTEM_ORIGIN
        )
        new = await services.service_accounts.create_key(
            uow, account, SYSTEM_ORIGIN, scopes=scopes, **kwargs
        )
        await uow.commit()
    return new


async def introspect(
    client: httpx.AsyncClient, caller: dict[str, str], token: str, **form: str
) -> httpx.Response:
    return await client.post("/introspect", data={"token": token, **form}, headers=caller)


@pytest.fixture
async def caller(app: FastAPI) -> dict[str, str]:
    """The resource server's own key: scoped tokens:introspect, owned by an administrator."""
    await make_user(app, "root", "admin")
    return api_key(await new_key(app, "root", ["tokens:introspect"]))


async def test_an_active_access_token_is_described(
    app: FastAPI, client: httpx.AsyncClient, caller: dict[str, str], clock: FixedClock
) -> None:
    await make_role(app, "writer", ["posts:*"])
    await make_user(app, "alice", "writer")
    token = (await login(client, "alice"))["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    r = await introspect(client, caller, token, token_type_hint="access_token")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body == {
        "active": True,
        "token_type": "Bearer",
        "iss": "http://testserver",
        "aud": "idgate",
        "sub": claims["sub"],
        "username": "alice",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
        "roles": ["user", "writer"],
        "permissions": ["posts:*"],
        "client_id": "idgate",
        "sid": claims["sid"],
    }
    # The hint is only a hint: a wrong one changes nothing (RFC 7662 2.1).
    r = await introspect(client, caller, token, token_type_hint="api_key")
    assert r.json()["active"] is True
    # Permissions are the account's now, not the token's (AZ-05).
    await set_role(app, uuid.UUID(claims["sub"]), "writer", held=False)
    body = (await introspect(client, caller, token)).json()
    assert body["roles"] == ["user"] and body["permissions"] == []


async def test_inactive_tokens_reveal_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    caller: dict[str, str],
    clock: FixedClock,
) -> None:
    await make_user(app, "alice")
    login_body = (
        await client.post(
            "/login", json={"username": "alice", "password": "correct horse battery staple"}
        )
    ).json()
    token, refresh = login_body["access_token"], login_body["refresh_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    attacker = new_signing_key("EdDSA", clock.now())
    foreign = jwt.encode(
        claims, attacker.signing_key(), algorithm="EdDSA", headers={"kid": attacker.kid}
    )
    other_kid = jwt.encode(
        claims,
        attacker.signing_key(),
        algorithm="EdDSA",
        headers={"kid": jwt.get_unverified_header(token)["kid"], "typ": "at+jwt"},
    )
    for presented in (
        "garbage",
        "a.b.c",
        refresh,  # a refresh token is never active here
        foreign,
        other_kid,
        "idg_" + "A" * 49,
        "x" * 10_000,
    ):
        r = await introspect(client, caller, presented)
        assert r.status_code == 200
        assert r.json() == {"active": False}, presented[:20]
    # Revoked by logout, then a fresh one expired.
    assert (
        await client.post("/logout", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 204
    assert (await introspect(client, caller, token)).json() == {"active": False}
    fresh = (await login(client, "alice"))["Authorization"].split()[1]
    assert (await introspect(client, caller, fresh)).json()["active"] is True
    clock.advance(timedelta(minutes=16))
    assert (await introspect(client, caller, fresh)).json() == {"active": False}


async def test_api_keys_are_described_with_scopes_and_owner_permissions(
    app: FastAPI, client: httpx.AsyncClient, caller: dict[str, str], clock: FixedClock
) -> None:
    await make_role(app, "editor", ["posts:*"])
    await make_user(app, "alice", "editor")
    key = await new_key(app, "alice", ["posts:read"], ttl=timedelta(days=1))
    body = (await introspect(client, caller, key, token_type_hint="api_key")).json()
    services = services_of(app)
    async with services.uow_factory() as uow:
        alice = await uow.users.get_by_username("alice")
        (account,) = await services.service_accounts.list_accounts(uow, alice.id if alice else None)
        (stored,) = await services.service_accounts.list_keys(uow, account)
    assert body == {
        "active": True,
        "token_type": "api_key",
        "iss": "http://testserver",
        "sub": str(account.id),
        "service_account": account.name,
        "owner_id": str(account.owner_id),
        "key_id": str(stored.id),
        "iat": int(stored.created_at.timestamp()),
        "exp": int(stored.created_at.timestamp()) + 86400,
        "scope": "posts:read",
        "permissions": ["posts:*"],
    }
    # Expired, then revoked: inactive, and the rejection is audited with its reason.
    clock.advance(timedelta(days=1))
    assert (await introspect(client, caller, key)).json() == {"active": False}
    other = await create_key(app, "alice", ["posts:*"])
    assert (await introspect(client, caller, other.secret)).json()["active"] is True
    async with services.uow_factory() as uow:
        await services.service_accounts.revoke_key(uow, other.key, SYSTEM_ORIGIN)
        await uow.commit()
    assert (await introspect(client, caller, other.secret)).json() == {"active": False}
    reasons = [e.reason for e in await audit_events(app, "api_key.rejected")]
    assert reasons == ["expired", "revoked"]


async def test_callers_must_authenticate_and_hold_the_permission(
    app: FastAPI, client: httpx.AsyncClient, caller: dict[str, str]
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    token = alice["Authorization"].split()[1]
    r = await introspect(client, {}, token)
    assert r.status_code == 401 and "www-authenticate" in r.headers
    # A user without the permission, a key of an admin without the scope.
    assert (await introspect(client, alice, token)).status_code == 403
    unscoped = api_key(await new_key(app, "root", ["posts:read"]))
    r = await introspect(client, unscoped, token)
    assert r.status_code == 403 and "tokens:introspect" in r.json()["detail"]
    # A scoped key whose owner lacks the permission gets nothing either.
    await make_role(app, "introspector", ["tokens:introspect"])
    bob = await make_user(app, "bob", "introspector")
    bobs = api_key(await new_key(app, "bob", ["tokens:introspect"]))
    assert (await introspect(client, bobs, token)).json()["active"] is True
    await set_role(app, bob.id, "introspector", held=False)
    assert (await introspect(client, bobs, token)).status_code == 403
    # An administrator's access token may ask too.
    root = await login(client, "root")
    assert (await introspect(client, root, token)).json()["active"] is True
    denied = await audit_events(app, "access.denied")
    assert {e.details["permission"] for e in denied} == {"tokens:introspect"}


async def test_the_request_is_a_form_with_a_token(
    client: httpx.AsyncClient, caller: dict[str, str]
) -> None:
    r = await client.post("/introspect", json={"token": "x"}, headers=caller)
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    # Without a caller, the answer is 401 whatever the body (AZ-01).
    assert (await client.post("/introspect", json={"token": "x"})).status_code == 401
    hint = {"token_type_hint": "access_token"}
    r = await client.post("/introspect", data=hint, headers=caller)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    # Never from the query string.
    r = await client.post("/introspect", params={"token": "x"}, data=hint, headers=caller)
    assert r.status_code == 422


async def test_a_browser_session_may_not_introspect(visitor: Visitor, https_app: FastAPI) -> None:
    await make_user(https_app, "root", "admin")
    csrf = await visitor.sign_in("root")
    r = await visitor.client.post(
        "/introspect",
        data={"token": "x", "csrf_token": csrf},
        headers={"sec-fetch-site": "same-origin", "x-csrf-token": csrf},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied" and "for services" in r.json()["detail"]


async def test_introspection_is_rate_limited_per_caller(
    settings: Settings, running: Running
) -> None:
    async with running(settings, rate_limits={"introspect.account": "2/minute"}) as (app, client):
        await make_user(app, "root", "admin")
        first = api_key(await new_key(app, "root", ["tokens:introspect"]))
        second = api_key(await new_key(app, "root", ["tokens:*"]))
        statuses = [(await introspect(client, first, "x")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        # The limit is per calling service account.
        assert (await introspect(client, second, "x")).status_code == 200
