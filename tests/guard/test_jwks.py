"""The guard's key cache: one fetch while fresh, ``Cache-Control`` honoured, unknown ``kid``\\ s
refetched at most once per interval and once per burst, discovery, and outbound hygiene
(SECURITY.md OC-07, JW-03, JW-09)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import new_signing_key, public_jwk_members
from idgate.guard import Guard
from idgate.guard.fetch import check_url
from idgate.guard.jwks import cache_lifetime, parse_jwk, parse_jwks
from tests.guard.conftest import (
    API,
    ISSUER,
    GuardFactory,
    IdgateLink,
    introspection_key,
    protected_api,
)
from tests.web.authz_helpers import bearer, login, make_user

DISCOVERY = "/.well-known/openid-configuration"


class Scripted(httpx.AsyncBaseTransport):
    """idgate behind a front that answers some paths itself (a discovery document, a redirect)."""

    def __init__(
        self, link: IdgateLink, answers: dict[str, Callable[[httpx.Request], httpx.Response]]
    ) -> None:
        self.link = link
        self.answers = answers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers.get(request.url.path)
        if answer is not None:
            self.link.requests[request.url.path] += 1
            return answer(request)
        return await self.link.handle_async_request(request)


async def me(guard: Guard, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        return await api.get("/me", headers=headers)


@pytest.fixture
async def alice(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await make_user(app, "alice")
    return await login(client, "alice")


def forged(kid: str, clock: FixedClock) -> dict[str, str]:
    key = new_signing_key("EdDSA", clock.now())
    token = jwt.encode(
        {"sub": "x"}, key.signing_key(), algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"}
    )
    return bearer(token)


async def test_keys_are_fetched_once_and_kept_for_their_max_age(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard()
    for _ in range(10):
        assert (await me(guard, alice)).status_code == 200
    # No discovery document: the well-known JWKS path, once; idgate says max-age=300.
    assert link.requests[DISCOVERY] == 1 and link.jwks_fetches == 1
    clock.advance(seconds=299)
    assert (await me(guard, alice)).status_code == 200
    assert link.jwks_fetches == 1
    clock.advance(seconds=1)
    assert (await me(guard, alice)).status_code == 200
    assert link.jwks_fetches == 2 and link.requests[DISCOVERY] == 1
    assert guard.keys is not None and guard.keys.fetches == 2


async def test_a_configured_max_age_wins(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(jwks_max_age=timedelta(seconds=60))
    assert (await me(guard, alice)).status_code == 200
    clock.advance(seconds=60)
    assert (await me(guard, alice)).status_code == 200
    assert link.jwks_fetches == 2


@pytest.mark.parametrize(
    ("header", "lifetime"),
    [
        ("public, max-age=300", 300),
        ('max-age="120", must-revalidate', 120),
        ("no-store", 0),
        ("private, no-cache", 0),
        ("public", None),
        ("", None),
        (None, None),
        ("s-maxage=50", None),
    ],
)
def test_cache_lifetime(header: str | None, lifetime: int | None) -> None:
    expected = None if lifetime is None else timedelta(seconds=lifetime)
    assert cache_lifetime(header) == expected


async def test_a_burst_of_unknown_kids_makes_one_fetch(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard(refresh_interval=timedelta(seconds=30))
    assert (await me(guard, alice)).status_code == 200
    assert link.jwks_fetches == 1
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        burst = [forged(f"forged-{i}", clock) for i in range(40)]
        answers = await asyncio.gather(*(api.get("/me", headers=h) for h in burst))
        assert {r.status_code for r in answers} == {401}
        assert {r.json()["detail"] for r in answers} == {
            "The access token was not signed by a known key."
        }
        assert link.jwks_fetches == 2  # the whole burst shared one fetch
        # Within the interval, unknown kids cost nothing more; valid tokens still pass.
        clock.advance(seconds=29)
        for i in range(10):
            assert (await api.get("/me", headers=forged(f"again-{i}", clock))).status_code == 401
        assert (await api.get("/me", headers=alice)).status_code == 200
        assert link.jwks_fetches == 2
        clock.advance(seconds=1)
        assert (await api.get("/me", headers=forged("later", clock))).status_code == 401
        assert link.jwks_fetches == 3


class SlowIdgate(httpx.AsyncBaseTransport):
    """An idgate whose JWKS answers take a while: the clock moves on during each fetch."""

    def __init__(self, link: IdgateLink, clock: FixedClock, delay: timedelta) -> None:
        self.link, self.clock, self.delay = link, clock, delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            for _ in range(200):  # let every other request of the burst reach the guard
                await asyncio.sleep(0)
            self.clock.advance(self.delay)
        return await self.link.handle_async_request(request)


async def test_requests_waiting_for_a_fetch_do_not_start_another(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    # The fetch takes as long as the refresh interval: once it is done, the rate limit alone
    # would let each waiting request fetch again. Only one fetch may happen.
    interval = timedelta(seconds=5)
    guard = make_guard(transport=SlowIdgate(link, clock, interval), refresh_interval=interval)
    assert (await me(guard, alice)).status_code == 200
    clock.advance(interval)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        burst = [forged(f"forged-{i}", clock) for i in range(20)]
        answers = await asyncio.gather(*(api.get("/me", headers=h) for h in burst))
    assert {r.status_code for r in answers} == {401}
    assert link.jwks_fetches == 2


async def test_keys_named_by_a_token_are_never_fetched(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink, clock: FixedClock
) -> None:
    guard = make_guard()
    attacker = new_signing_key("EdDSA", clock.now())
    for header in (
        {"jku": "http://testserver/attacker/jwks.json"},
        {"x5u": "http://testserver/attacker/cert.pem"},
        {"jwk": attacker.public_jwk()},
    ):
        token = jwt.encode(
            {"sub": "x"},
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": attacker.kid, "typ": "at+jwt", **header},
        )
        assert (await me(guard, bearer(token))).status_code == 401
    assert set(link.requests) <= {DISCOVERY, "/.well-known/jwks.json"}
    assert not any(path.startswith("/attacker") for path in link.requests)


async def test_a_discovery_document_names_the_jwks(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink
) -> None:
    document = {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/keys"}

    async def keys(request: httpx.Request) -> httpx.Response:
        inner = httpx.Request("GET", f"{ISSUER}/.well-known/jwks.json")
        return await link.inner.handle_async_request(inner)

    class Front(Scripted):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/keys":
                self.link.requests["/keys"] += 1
                response = await keys(request)
                await response.aread()
                return httpx.Response(200, content=response.content, headers=response.headers)
            return await super().handle_async_request(request)

    front = Front(link, {DISCOVERY: lambda _: httpx.Response(200, json=document)})
    guard = make_guard(transport=front)
    assert (await me(guard, alice)).status_code == 200
    assert link.requests["/keys"] == 1 and link.jwks_fetches == 0


async def test_a_discovery_document_of_another_issuer_is_refused(
    make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink
) -> None:
    document = {"issuer": "https://evil.example", "jwks_uri": f"{ISSUER}/.well-known/jwks.json"}
    front = Scripted(link, {DISCOVERY: lambda _: httpx.Response(200, json=document)})
    guard = make_guard(transport=front)
    r = await me(guard, alice)
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    assert "retry-after" in r.headers
    assert link.jwks_fetches == 0


async def test_configured_urls_need_no_discovery(
    app: FastAPI, make_guard: GuardFactory, alice: dict[str, str], link: IdgateLink
) -> None:
    guard = make_guard(jwks_uri=f"{ISSUER}/.well-known/jwks.json")
    assert (await me(guard, alice)).status_code == 200
    assert link.requests == {"/.well-known/jwks.json": 1}
    # The introspection endpoint too: API keys need no discovery either.
    key = await introspection_key(app)
    guard = make_guard(
        api_key=key,
        jwks_uri=f"{ISSUER}/.well-known/jwks.json",
        introspection_endpoint=f"{ISSUER}/introspect",
    )
    assert (await me(guard, {"X-API-Key": key})).status_code == 200
    assert link.requests == {"/.well-known/jwks.json": 1, "/introspect": 1}


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            lambda _: httpx.Response(302, headers={"location": "http://testserver/evil"}),
            id="redirect",
        ),
        pytest.param(
            lambda _: httpx.Response(200, content=b'{"keys": [' + b" " * 300_000 + b"]}"),
            id="oversized",
        ),
        pytest.param(lambda _: httpx.Response(200, content=b"<html>"), id="not-json"),
        pytest.param(lambda _: httpx.Response(200, json=[1, 2]), id="not-an-object"),
        pytest.param(lambda _: httpx.Response(200, json={"no": "keys"}), id="no-keys-member"),
        pytest.param(lambda _: httpx.Response(500), id="server-error"),
    ],
)
async def test_a_bad_jwks_answer_is_never_trusted(
    make_guard: GuardFactory,
    alice: dict[str, str],
    link: IdgateLink,
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    front = Scripted(link, {"/.well-known/jwks.json": answer})
    guard = make_guard(transport=front)
    r = await me(guard, alice)
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    assert "/evil" not in link.requests


# --- what a key must be ------------------------------------------------------------------


def eddsa_jwk(clock: FixedClock, **changes: Any) -> dict[str, Any]:
    key = new_signing_key("EdDSA", clock.now())
    jwk = key.public_jwk()
    assert jwk is not None
    jwk.update(changes)
    return jwk


ALGS = ("EdDSA", "ES256", "RS256")


def test_published_keys_are_parsed_by_their_own_algorithm(clock: FixedClock) -> None:
    for alg in ALGS:
        key = new_signing_key(alg, clock.now())  # type: ignore[arg-type]
        jwk = key.public_jwk()
        assert jwk is not None
        parsed = parse_jwk(jwk, ALGS)
        assert parsed.kid == key.kid and parsed.alg == alg


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"alg": None}, "not accepted"),
        ({"alg": "none"}, "not accepted"),
        ({"alg": "HS256"}, "not accepted"),
        ({"alg": "ES256"}, "does not fit"),
        ({"use": "enc"}, "not a signature key"),
        ({"kid": ""}, "no usable kid"),
        ({"kid": "k" * 200}, "no usable kid"),
        ({"d": "AAAA"}, "private key material"),
        ({"k": "AAAA"}, "private key material"),
        ({"crv": "Ed448"}, "does not fit"),
        ({"kty": "oct"}, "does not fit"),
        ({"x": "!!"}, "key"),
    ],
)
def test_unusable_keys_are_refused(clock: FixedClock, changes: dict[str, Any], reason: str) -> None:
    jwk = {k: v for k, v in eddsa_jwk(clock, **changes).items() if v is not None}
    with pytest.raises(ValueError, match=reason):
        parse_jwk(jwk, ALGS)


def test_short_rsa_keys_are_refused() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid="short", alg="RS256")
    with pytest.raises(ValueError, match="3072 bits"):
        parse_jwk(jwk, ALGS)
    assert public_jwk_members(private)["kty"] == "RSA"


def test_a_duplicated_kid_names_no_key(clock: FixedClock) -> None:
    first, second = eddsa_jwk(clock, kid="same"), eddsa_jwk(clock, kid="same")
    third = eddsa_jwk(clock)
    keys = parse_jwks({"keys": [first, second, third, "junk"]}, ALGS)
    assert set(keys) == {third["kid"]}
    with pytest.raises(ValueError):
        parse_jwks({"keys": "none"}, ALGS)


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        ("https://id.example.com", False, True),
        ("http://127.0.0.1:8000", False, True),
        ("http://localhost:8000", False, True),
        ("http://[::1]:8000", False, True),
        ("http://id.example.com", False, False),
        ("http://id.example.com", True, True),
        ("ftp://id.example.com", True, False),
        ("https://user:pw@id.example.com", False, False),
        ("/relative", False, False),
    ],
)
def test_only_https_urls_are_called(url: str, allow_http: bool, ok: bool) -> None:
    if ok:
        assert check_url(url, allow_http=allow_http, what="issuer") == url
    else:
        with pytest.raises(ValueError):
            check_url(url, allow_http=allow_http, what="issuer")


def test_a_guard_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="plain HTTP"):
        Guard("http://id.example.com", "idgate")
    with pytest.raises(ValueError, match="plain HTTP"):
        Guard("https://id.example.com", "idgate", jwks_uri="http://id.example.com/jwks.json")
