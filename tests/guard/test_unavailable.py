"""When idgate cannot be reached the guard fails closed: without a usable cached key every token
is refused with 503, never accepted; with cached keys, tokens keep verifying for the cache's
lifetime plus ``max_stale``; failed fetches are not retried on every request."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import new_signing_key
from tests.guard.conftest import API, GuardFactory, IdgateLink, protected_api, service_key
from tests.web.authz_helpers import api_key, bearer, login, make_role, make_user


@pytest.fixture
async def alice(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await make_user(app, "alice")
    return await login(client, "alice")


async def test_no_cached_key_means_503_and_nothing_accepted(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(refresh_interval=timedelta(seconds=5))
    link.down = True
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        r = await api.get("/me", headers=alice)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "unavailable" and r.headers["retry-after"] == "5"
        attempts = sum(link.requests.values())
        # Within the retry interval nobody waits for a dead idgate again.
        for _ in range(5):
            assert (await api.get("/me", headers=alice)).status_code == 503
        assert sum(link.requests.values()) == attempts
        # The public route does not need idgate at all; missing credentials are still 401.
        assert (await api.get("/public")).status_code == 200
        assert (await api.get("/me")).status_code == 401
        # idgate is back: after the interval the guard fetches the keys and the token passes.
        link.down = False
        clock.advance(seconds=5)
        assert (await api.get("/me", headers=alice)).status_code == 200


async def test_cached_keys_keep_verifying_for_max_stale(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(max_stale=timedelta(minutes=2), refresh_interval=timedelta(seconds=10))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/me", headers=alice)).status_code == 200
        link.down = True
        # Fresh cache: no request to idgate at all.
        clock.advance(seconds=299)
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert link.jwks_fetches == 1
        # Expired cache: a refresh is tried (and fails), the stale keys serve.
        clock.advance(seconds=1)
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert link.jwks_fetches == 2
        # Retries at most once per refresh interval.
        for _ in range(3):
            assert (await api.get("/me", headers=alice)).status_code == 200
        assert link.jwks_fetches == 2
        clock.advance(seconds=10)
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert link.jwks_fetches == 3
        # A token naming an unknown key cannot be decided: 503, not accepted.
        attacker = new_signing_key("EdDSA", clock.now())
        forged = jwt.encode(
            {"sub": "x"},
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": attacker.kid, "typ": "at+jwt"},
        )
        assert (await api.get("/me", headers=bearer(forged))).status_code == 503
        # Past max-age + max_stale nothing verifies any more.
        clock.advance(seconds=110)
        r = await api.get("/me", headers=alice)
        assert r.status_code == 503 and "retry-after" in r.headers
        # Back again: the next attempt succeeds.
        link.down = False
        clock.advance(seconds=10)
        assert (await api.get("/me", headers=alice)).status_code == 200


async def test_without_max_stale_keys_die_with_their_cache(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(max_stale=timedelta(0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/me", headers=alice)).status_code == 200
        link.down = True
        clock.advance(seconds=300)
        assert (await api.get("/me", headers=alice)).status_code == 503


class Timeouts(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("idgate is too slow", request=request)


async def test_a_timeout_is_unreachable_too(
    make_guard: GuardFactory, alice: dict[str, str]
) -> None:
    guard = make_guard(transport=Timeouts())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/me", headers=alice)).status_code == 503


async def test_api_keys_need_idgate(
    app: FastAPI, make_guard: GuardFactory, link: IdgateLink, clock: FixedClock
) -> None:
    from tests.guard.conftest import introspection_key

    guard = make_guard(api_key=await introspection_key(app), cache_ttl=timedelta(seconds=1))
    await make_role(app, "reporter", ["reports:*"])
    await make_user(app, "bob", "reporter")
    key = api_key(await service_key(app, "bob", ("reports:read",)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        assert (await api.get("/reports", headers=key)).status_code == 200
        link.down = True
        # Within the cache's second the answer is reused; after it, nothing is accepted.
        assert (await api.get("/reports", headers=key)).status_code == 200
        clock.advance(seconds=1)
        r = await api.get("/reports", headers=key)
        assert r.status_code == 503 and r.json()["code"] == "unavailable"
        assert "retry-after" in r.headers
