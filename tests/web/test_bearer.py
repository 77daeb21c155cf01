"""The protected route refuses every token it should, always with a 401 and never a 500."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.pool import Pool

from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import new_signing_key
from idgate.services import Services
from tests.helpers import login_token, register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def assert_invalid(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    r = await client.get("/profile", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith('Bearer realm="idgate"')
    assert r.json()["code"] in {"invalid_token", "unauthenticated"}
    return r


@pytest.fixture
async def token(client: httpx.AsyncClient) -> str:
    await register(client)
    return await login_token(client)


async def test_valid_token(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get("/profile", headers=bearer(token))
    assert r.status_code == 200
    r = await client.get("/profile", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200  # the scheme is case-insensitive (RFC 7235)


async def test_forged_tokens(client: httpx.AsyncClient, token: str, app: FastAPI) -> None:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = jwt.get_unverified_header(token)["kid"]

    def unsigned(alg: str) -> str:
        head = b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": kid}).encode())
        return f"{head}.{payload}."

    attacker = new_signing_key("EdDSA", FixedClock().now())
    services: Services = app.state.services
    public_pem = (
        services.keys.current()
        .active.verification_key()
        .public_bytes(
            encoding=__import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
            ).Encoding.PEM,
            format=__import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]
            ).PublicFormat.SubjectPublicKeyInfo,
        )
    )
    import hashlib
    import hmac

    confusion_head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    mac = hmac.new(public_pem, f"{confusion_head}.{payload}".encode(), hashlib.sha256).digest()
    cases = {
        "alg none": unsigned("none"),
        "alg NONE": unsigned("NONE"),
        "key confusion": f"{confusion_head}.{payload}.{b64(mac)}",
        "foreign kid": jwt.encode(
            claims,
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": attacker.kid, "typ": "at+jwt"},
        ),
        "missing kid": jwt.encode(
            claims, attacker.signing_key(), algorithm="EdDSA", headers={"typ": "at+jwt"}
        ),
        "our kid, attacker's key": jwt.encode(
            claims, attacker.signing_key(), algorithm="EdDSA", headers={"kid": kid, "typ": "at+jwt"}
        ),
        "jwk header": jwt.encode(
            claims,
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": kid, "typ": "at+jwt", "jwk": attacker.public_jwk()},
        ),
        "jku header": jwt.encode(
            claims,
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": kid, "typ": "at+jwt", "jku": "http://127.0.0.1:9/jwks.json"},
        ),
        "x5u header": jwt.encode(
            claims,
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"kid": kid, "typ": "at+jwt", "x5u": "http://127.0.0.1:9/cert.pem"},
        ),
        "tampered": f"{header}.{b64(json.dumps({**claims, 'sub': 'someone-else'}).encode())}."
        f"{signature}",
        "truncated signature": f"{header}.{payload}.{signature[:-4]}",
        "garbage": "garbage",
        "jwe": "a.b.c.d.e",
        "oversized": "a" * 20_000,
    }
    for name, forged in cases.items():
        r = await assert_invalid(client, bearer(forged))
        assert 'error="invalid_token"' in r.headers["www-authenticate"], name


async def test_expired_token(client: httpx.AsyncClient, token: str, clock: FixedClock) -> None:
    clock.advance(timedelta(minutes=16))
    r = await assert_invalid(client, bearer(token))
    assert "expired" in r.json()["detail"]


async def test_token_of_a_disabled_user(
    client: httpx.AsyncClient, token: str, app: FastAPI
) -> None:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("alice")
        assert user is not None
        await uow.users.set_disabled(user.id, True)
        await uow.commit()
    await assert_invalid(client, bearer(token))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Token abc"},
        {"Authorization": "Bearer a b"},
        {"X-User-Id": "1", "X-Role": "admin"},
    ],
)
async def test_missing_or_malformed_authorization(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await assert_invalid(client, headers)


async def test_tokens_are_only_read_from_the_header(client: httpx.AsyncClient, token: str) -> None:
    await assert_invalid(client, {})
    r = await client.get(f"/profile?access_token={token}")
    assert r.status_code == 401
    r = await client.request(
        "GET",
        "/profile",
        data={"access_token": token},
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 401


async def test_a_huge_authorization_header_is_refused_cleanly(client: httpx.AsyncClient) -> None:
    r = await client.get("/profile", headers=bearer("x" * 65_536))
    assert r.status_code in (401, 431)


async def test_a_bearer_request_takes_no_pooled_connection(
    client: httpx.AsyncClient, token: str
) -> None:
    """The bearer check reads the account and the deny-list in one direct statement (SQLite's
    file, or PostgreSQL through a small pool of its own: store/user_state.py) and the request's
    unit of work opens no session, so bearer requests never wait for the pool that logins use."""
    checkouts: list[object] = []

    def count(*args: object) -> None:
        checkouts.append(args)

    event.listen(Pool, "checkout", count)
    try:
        r = await client.get("/profile", headers=bearer(token))
        assert r.status_code == 200
    finally:
        event.remove(Pool, "checkout", count)
    assert checkouts == []
