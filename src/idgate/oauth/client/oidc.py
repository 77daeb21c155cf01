"""OpenID Connect providers (Google, and any provider by its issuer URL).

* **Discovery** (OIDC Discovery 1.0) is read from ``<issuer>/.well-known/openid-configuration``
  only, and refused unless its ``issuer`` equals the configured issuer exactly (section 4.3,
  SECURITY.md OC-03); the endpoints it names are the only other URLs used. It is kept for an
  hour.
* **The JWKS** comes from the discovery's ``jwks_uri``, kept in memory, and fetched again when an
  ID token names a key it does not hold (key rotation), at most once a minute.
* **ID tokens** (OIDC Core 3.1.3.7) must be signed by one of those keys with an asymmetric
  algorithm the provider announces (never ``none``, never HMAC), and carry ``iss`` equal to the
  issuer, ``aud`` containing our client id (and ``azp`` equal to it when there are several
  audiences), a ``nonce`` equal to the one this login sent, and a current ``exp`` and ``iat``.
* **User info**, when the provider has the endpoint, adds the claims a conforming provider keeps
  out of the ID token (email); its ``sub`` must equal the ID token's (OIDC Core 5.3.2).
* **RFC 9207**: an ``iss`` in the authorization response must equal the issuer; a provider that
  announces ``authorization_response_iss_parameter_supported`` must send it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from idgate.core.clock import Clock
from idgate.core.federation import SocialLoginFailed, UpstreamIdentity
from idgate.oauth.client.http import ProviderHttp, exchange_code

#: Asymmetric JWS algorithms accepted for ID tokens (RFC 8725 3.1: never ``none``, never HMAC,
#: whose key would be the client secret).
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DISCOVERY_TTL = timedelta(hours=1)
JWKS_REFETCH = timedelta(minutes=1)
LEEWAY = 60


@dataclass(frozen=True)
class Discovery:
    """The parts of a provider's discovery document idgate uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: frozenset[str]
    iss_parameter: bool
    fetched_at: datetime


def _url(document: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise SocialLoginFailed("bad_discovery", f"The provider's discovery has no valid {name}.")
    return value


class OidcProvider:
    """A provider found by discovery from its issuer URL; see the module docstring."""

    kind = "oidc"

    def __init__(
        self,
        *,
        name: str,
        title: str,
        issuer: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...],
        http: ProviderHttp,
        clock: Clock,
        auth_method: str = "client_secret_basic",
        kind: str = "oidc",
        extra_params: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.kind = kind
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = scopes
        self.auth_method = auth_method
        self._http = http
        self._clock = clock
        self._extra = dict(extra_params or {})
        self._discovery: Discovery | None = None
        self._keys: KeySet | None = None
        self._keys_fetched_at: datetime | None = None

    def __repr__(self) -> str:
        return f"OidcProvider(name={self.name!r}, issuer={self.issuer!r})"

    # --- discovery and keys --------------------------------------------------------------------

    async def discovery(self) -> Discovery:
        """Return the provider's discovery (fetched, checked, cached for an hour)."""
        now = self._clock.now()
        cached = self._discovery
        if cached is not None and now - cached.fetched_at < DISCOVERY_TTL:
            return cached
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._http.get_json(url, provider=self.name)
        if not isinstance(document, dict):
            raise SocialLoginFailed("bad_discovery")
        if document.get("issuer") != self.issuer:
            # OIDC Discovery 4.3: the issuer must be exactly the one configured (mix-up defence).
            raise SocialLoginFailed(
                "discovery_issuer_mismatch",
                "The provider's discovery names another issuer than the one configured.",
            )
        announced = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = frozenset(a for a in announced if isinstance(a, str)) & ASYMMETRIC
        if not algorithms:
            raise SocialLoginFailed("no_acceptable_algorithm")
        discovery = Discovery(
            issuer=self.issuer,
            authorization_endpoint=str(_url(document, "authorization_endpoint")),
            token_endpoint=str(_url(document, "token_endpoint")),
            jwks_uri=str(_url(document, "jwks_uri")),
            userinfo_endpoint=_url(document, "userinfo_endpoint", required=False),
            algorithms=algorithms,
            iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
            fetched_at=now,
        )
        self._discovery = discovery
        return discovery

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        now = self._clock.now()
        fresh_enough = (
            self._keys_fetched_at is not None and now - self._keys_fetched_at < JWKS_REFETCH
        )
        if self._keys is not None and (not refresh or fresh_enough):
            return self._keys
        discovery = await self.discovery()
        document = await self._http.get_json(discovery.jwks_uri, provider=self.name)
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, KeyError, TypeError):
            raise SocialLoginFailed("bad_jwks") from None
        self._keys, self._keys_fetched_at = keys, now
        return keys

    # --- the flow ------------------------------------------------------------------------------

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        discovery = await self.discovery()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
            **self._extra,
        }
        url: str = add_params_to_uri(discovery.authorization_endpoint, params)
        return url

    async def check_issuer(self, iss: str | None) -> None:
        discovery = await self.discovery()
        if iss is None:
            if discovery.iss_parameter:
                raise SocialLoginFailed("missing_iss")
            return
        if iss != self.issuer:
            raise SocialLoginFailed(
                "iss_mismatch", "The answer came from another provider than the one chosen."
            )

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        discovery = await self.discovery()
        token = await exchange_code(
            self._http,
            provider=self.name,
            token_endpoint=discovery.token_endpoint,
            client_id=self.client_id,
            client_secret=self._client_secret,
            auth_method=self.auth_method,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SocialLoginFailed("no_id_token", "The provider sent no ID token.")
        claims = await self.verify_id_token(id_token, nonce)
        if discovery.userinfo_endpoint is not None:
            info = await self._http.get_json(
                discovery.userinfo_endpoint,
                provider=self.name,
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
            if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
                raise SocialLoginFailed("userinfo_subject_mismatch")
            claims = {**info, **claims}
        return identity_from_claims(self.name, claims)

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Return the claims of ``id_token`` after every check of the module docstring."""
        discovery = await self.discovery()
        algorithms = sorted(discovery.algorithms)
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                keys = await self._key_set(refresh=True)  # the provider may have rotated keys
                decoded = jwt.decode(id_token, keys, algorithms=algorithms)
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self._clock.now().timestamp()),
                leeway=LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise SocialLoginFailed(
                "bad_id_token:" + type(exc).__name__,
                "The provider's ID token did not pass idgate's checks.",
            ) from None
        claims = dict(decoded.claims)
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise SocialLoginFailed("bad_id_token:azp")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise SocialLoginFailed("bad_id_token:sub")
        return claims


def _text(value: object, limit: int = 255) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def identity_from_claims(provider: str, claims: dict[str, Any]) -> UpstreamIdentity:
    """Return the identity the verified ``claims`` describe (OIDC standard claims)."""
    email = _text(claims.get("email"), 320)
    verified = claims.get("email_verified")
    return UpstreamIdentity(
        provider=provider,
        subject=str(claims["sub"]),
        email=email.strip().lower() if email else None,
        email_verified=bool(email) and (verified is True or verified == "true"),
        login=_text(claims.get("preferred_username")),
        name=_text(claims.get("name")),
    )
