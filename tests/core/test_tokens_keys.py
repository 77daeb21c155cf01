from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from idgate.core.tokens.keys import (
    ROTATION_MARGIN,
    KeySet,
    hmac_signing_key,
    new_signing_key,
    private_key_from_pem,
    private_key_to_pem,
    rotation_overlap,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


@pytest.mark.parametrize(("alg", "kty"), [("EdDSA", "OKP"), ("ES256", "EC"), ("RS256", "RSA")])
def test_jwks_publishes_public_members_only(alg: str, kty: str) -> None:
    key = new_signing_key(alg, NOW)  # type: ignore[arg-type]
    jwks = KeySet([key], key.kid).jwks()
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == kty and jwk["kid"] == key.kid and jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert not PRIVATE_MEMBERS & jwk.keys()


def test_rsa_keys_are_3072_bits() -> None:
    key = new_signing_key("RS256", NOW)
    assert key.private_key.key_size == 3072  # type: ignore[union-attr]


def test_symmetric_keys_are_never_published() -> None:
    key = hmac_signing_key(b"s" * 32, NOW)
    assert KeySet([key], key.kid).jwks() == {"keys": []}
    assert "s" * 8 not in key.kid
    assert "private_key" not in repr(key) or "sss" not in repr(key)


def test_kids_are_unique_thumbprints() -> None:
    keys = [new_signing_key("EdDSA", NOW) for _ in range(5)]
    assert len({k.kid for k in keys}) == 5
    with pytest.raises(ValueError, match="duplicate"):
        KeySet([keys[0], keys[0]], keys[0].kid)
    with pytest.raises(ValueError, match="active"):
        KeySet(keys, "missing")


def test_pem_round_trip_checks_the_algorithm() -> None:
    key = new_signing_key("ES256", NOW)
    pem = private_key_to_pem(key.private_key)  # type: ignore[arg-type]
    assert private_key_from_pem(pem, "ES256").public_key() == key.verification_key()
    with pytest.raises(ValueError, match="not a EdDSA key"):
        private_key_from_pem(pem, "EdDSA")


def test_retired_keys_leave_the_usable_set() -> None:
    active = new_signing_key("EdDSA", NOW)
    soon = replace(new_signing_key("EdDSA", NOW), retire_at=NOW + timedelta(minutes=1))
    later = replace(new_signing_key("ES256", NOW), retire_at=NOW + timedelta(minutes=5))
    keys = KeySet([active, soon, later], active.kid)
    assert keys.usable_at(NOW) is keys
    assert keys.next_retirement(NOW) == NOW + timedelta(minutes=1)
    at_one = keys.usable_at(NOW + timedelta(minutes=1))
    assert set(at_one.keys) == {active.kid, later.kid}
    assert keys.next_retirement(NOW + timedelta(minutes=1)) == NOW + timedelta(minutes=5)
    at_five = keys.usable_at(NOW + timedelta(minutes=5))
    assert set(at_five.keys) == {active.kid}
    assert [k["kid"] for k in at_five.jwks()["keys"]] == [active.kid]
    assert keys.next_retirement(NOW + timedelta(minutes=5)) is None


def test_the_rotation_overlap_outlives_every_token() -> None:
    overlap = rotation_overlap(timedelta(minutes=15), timedelta(seconds=30))
    assert overlap == timedelta(minutes=15, seconds=30) + ROTATION_MARGIN
