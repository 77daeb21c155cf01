"""The guard verifies idgate's access tokens locally, with idgate's rules: valid ones pass with
their roles and permissions; forged, expired, foreign and malformed ones get 401, never a 500
(SECURITY.md JW-01..JW-12 from the verifier's side)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import new_signing_key
from idgate.guard import Guard
from idgate.store.keystore import FileKeyStore
from tests.guard.conftest import API, GuardFactory, IdgateLink, protected_api
from tests.web.authz_helpers import bearer, login, make_role, make_user, services_of


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


async def assert_refused(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    r = await api.get("/me", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert r.json()["code"] in {"invalid_token", "unauthenticated"}
    return r


@pytest.fixture
async def alice(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    await make_role(app, "reporter", ["reports:*"])
    await make_user(app, "alice", "reporter")
    return await login(client, "alice")


async def test_a_valid_token_passes_with_what_it_states(
    api: httpx.AsyncClient, alice: dict[str, str], link: IdgateLink
) -> None:
    r = await api.get("/me", headers=alice)
    assert r.status_code == 200, r.text
    claims = jwt.decode(token_of(alice), options={"verify_signature": False})
    assert r.json() == {
        "subject": claims["sub"],
        "kind": "user",
        "method": "bearer",
        "roles": ["reporter", "user"],
        "permissions": ["reports:*"],
        "scopes": [],
        "username": None,
        "owner_id": None,
        "checked": False,
    }
    assert (await api.get("/reports", headers=alice)).status_code == 200
    assert (await api.post("/posts", headers=alice)).status_code == 200
    # The scheme is case-insensitive (RFC 7235); the key was fetched once and no more.
    lower = {"Authorization": f"bearer {token_of(alice)}"}
    for _ in range(5):
        assert (await api.get("/me", headers=lower)).status_code == 200
    assert link.jwks_fetches == 1 and link.introspections == 0


async def test_forged_tokens_are_refused(
    api: httpx.AsyncClient, alice: dict[str, str], app: FastAPI, clock: FixedClock
) -> None:
    token = token_of(alice)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = jwt.get_unverified_header(token)["kid"]

    def unsigned(alg: str) -> str:
        head = b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": kid}).encode())
        return f"{head}.{payload}."

    attacker = new_signing_key("EdDSA", clock.now())
    public_pem = (
        services_of(app)
        .keys.current()
        .active.verification_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    confusion_head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    mac = hmac.new(public_pem, f"{confusion_head}.{payload}".encode(), hashlib.sha256).digest()

    def signed(extra_headers: dict[str, object], body: dict[str, object] = claims) -> str:
        return jwt.encode(
            body,
            attacker.signing_key(),
            algorithm="EdDSA",
            headers={"typ": "at+jwt", **extra_headers},
        )

    cases = {
        "alg none": unsigned("none"),
        "alg NONE": unsigned("NONE"),
        "key confusion": f"{confusion_head}.{payload}.{b64(mac)}",
        "foreign kid": signed({"kid": attacker.kid}),
        "missing kid": signed({}),
        "our kid, attacker's key": signed({"kid": kid}),
        "jwk header": signed({"kid": kid, "jwk": attacker.public_jwk()}),
        "jku header": signed({"kid": kid, "jku": "http://127.0.0.1:9/jwks.json"}),
        "x5u header": signed({"kid": kid, "x5u": "http://127.0.0.1:9/cert.pem"}),
        "tampered": f"{header}.{b64(json.dumps({**claims, 'sub': 'someone-else'}).encode())}."
        f"{signature}",
        "tampered permissions": f"{header}."
        f"{b64(json.dumps({**claims, 'permissions': ['*']}).encode())}.{signature}",
        "truncated signature": f"{header}.{payload}.{signature[:-4]}",
        "garbage": "garbage",
        "jwe": "a.b.c.d.e",
        "oversized": "a" * 20_000,
        "huge kid": signed({"kid": "k" * 5000}),
        "not an access token": jwt.encode(
            claims, attacker.signing_key(), algorithm="EdDSA", headers={"kid": kid, "typ": "JWT"}
        ),
    }
    for name, forged in cases.items():
        r = await assert_refused(api, bearer(forged))
        assert 'error="invalid_token"' in r.headers["www-authenticate"], name


async def test_expired_and_not_yet_valid_tokens(
    api: httpx.AsyncClient, alice: dict[str, str], clock: FixedClock
) -> None:
    assert (await api.get("/me", headers=alice)).status_code == 200
    # The token lives 15 minutes; the default leeway is 30 seconds.
    clock.advance(timedelta(minutes=15, seconds=29))
    assert (await api.get("/me", headers=alice)).status_code == 200
    clock.advance(timedelta(seconds=1))
    r = await assert_refused(api, alice)
    assert r.json() == {"code": "invalid_token", "detail": "The access token has expired."}
    # A token from a clock that runs ahead (issued "in the future").
    clock.set(clock.now() - timedelta(minutes=30))
    r = await assert_refused(api, alice)
    assert "not valid yet" in r.json()["detail"]


async def test_the_audience_and_issuer_must_be_ours(
    app: FastAPI, alice: dict[str, str], make_guard: GuardFactory
) -> None:
    for guard, status in (
        (make_guard(audience="reports-api"), 401),
        (make_guard(audience=["reports-api", "idgate"]), 200),
        (make_guard(issuer="http://testserver/"), 401),
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
        ) as api:
            r = await api.get("/me", headers=alice)
            assert r.status_code == status, r.text


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
async def test_every_asymmetric_algorithm(
    api: httpx.AsyncClient,
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    clock: FixedClock,
    alg: str,
) -> None:
    FileKeyStore(settings.keys_dir, clock).rotate(alg, overlap=timedelta(minutes=20))  # type: ignore[arg-type]
    clock.advance(seconds=1)  # the server notices the new manifest
    await make_user(app, "bob")
    headers = await login(client, "bob")
    assert jwt.get_unverified_header(token_of(headers))["alg"] == alg
    assert (await api.get("/me", headers=headers)).status_code == 200


async def test_a_guard_may_narrow_the_algorithms(
    alice: dict[str, str], make_guard: GuardFactory
) -> None:
    guard = make_guard(algorithms=["ES256"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as api:
        r = await assert_refused(api, alice)
        assert "not signed by a known key" in r.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
        {"Authorization": "Bearer a b"},
        {"X-User-Id": "1", "X-Role": "admin"},
    ],
)
async def test_missing_or_malformed_authorization(
    api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await assert_refused(api, headers)
    if not headers.get("Authorization", "").startswith("Bearer"):
        assert r.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_tokens_are_only_read_from_the_header(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    token = token_of(alice)
    assert (await api.get(f"/me?access_token={token}")).status_code == 401
    r = await api.request(
        "GET",
        "/me",
        content=f"access_token={token}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 401
    api.cookies.set("access_token", token)
    assert (await api.get("/me")).status_code == 401


async def test_hs256_with_the_shared_secret(settings: Settings, clock: FixedClock) -> None:
    secret = "a-sufficiently-long-random-secret-for-hs256-0123456789"
    idgate = create_app(
        settings.model_copy(update={"jwt_algorithm": "HS256", "jwt_secret": SecretStr(secret)}),
        clock=clock,
    )
    async with idgate.router.lifespan_context(idgate):
        link = IdgateLink(idgate)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=idgate), base_url="http://testserver"
        ) as client:
            await make_user(idgate, "alice")
            headers = await login(client, "alice")
        for guard_secret, status in (
            (secret, 200),
            ("another-secret-of-enough-length-0123456", 401),
        ):
            guard = Guard(
                "http://testserver",
                "idgate",
                shared_secret=guard_secret,
                transport=link,
                clock=clock,
            )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
            ) as api:
                assert (await api.get("/me", headers=headers)).status_code == status
            await guard.aclose()
        # No key is ever fetched: the secret is never published.
        assert link.requests == {}
    # An asymmetric guard cannot verify HS256 tokens, and HS256 needs the explicit secret.
    with pytest.raises(ValueError, match="shared_secret"):
        Guard("http://testserver", "idgate", algorithms=["HS256"], allow_http=True)
    with pytest.raises(ValueError, match="32 bytes"):
        Guard("http://testserver", "idgate", shared_secret="short", allow_http=True)


async def test_a_token_seen_before_is_not_verified_again_while_its_key_stays(
    api: httpx.AsyncClient,
    alice: dict[str, str],
    guard: Guard,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guard remembers a token whose signature it checked (as idgate does), with the key
    that checked it: the next requests skip the signature check, a key set fetched anew checks
    it again, and the time claims are checked on every request."""
    checks: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        options = kwargs.get("options")
        if not isinstance(options, dict) or options.get("verify_signature", True):
            checks.append(token)
        return real(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("idgate.core.tokens.verification.jwt.decode", counting)
    for _ in range(3):
        assert (await api.get("/me", headers=alice)).status_code == 200
    assert checks == [token_of(alice)]
    assert guard.keys is not None
    await guard.keys.refresh()  # new key objects: the token is checked once more
    for _ in range(2):
        assert (await api.get("/me", headers=alice)).status_code == 200
    assert checks == [token_of(alice)] * 2
    clock.advance(timedelta(minutes=16))
    r = await assert_refused(api, alice)
    assert r.json()["detail"] == "The access token has expired."
