"""Access tokens: issuing, and every forged or broken token SECURITY.md JW-01..JW-12 lists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from idgate.core.clock import FixedClock, to_timestamp
from idgate.core.errors import InvalidToken
from idgate.core.tokens.access import AccessTokens
from idgate.core.tokens.keys import (
    Algorithm,
    KeySet,
    SigningKey,
    StaticKeyProvider,
    hmac_signing_key,
    new_signing_key,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://idgate.example.test"
AUDIENCE = "idgate"


@cache
def key_for(alg: Algorithm) -> SigningKey:
    if alg == "HS256":
        return hmac_signing_key(b"k" * 32, NOW)
    return new_signing_key(alg, NOW)


def service(alg: Algorithm = "EdDSA", clock: FixedClock | None = None) -> AccessTokens:
    key = key_for(alg)
    return AccessTokens(
        StaticKeyProvider(KeySet([key], key.kid)),
        issuer=ISSUER,
        audience=AUDIENCE,
        ttl=timedelta(minutes=15),
        clock=clock or FixedClock(NOW),
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": to_timestamp(NOW),
        "nbf": to_timestamp(NOW),
        "exp": to_timestamp(NOW + timedelta(minutes=5)),
        "jti": "j1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: SigningKey | None = None, **header: Any) -> str:
    key = key or key_for("EdDSA")
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(payload, key.signing_key(), algorithm=key.alg, headers=headers)


def raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256", "HS256"])
def test_round_trip_for_every_algorithm(alg: Algorithm) -> None:
    tokens = service(alg)
    issued = tokens.issue("user-1", roles=["user"], scope=["posts:read"])
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": alg, "kid": key_for(alg).kid, "typ": "at+jwt"}
    verified = tokens.verify(issued.token)
    assert verified.subject == "user-1"
    assert verified.jti == issued.jti
    assert verified.roles == ("user",)
    assert verified.scope == ("posts:read",)
    assert verified.expires_at == NOW + timedelta(minutes=15)


def test_issued_claims_are_complete_and_hold_no_secrets() -> None:
    issued = service().issue("user-1", roles=["user"], extra={"sub": "evil", "role_hint": 1})
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert set(payload) >= {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "roles"}
    assert payload["sub"] == "user-1"  # extra claims cannot overwrite registered ones
    assert payload["exp"] - payload["iat"] == 15 * 60
    assert len({service().issue("u").jti for _ in range(50)}) == 50


@pytest.mark.parametrize("alg_name", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused_in_any_case(alg_name: str) -> None:
    token = raw_token({"alg": alg_name, "typ": "at+jwt", "kid": key_for("EdDSA").kid}, claims())
    with pytest.raises(InvalidToken):
        service().verify(token)
    with pytest.raises(InvalidToken):
        service().verify(token + "AAAA")


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_hmac_signed_with_the_public_key_is_refused(alg: Algorithm) -> None:
    """Key confusion (CVE-2022-29217): HS256 with the published public key as the secret."""
    key = key_for(alg)
    public = key.verification_key()
    for encoding, fmt in [
        (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    ]:
        secret = public.public_bytes(encoding, fmt)
        header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidToken):
            service(alg).verify(f"{signing_input}.{b64(mac)}")


def test_header_alg_must_match_the_keys_algorithm() -> None:
    es_key = key_for("ES256")
    forged = jwt.encode(
        claims(),
        es_key.signing_key(),
        algorithm="ES256",
        headers={"kid": key_for("EdDSA").kid, "typ": "at+jwt"},
    )
    with pytest.raises(InvalidToken, match=r"algorithm|signature"):
        service("EdDSA").verify(forged)


def test_unknown_and_missing_kid_are_refused() -> None:
    stranger = new_signing_key("EdDSA", NOW)
    with pytest.raises(InvalidToken, match="known key"):
        service().verify(signed(claims(), stranger))
    token = jwt.encode(
        claims(), key_for("EdDSA").signing_key(), algorithm="EdDSA", headers={"typ": "at+jwt"}
    )
    with pytest.raises(InvalidToken, match="known key"):
        service().verify(token)


@pytest.mark.parametrize(
    "kid", ["../../etc/passwd", "' OR '1'='1", "x" * 5000, 12, None, ["a"], {"$ne": 1}]
)
def test_hostile_kids_are_only_dictionary_lookups(kid: Any) -> None:
    token = raw_token({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}, claims(), b"sig")
    with pytest.raises(InvalidToken):
        service().verify(token)


@pytest.mark.parametrize("header_name", ["jku", "x5u", "jwk", "x5c"])
def test_key_locating_headers_are_refused_even_with_a_valid_signature(header_name: str) -> None:
    attacker = new_signing_key("EdDSA", NOW)
    value: Any = "https://attacker.test/keys.json"
    if header_name == "jwk":
        value = attacker.public_jwk()
    elif header_name == "x5c":
        value = ["MIIB..."]
    # Signed by idgate's own key: still refused, the header alone is grounds.
    with pytest.raises(InvalidToken, match="header"):
        service().verify(signed(claims(), **{header_name: value}))
    # Signed by the attacker's embedded key with idgate's kid: refused.
    forged = jwt.encode(
        claims(),
        attacker.signing_key(),
        algorithm="EdDSA",
        headers={"kid": key_for("EdDSA").kid, "typ": "at+jwt", header_name: value},
    )
    with pytest.raises(InvalidToken):
        service().verify(forged)


def test_tampered_payload_fails_the_signature() -> None:
    token = service().issue("user-1").token
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=="))
    decoded["sub"] = "admin"
    forged = f"{header}.{b64(json.dumps(decoded).encode())}.{signature}"
    with pytest.raises(InvalidToken, match="signature"):
        service().verify(forged)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": to_timestamp(NOW - timedelta(minutes=2))}, "expired"),
        ({"nbf": to_timestamp(NOW + timedelta(minutes=5))}, "not valid yet"),
        ({"iat": to_timestamp(NOW + timedelta(minutes=5))}, "not valid yet"),
        ({"iss": "https://evil.test"}, "issuer"),
        ({"iss": ISSUER + "/"}, "issuer"),
        ({"aud": "another-api"}, "audience"),
        ({"exp": "tomorrow"}, "time claim|malformed"),
        ({"sub": 42}, "subject|malformed"),
        ({"roles": "admin"}, "roles"),
        ({"scope": ["a"]}, "scope"),
    ],
)
def test_claim_checks(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        service().verify(signed(claims(**overrides)))


@pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"])
def test_required_claims(missing: str) -> None:
    payload = claims()
    del payload[missing]
    with pytest.raises(InvalidToken):
        service().verify(signed(payload))


def test_leeway_is_small_and_time_comes_from_the_clock() -> None:
    clock = FixedClock(NOW)
    tokens = service(clock=clock)
    issued = tokens.issue("user-1")
    clock.advance(timedelta(minutes=15, seconds=20))
    tokens.verify(issued.token)  # within the 30 s leeway
    clock.advance(timedelta(seconds=15))
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(issued.token)
    with pytest.raises(ValueError):
        AccessTokens(
            StaticKeyProvider(KeySet([key_for("EdDSA")], key_for("EdDSA").kid)),
            issuer=ISSUER,
            audience=AUDIENCE,
            ttl=timedelta(minutes=5),
            clock=clock,
            leeway=timedelta(minutes=5),
        )


@pytest.mark.parametrize("typ", [None, "JWT", "id_token+jwt", "refresh"])
def test_other_token_types_are_not_access_tokens(typ: str | None) -> None:
    key = key_for("EdDSA")
    headers: dict[str, Any] = {"kid": key.kid}
    if typ is not None:
        headers["typ"] = typ
    token = jwt.encode(claims(), key.signing_key(), algorithm="EdDSA", headers=headers)
    with pytest.raises(InvalidToken, match="not an access token"):
        service().verify(token)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c",
        "....",
        "eyJ.eyJ.sig",
        "a.b.c.d.e",  # JWE compact form
        "x" * 9000,
        "e30.e30.",  # {} . {} with empty signature
        b64(b"[1,2]") + "." + b64(b"{}") + ".",
        b64(b"\xff\xfe") + "." + b64(b"{}") + ".sig",
        "eyJhbGciOiJFZERTQSJ9===.e30=.c2ln",
    ],
)
def test_garbage_is_an_invalid_token_never_a_crash(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        service().verify(garbage)


class SwitchableKeys:
    """A key provider whose key set changes, as after a rotation that removes a key."""

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset

    def current(self) -> KeySet:
        return self.keyset


def count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("options", {}).get("verify_signature", True):
            calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr("idgate.core.tokens.access.jwt.decode", counting)
    return calls


def test_a_verified_token_is_remembered_while_its_key_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = count_signature_checks(monkeypatch)
    old, new = key_for("EdDSA"), new_signing_key("EdDSA", NOW)
    keys = SwitchableKeys(KeySet([old], old.kid))
    tokens = AccessTokens(
        keys, issuer=ISSUER, audience=AUDIENCE, ttl=timedelta(minutes=5), clock=FixedClock(NOW)
    )
    token = tokens.issue("user-1").token
    assert tokens.verify(token).subject == tokens.verify(token).subject == "user-1"
    assert checks == [token]
    keys.keyset = KeySet([old, new], new.kid)  # rotated: the old key still verifies
    assert tokens.verify(token).subject == "user-1"
    keys.keyset = KeySet([new], new.kid)  # the old key removed: its tokens stop at once
    with pytest.raises(InvalidToken, match="known key"):
        tokens.verify(token)


def test_remembered_tokens_are_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("idgate.core.tokens.access.VERIFIED_CACHE_SIZE", 3)
    tokens = service()
    issued = [tokens.issue(f"user-{i}").token for i in range(5)]
    for token in issued:
        tokens.verify(token)
    checks = count_signature_checks(monkeypatch)
    tokens.verify(issued[4])
    assert checks == []
    tokens.verify(issued[0])  # forgotten, so checked again
    assert checks == [issued[0]]
    header, _, signature = issued[4].split(".")
    forged = claims(sub="user-0")
    with pytest.raises(InvalidToken, match="signature"):
        tokens.verify(f"{header}.{b64(json.dumps(forged).encode())}.{signature}")
