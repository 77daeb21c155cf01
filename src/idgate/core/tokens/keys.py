"""Signing keys: one active key signs, every key in the set verifies, each named by its ``kid``.

Asymmetric keys are the default (Ed25519 / EdDSA; ES256 on P-256 and RS256 on RSA-3072 on
request), so the public half can be published as a JWKS and any service can verify idgate's
tokens. HS256 is an explicit opt-in for single-service deployments; its secret is never published.

Each key is tied to exactly one algorithm (RFC 8725 3.1): a token is verified only with the
algorithm of the key its ``kid`` names, whatever its header claims.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode

Algorithm = Literal["EdDSA", "ES256", "RS256", "HS256"]
ASYMMETRIC_ALGORITHMS: tuple[Algorithm, ...] = ("EdDSA", "ES256", "RS256")

PrivateKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: RSA keys are generated at 3072 bits (128-bit strength; ASVS 11.2.3, SECURITY.md JW-09).
RSA_BITS = 3072


#: Extra verification time after a rotation, beyond the access-token lifetime and leeway: it
#: covers running servers that sign with the old key until they notice the new manifest (they
#: look once a second) and small clock differences between instances.
ROTATION_MARGIN = timedelta(seconds=60)


def rotation_overlap(access_token_ttl: timedelta, leeway: timedelta) -> timedelta:
    """Return how long a replaced key must keep verifying: until the last token it signed is dead.

    HD-08, SECURITY.md section 3: rotate with an overlap at least the longest token lifetime.
    """
    return access_token_ttl + leeway + ROTATION_MARGIN


@dataclass(frozen=True)
class SigningKey:
    """A key with its id and its one algorithm.

    ``private_key`` is a ``cryptography`` private key, or the raw secret for HS256.
    ``retire_at``: once set, the key no longer signs and is dropped after that moment.
    """

    kid: str
    alg: Algorithm
    private_key: PrivateKey | bytes = field(repr=False)
    created_at: datetime
    retire_at: datetime | None = None

    @property
    def is_symmetric(self) -> bool:
        return self.alg == "HS256"

    def signing_key(self) -> PrivateKey | bytes:
        return self.private_key

    def verification_key(self) -> Any:
        """Return what PyJWT needs to verify with this key (the public key, or the secret)."""
        if isinstance(self.private_key, bytes):
            return self.private_key
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any] | None:
        """Return the public JWK (RFC 7517) of this key, or None for a symmetric key."""
        if isinstance(self.private_key, bytes):
            return None
        jwk = public_jwk_members(self.private_key)
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk


def public_jwk_members(key: PrivateKey) -> dict[str, Any]:
    """Return only the public members of ``key`` as a JWK dict (never d, p, q, ...)."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {k: v for k, v in dict(jwk).items() if k in {"kty", "crv", "x", "y", "n", "e"}}


def thumbprint(key: PrivateKey) -> str:
    """Return the RFC 7638 JWK thumbprint of the public key (base64url SHA-256), used as kid."""
    members = public_jwk_members(key)
    required = {
        "OKP": ("crv", "kty", "x"),
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
    }
    canonical = {name: members[name] for name in required[members["kty"]]}
    data = json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()
    return base64url_encode(hashlib.sha256(data).digest()).decode()


def generate_private_key(alg: Algorithm) -> PrivateKey:
    """Return a fresh private key for an asymmetric algorithm."""
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    raise ValueError(f"no key generation for {alg}: HS256 secrets come from the settings")


def new_signing_key(alg: Algorithm, now: datetime) -> SigningKey:
    """Return a newly generated asymmetric :class:`SigningKey` whose kid is its thumbprint."""
    private = generate_private_key(alg)
    return SigningKey(kid=thumbprint(private), alg=alg, private_key=private, created_at=now)


def hmac_signing_key(secret: bytes, now: datetime) -> SigningKey:
    """Return the HS256 key for ``secret``. Its kid reveals nothing usable about the secret."""
    kid = "hs256-" + hashlib.sha256(b"idgate-kid:" + secret).hexdigest()[:16]
    return SigningKey(kid=kid, alg="HS256", private_key=secret, created_at=now)


def private_key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(data: bytes, alg: Algorithm) -> PrivateKey:
    """Load a PEM private key and check that it fits ``alg`` (one algorithm per key)."""
    key = serialization.load_pem_private_key(data, password=None)
    expected: dict[Algorithm, type[Any]] = {
        "EdDSA": ed25519.Ed25519PrivateKey,
        "ES256": ec.EllipticCurvePrivateKey,
        "RS256": rsa.RSAPrivateKey,
    }
    if alg not in expected or not isinstance(key, expected[alg]):
        raise ValueError(f"the key is not a {alg} key")
    if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < RSA_BITS:
        raise ValueError(f"RS256 keys must have at least {RSA_BITS} bits")
    return key  # type: ignore[no-any-return]


class KeySet:
    """The keys idgate signs and verifies with: exactly one active key, plus verify-only keys."""

    def __init__(self, keys: Iterable[SigningKey], active_kid: str) -> None:
        self._keys: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in self._keys:
                raise ValueError(f"duplicate kid {key.kid!r}")
            self._keys[key.kid] = key
        if active_kid not in self._keys:
            raise ValueError(f"the active kid {active_kid!r} is not in the key set")
        self.active = self._keys[active_kid]

    def get(self, kid: str) -> SigningKey | None:
        """Return the key named ``kid``; ``kid`` is only ever a dictionary index (RFC 8725 3.10)."""
        return self._keys.get(kid)

    @property
    def keys(self) -> Mapping[str, SigningKey]:
        return dict(self._keys)

    def usable_at(self, now: datetime) -> KeySet:
        """Return this set without the keys retired at ``now`` (the active key always stays).

        A retired key neither verifies nor appears in the JWKS: every token it signed has expired.
        """
        kept = [
            key
            for key in self._keys.values()
            if key is self.active or key.retire_at is None or key.retire_at > now
        ]
        if len(kept) == len(self._keys):
            return self
        return KeySet(kept, self.active.kid)

    def next_retirement(self, now: datetime) -> datetime | None:
        """Return the earliest retirement still to come after ``now``, if any."""
        moments = [
            key.retire_at
            for key in self._keys.values()
            if key is not self.active and key.retire_at is not None and key.retire_at > now
        ]
        return min(moments, default=None)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Return the public JWK Set (RFC 7517 section 5); symmetric keys are never published."""
        return {
            "keys": [jwk for key in self._keys.values() if (jwk := key.public_jwk()) is not None]
        }


class KeyProvider(Protocol):
    """Where the current :class:`KeySet` comes from; may change at run time (key rotation)."""

    def current(self) -> KeySet:
        """Return the key set to use for this operation."""
        ...


class StaticKeyProvider:
    """A :class:`KeyProvider` that always returns the same key set."""

    def __init__(self, keyset: KeySet) -> None:
        self._keyset = keyset

    def current(self) -> KeySet:
        return self._keyset
