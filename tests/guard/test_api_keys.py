"""API keys at the guarded service: checked by idgate's introspection with a short cache, scoped
and narrowed by their owner's permissions, never a person, one 401 for every bad key
(SECURITY.md AK-03, AK-04 from the resource server's side)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from idgate.core.apikeys import generate_key
from idgate.core.clock import FixedClock
from idgate.core.models import SYSTEM_ORIGIN
from idgate.guard import Guard
from tests.guard.conftest import (
    API,
    GuardFactory,
    IdgateLink,
    introspection_key,
    protected_api,
    service_key,
)
from tests.web.authz_helpers import api_key, login, make_role, make_user, services_of, set_role


@pytest.fixture
async def bob(app: FastAPI) -> uuid.UUID:
    await make_role(app, "reporter", ["reports:*"])
    return (await make_user(app, "bob", "reporter")).id


async def test_a_key_is_its_service_account_within_its_scopes(
    app: FastAPI, api: httpx.AsyncClient, bob: uuid.UUID, link: IdgateLink
) -> None:
    key = api_key(await service_key(app, "bob", ("reports:read",)))
    r = await api.get("/me", headers=key)
    assert r.status_code == 200, r.text
    services = services_of(app)
    async with services.uow_factory() as uow:
        (account,) = await services.service_accounts.list_accounts(uow, bob)
    assert r.json() == {
        "subject": str(account.id),
        "kind": "service",
        "method": "api_key",
        "roles": [],
        "permissions": ["reports:*"],
        "scopes": ["reports:read"],
        "username": account.name,
        "owner_id": str(bob),
        "checked": True,
    }
    assert (await api.get("/reports", headers=key)).status_code == 200
    # Not a person, no role, and not the scope the export needs.
    assert (await api.post("/posts", headers=key)).status_code == 403
    assert (await api.get("/admin", headers=key)).status_code == 403
    r = await api.get("/export", headers=key)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert r.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="reports:export"'
    )


async def test_a_key_never_exceeds_its_owner(
    app: FastAPI, api: httpx.AsyncClient, bob: uuid.UUID, clock: FixedClock
) -> None:
    key = api_key(await service_key(app, "bob", ("reports:*",)))
    assert (await api.get("/reports", headers=key)).status_code == 200
    await set_role(app, bob, "reporter", held=False)
    clock.advance(seconds=1)  # the guard's cached answer expires
    assert (await api.get("/reports", headers=key)).status_code == 403


async def test_answers_are_cached_briefly_and_shared(
    app: FastAPI, api: httpx.AsyncClient, bob: uuid.UUID, link: IdgateLink, clock: FixedClock
) -> None:
    key = api_key(await service_key(app, "bob", ("reports:read",)))
    answers = await asyncio.gather(*(api.get("/reports", headers=key) for _ in range(20)))
    assert {r.status_code for r in answers} == {200}
    assert link.introspections == 1  # concurrent requests shared one call
    for _ in range(5):
        assert (await api.get("/reports", headers=key)).status_code == 200
    assert link.introspections == 1
    clock.advance(seconds=1)
    assert (await api.get("/reports", headers=key)).status_code == 200
    assert link.introspections == 2


async def test_a_revoked_key_stops_working_after_the_cache(
    app: FastAPI, api: httpx.AsyncClient, bob: uuid.UUID, clock: FixedClock
) -> None:
    services = services_of(app)
    async with services.uow_factory() as uow:
        owner = await uow.users.get(bob)
        assert owner is not None
        account = await services.service_accounts.create_account(uow, owner, "ci", SYSTEM_ORIGIN)
        new = await services.service_accounts.create_key(
            uow, account, SYSTEM_ORIGIN, scopes=["reports:read"]
        )
        await uow.commit()
    key = api_key(new.secret)
    assert (await api.get("/reports", headers=key)).status_code == 200
    async with services.uow_factory() as uow:
        await services.service_accounts.revoke_key(uow, new.key, SYSTEM_ORIGIN)
        await uow.commit()
    # AK-04: within the cache's second the answer may be the old one; after it, refused.
    clock.advance(seconds=1)
    r = await api.get("/reports", headers=key)
    assert r.status_code == 401
    assert r.json() == {"code": "invalid_api_key", "detail": "Invalid API key."}
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_an_answer_is_never_cached_past_the_keys_expiry(
    app: FastAPI, make_guard: GuardFactory, bob: uuid.UUID, link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(api_key=await introspection_key(app), cache_ttl=timedelta(hours=1))
    key = api_key(await service_key(app, "bob", ("reports:read",), ttl=timedelta(minutes=1)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/reports", headers=key)).status_code == 200
        clock.advance(seconds=59)
        assert (await api.get("/reports", headers=key)).status_code == 200
        assert link.introspections == 1
        clock.advance(seconds=1)
        assert (await api.get("/reports", headers=key)).status_code == 401
        assert link.introspections == 2


async def test_bad_keys_get_one_answer(
    api: httpx.AsyncClient, link: IdgateLink, bob: uuid.UUID
) -> None:
    answers = set()
    for presented in ("not a key", "idg_" + "A" * 49, "x" * 5000, ""):
        r = await api.get("/reports", headers={"X-API-Key": presented})
        assert r.status_code == 401
        answers.add(r.text)
    # Malformed keys never reach idgate; a well-formed unknown one does.
    assert link.introspections == 0
    r = await api.get("/reports", headers={"X-API-Key": generate_key()})
    assert r.status_code == 401 and link.introspections == 1
    answers.add(r.text)
    assert answers == {'{"code":"invalid_api_key","detail":"Invalid API key."}'}


async def test_keys_only_in_the_header_and_the_authorization_header_decides(
    app: FastAPI, api: httpx.AsyncClient, client: httpx.AsyncClient, bob: uuid.UUID
) -> None:
    secret = await service_key(app, "bob", ("reports:read",))
    assert (await api.get("/reports", params={"api_key": secret})).status_code == 401
    r = await api.get("/me", headers={"Authorization": "Bearer garbage", "X-API-Key": secret})
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    bob_token = await login(client, "bob")
    r = await api.get("/me", headers={**bob_token, "X-API-Key": secret})
    assert r.json()["kind"] == "user"


async def test_a_guard_without_its_own_key_refuses_api_keys(
    app: FastAPI, make_guard: GuardFactory, bob: uuid.UUID, link: IdgateLink
) -> None:
    guard = make_guard()
    key = api_key(await service_key(app, "bob", ("reports:read",)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        r = await api.get("/reports", headers=key)
    assert r.status_code == 401 and r.json()["detail"] == "This service does not accept API keys."
    assert link.introspections == 0
    with pytest.raises(ValueError, match="tokens:introspect"):
        guard.authenticated(check_revocation=True)
    with pytest.raises(ValueError, match="not an idgate API key"):
        Guard("https://id.example.com", "idgate", api_key="secret")


async def test_a_guard_whose_own_key_is_refused_accepts_nothing(
    app: FastAPI, make_guard: GuardFactory, bob: uuid.UUID, caplog: pytest.LogCaptureFixture
) -> None:
    # The guard's key lacks tokens:introspect: idgate answers 403, the guard 503.
    guard = make_guard(api_key=await service_key(app, "bob", ("reports:read",)))
    key = api_key(await service_key(app, "bob", ("reports:read",)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        r = await api.get("/reports", headers=key)
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    assert "refused this guard's introspection key" in caplog.text
