"""Routes that opt in to the revocation check ask idgate about the access token: a logout, a
password change or a disabled account refuses it there at once (after the guard's short cache),
while routes that verify locally accept it until it expires (docs/guard.md, JW-10, AZ-05)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.guard import Guard
from tests.guard.conftest import API, ISSUER, IdgateLink, introspection_key, protected_api
from tests.helpers import GOOD_PASSWORD
from tests.web.authz_helpers import login, make_role, make_user, services_of, set_role


def subject(headers: dict[str, str]) -> str:
    sub: str = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})[
        "sub"
    ]
    return sub


async def test_logout_is_seen_by_opt_in_routes_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    link: IdgateLink,
    clock: FixedClock,
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    r = await api.get("/fresh", headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["checked"] is True and r.json()["username"] == "alice"
    assert link.introspections == 1
    assert (await client.post("/logout", headers=alice)).status_code == 204
    clock.advance(seconds=1)  # the guard's cached answer (1 s) runs out
    r = await api.get("/fresh", headers=alice)
    assert r.status_code == 401
    assert r.json() == {"code": "invalid_token", "detail": "The access token has been revoked."}
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    # A route that verifies locally cannot see the logout: the token works there until it
    # expires (at most IDGATE_ACCESS_TOKEN_TTL), and no request goes to idgate for it.
    calls = link.introspections
    assert (await api.get("/me", headers=alice)).status_code == 200
    assert link.introspections == calls
    clock.advance(timedelta(minutes=15, seconds=29))  # expiry, plus the leeway
    assert (await api.get("/me", headers=alice)).status_code == 401


async def test_password_change_and_disabling_end_tokens_on_opt_in_routes(
    app: FastAPI, client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    bob_user = await make_user(app, "bob")
    bob = await login(client, "bob")
    assert (await api.get("/fresh", headers=alice)).status_code == 200
    assert (await api.get("/fresh", headers=bob)).status_code == 200
    r = await client.post(
        "/password/change",
        json={"current_password": GOOD_PASSWORD, "new_password": "an even better passphrase"},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    services = services_of(app)
    async with services.uow_factory() as uow:
        await uow.users.set_disabled(bob_user.id, True)
        await uow.commit()
    clock.advance(seconds=1)
    assert (await api.get("/fresh", headers=alice)).status_code == 401
    assert (await api.get("/fresh", headers=bob)).status_code == 401
    # The pair the password change returned is good everywhere.
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await api.get("/fresh", headers=fresh)).status_code == 200


async def test_opt_in_routes_see_current_permissions(
    app: FastAPI, client: httpx.AsyncClient, api: httpx.AsyncClient, clock: FixedClock
) -> None:
    await make_role(app, "things", ["things:read"])
    user = await make_user(app, "alice", "things")
    alice = await login(client, "alice")
    assert (await api.delete(f"/things/{subject(alice)}", headers=alice)).status_code == 200
    other = str(uuid.uuid4())
    r = await api.delete(f"/things/{other}", headers=alice)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    # Taking the role away: the token still says things:read, idgate no longer does.
    await set_role(app, user.id, "things", held=False)
    clock.advance(seconds=1)
    r = await api.delete(f"/things/{subject(alice)}", headers=alice)
    assert r.status_code == 403 and "things:read" in r.json()["detail"]
    # An administrator may delete anybody's things (the admin role holds '*').
    await make_user(app, "root", "admin")
    root = await login(client, "root")
    assert (await api.delete(f"/things/{other}", headers=root)).status_code == 200


async def test_one_call_per_token_per_cache_period(
    app: FastAPI,
    client: httpx.AsyncClient,
    api: httpx.AsyncClient,
    link: IdgateLink,
    clock: FixedClock,
) -> None:
    await make_user(app, "alice")
    alice = await login(client, "alice")
    for _ in range(5):
        assert (await api.get("/fresh", headers=alice)).status_code == 200
    assert link.introspections == 1
    clock.advance(seconds=1)
    assert (await api.get("/fresh", headers=alice)).status_code == 200
    assert link.introspections == 2
    # A forged token never reaches idgate: local verification refuses it first.
    assert (
        await api.get("/fresh", headers={"Authorization": "Bearer forged.token.x"})
    ).status_code == 401
    assert link.introspections == 2


@pytest.mark.redis
async def test_logout_with_the_deny_list_in_redis(
    settings: Settings, clock: FixedClock, redis_url: str, redis_prefix: str
) -> None:
    overrides = {
        "redis_url": SecretStr(redis_url),
        "redis_prefix": redis_prefix,
        "revocation_store": "redis",
    }
    idgate = create_app(settings.model_copy(update=overrides), clock=clock)
    async with idgate.router.lifespan_context(idgate):
        assert services_of(idgate).settings.revocation_store == "redis"
        guard = Guard(
            ISSUER,
            "idgate",
            api_key=await introspection_key(idgate),
            transport=IdgateLink(idgate),
            clock=clock,
            allow_http=True,
        )
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=idgate), base_url=ISSUER) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
            ) as api,
        ):
            await make_user(idgate, "alice")
            alice = await login(client, "alice")
            assert (await api.get("/fresh", headers=alice)).status_code == 200
            assert (await client.post("/logout", headers=alice)).status_code == 204
            clock.advance(seconds=1)
            assert (await api.get("/fresh", headers=alice)).status_code == 401
            assert (await api.get("/me", headers=alice)).status_code == 200
        await guard.aclose()
