"""``Guard``: verify idgate's credentials in your own FastAPI service.

::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from idgate.guard import Guard, Principal

    guard = Guard(issuer="https://id.example.com", audience="idgate", api_key=SERVICE_KEY)
    app = FastAPI(lifespan=guard.lifespan)

    @app.get("/me")
    async def me(caller: Annotated[Principal, Depends(guard.principal)]) -> dict[str, str]:
        return {"id": caller.subject}

    @app.get("/reports", dependencies=[Depends(guard.require_permission("reports:read"))])
    async def reports() -> list[Report]: ...

Access tokens are verified locally with the keys of idgate's JWKS (cached, refreshed on
rotation): no call to idgate per request. API keys, and access tokens on routes that opt in with
``check_revocation=True``, are checked by idgate's introspection endpoint, with a short cache.
docs/guard.md describes every argument, the caching and the failure modes.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the dependency
# functions below at run time, and they name variables of the enclosing methods.

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from idgate.core.apikeys import InvalidApiKey, is_well_formed
from idgate.core.clock import Clock, SystemClock
from idgate.core.errors import AuthenticationError, IdgateError, InvalidToken
from idgate.core.rbac import PERMISSIONS_CLAIM, permissions_claim
from idgate.core.tokens.keys import hmac_signing_key
from idgate.core.tokens.verification import (
    AccessClaims,
    VerificationKey,
    VerifiedTokens,
    check_claims,
    check_leeway,
    read_header,
    verified_payload,
)
from idgate.guard.discovery import Discovery
from idgate.guard.errors import forbidden, refusal
from idgate.guard.fetch import Fetcher, check_url
from idgate.guard.introspection import Introspector
from idgate.guard.jwks import ASYMMETRIC_ALGORITHMS, KeyCache
from idgate.guard.principal import Principal

log = logging.getLogger("idgate.guard")

API_KEY_HEADER = "X-API-Key"
#: The shortest HS256 secret accepted (SECURITY.md JW-09: at least the hash's 256 bits).
MIN_SECRET_BYTES = 32
#: Verified tokens a guard remembers (a few MB at most), as idgate itself does.
VERIFIED_TOKENS = 4096

Dependency = Callable[..., Awaitable[Principal]]
OptionalDependency = Callable[..., Awaitable[Principal | None]]

# Declare the two credentials for the OpenAPI docs ("Authorize" in /docs); the guard parses the
# headers itself, so these never refuse anything.
_BEARER_DOC = HTTPBearer(auto_error=False, description="An access token from idgate")
_API_KEY_DOC = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An idgate API key (services)"
)
_STATE = "idgate_guard"


class Guard:
    """Verifies idgate's access tokens and API keys for one service.

    :param issuer: idgate's public URL, exactly as in its tokens' ``iss`` (``IDGATE_ISSUER``).
    :param audience: the ``aud`` this service accepts (``IDGATE_AUDIENCE``), or a list of them.
    :param api_key: this service's own idgate API key with the ``tokens:introspect`` scope; needed
        to accept API keys and for ``check_revocation``. Without it, API keys are refused.
    :param jwks_uri: where the keys are; default: from discovery, else
        ``{issuer}/.well-known/jwks.json``.
    :param introspection_endpoint: default: from discovery, else ``{issuer}/introspect``.
    :param algorithms: the signature algorithms accepted (``EdDSA``, ``ES256``, ``RS256``).
    :param shared_secret: idgate's ``IDGATE_JWT_SECRET`` when it signs with HS256; the guard
        then fetches no keys and accepts only HS256 tokens. A shared secret lets this service
        mint tokens too: prefer asymmetric keys.
    :param leeway: clock skew tolerated on ``exp``/``nbf``/``iat`` (at most 60 s).
    :param jwks_max_age: keep the JWKS this long, whatever its ``Cache-Control`` says.
    :param refresh_interval: fetch the JWKS for an unknown ``kid`` (or after a failure) at most
        this often.
    :param max_stale: how long expired keys keep verifying while idgate cannot be reached.
    :param cache_ttl: how long an introspection answer is reused (revocations are seen after it).
    :param timeout: seconds for each request to idgate.
    :param http_client: an ``httpx.AsyncClient`` to send requests through (you close it).
    :param transport: an httpx transport for the guard's own client (tests: ``ASGITransport``).
    :param clock: the time source (tests: ``FixedClock``).
    :param realm: the ``realm`` of ``WWW-Authenticate`` challenges.
    :param allow_http: allow plain-HTTP URLs to hosts other than this machine.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | Sequence[str],
        *,
        api_key: str | None = None,
        jwks_uri: str | None = None,
        introspection_endpoint: str | None = None,
        algorithms: Sequence[str] = ASYMMETRIC_ALGORITHMS,
        shared_secret: str | bytes | None = None,
        leeway: timedelta = timedelta(seconds=30),
        jwks_max_age: timedelta | None = None,
        refresh_interval: timedelta = timedelta(seconds=5),
        max_stale: timedelta = timedelta(minutes=10),
        cache_ttl: timedelta = timedelta(seconds=1),
        timeout: float = 5.0,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        realm: str = "api",
        allow_http: bool = False,
    ) -> None:
        if not isinstance(audience, str) and not audience:
            raise ValueError("audience must name at least one audience")
        unknown = set(algorithms) - set(ASYMMETRIC_ALGORITHMS)
        if unknown or not algorithms:
            raise ValueError(
                f"algorithms must be among {', '.join(ASYMMETRIC_ALGORITHMS)}; for HS256 pass "
                "shared_secret instead"
            )
        if api_key is not None and not is_well_formed(api_key):
            raise ValueError("api_key is not an idgate API key (idg_...)")
        if refresh_interval <= timedelta(0) or timeout <= 0:
            raise ValueError("refresh_interval and timeout must be positive")
        if max_stale < timedelta(0) or cache_ttl < timedelta(0):
            raise ValueError("max_stale and cache_ttl must not be negative")
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self.issuer = issuer
        self.audience = audience
        self.realm = realm
        self._leeway = check_leeway(leeway)
        self._clock: Clock = clock or SystemClock()
        if shared_secret is None or api_key is not None:
            check_url(issuer, allow_http=allow_http, what="issuer")
        for url, what in ((jwks_uri, "jwks_uri"), (introspection_endpoint, "endpoint")):
            if url is not None:
                check_url(url, allow_http=allow_http, what=what)
        self._static_key: VerificationKey | None = None
        self._verified = VerifiedTokens(VERIFIED_TOKENS)
        if shared_secret is not None:
            secret = shared_secret.encode() if isinstance(shared_secret, str) else shared_secret
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"shared_secret must be at least {MIN_SECRET_BYTES} bytes")
            self._static_key = hmac_signing_key(secret, self._clock.now())
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            transport=transport, follow_redirects=False, timeout=timeout
        )
        fetcher = Fetcher(self._client, timeout=timeout, allow_http=allow_http)
        discovery = Discovery(
            issuer, fetcher, jwks_uri=jwks_uri, introspection_endpoint=introspection_endpoint
        )
        #: idgate's published keys (None with a shared secret).
        self.keys: KeyCache | None = (
            None
            if self._static_key is not None
            else KeyCache(
                discovery,
                fetcher,
                self._clock,
                algorithms=algorithms,
                max_age=jwks_max_age,
                refresh_interval=refresh_interval,
                max_stale=max_stale,
            )
        )
        #: Introspection (None without ``api_key``: API keys are then refused).
        self.introspection: Introspector | None = (
            Introspector(discovery, fetcher, self._clock, credential=api_key, cache_ttl=cache_ttl)
            if api_key is not None
            else None
        )
        self.principal: Dependency = self.authenticated()
        """Dependency: the caller, a person (access token) or a service (API key); 401 if none."""
        self.optional_principal: OptionalDependency = self.optional()
        """Dependency: the caller, or None without a credential (an invalid one is still 401)."""
        self.user: Dependency = self.authenticated(users_only=True)
        """Dependency: a person with an access token; API keys get 403."""

    def __repr__(self) -> str:
        return f"Guard(issuer={self.issuer!r}, audience={self.audience!r})"

    # --- verification --------------------------------------------------------------------

    async def verify_token(self, token: str) -> Principal:
        """Return the principal of a valid access token; raise :class:`InvalidToken`, or
        :class:`~idgate.core.errors.Unavailable` when idgate's keys cannot be had."""
        claims = await self._verified_claims(token)
        return Principal(
            subject=claims.subject,
            kind="user",
            method="bearer",
            roles=claims.roles,
            permissions=permissions_claim(claims.extra.get(PERMISSIONS_CLAIM, [])),
            scopes=claims.scope,
            claims=claims,
            credential_id=claims.jti,
        )

    async def _key_for(self, kid: str) -> VerificationKey:
        if self._static_key is not None:
            if kid != self._static_key.kid:
                raise InvalidToken("The access token was not signed by a known key.")
            return self._static_key
        assert self.keys is not None
        return await self.keys.key_for(kid)

    async def _verified_claims(self, token: str) -> AccessClaims:
        # A token seen before skips its signature check if the key that verified it is still
        # the one idgate publishes for its kid (a fetched key set has new key objects).
        remembered = self._verified.get(token) if isinstance(token, str) else None
        if remembered is not None:
            verified_by, payload = remembered
            if await self._key_for(verified_by.kid) is verified_by:
                return check_claims(payload, self._clock.now(), self._leeway)
            self._verified.forget(token)
        header = read_header(token)
        key = await self._key_for(header.kid)
        payload = verified_payload(token, header, key, self.issuer, self.audience)
        claims = check_claims(payload, self._clock.now(), self._leeway)
        self._verified.remember(token, key, payload)
        return claims

    async def check_revocation(self, principal: Principal, token: str) -> Principal:
        """Ask idgate whether the access token behind ``principal`` is still active; return the
        principal with the account's current roles and permissions, or raise
        :class:`InvalidToken` if it was revoked (or its account disabled)."""
        if principal.checked_with_idgate:
            return principal
        answer = await self._introspector().introspect(token, "access_token")
        claims = principal.claims
        if (
            not answer.get("active")
            or claims is None
            or answer.get("sub") != claims.subject
            or answer.get("jti") != claims.jti
        ):
            raise InvalidToken("The access token has been revoked.")
        return replace(
            principal,
            roles=_strings(answer.get("roles")),
            permissions=permissions_claim(answer.get("permissions", [])),
            username=_string(answer.get("username")),
            checked_with_idgate=True,
        )

    async def verify_api_key(self, key: str) -> Principal:
        """Return the service principal of an active API key; raise
        :class:`~idgate.core.apikeys.InvalidApiKey` (one answer for every bad key, AK-04)."""
        if self.introspection is None:
            raise InvalidApiKey("This service does not accept API keys.")
        if not is_well_formed(key):
            raise InvalidApiKey()
        answer = await self.introspection.introspect(key, "api_key")
        subject = answer.get("sub")
        scope = answer.get("scope", "")
        if (
            not answer.get("active")
            or answer.get("token_type") != "api_key"
            or answer.get("iss") != self.issuer
            or not isinstance(subject, str)
            or not isinstance(scope, str)
        ):
            raise InvalidApiKey()
        return Principal(
            subject=subject,
            kind="service",
            method="api_key",
            permissions=permissions_claim(answer.get("permissions", [])),
            scopes=permissions_claim(scope.split()),
            username=_string(answer.get("service_account")),
            owner_id=_string(answer.get("owner_id")),
            credential_id=_string(answer.get("key_id")),
            checked_with_idgate=True,
        )

    async def authenticate(
        self, request: Request, *, check_revocation: bool = False
    ) -> Principal | None:
        """Return the caller of ``request``, or None if it carries no credential.

        The ``Authorization: Bearer`` header decides when present, else ``X-API-Key``; nothing
        is read from the query string, a form or a cookie (JW-11, AK-03). A credential that fails
        raises :class:`GuardRefusal` (401, or 503 when idgate cannot be asked); there is no
        falling back to another credential. The result is kept for the rest of the request.
        """
        try:
            return await self._authenticate(request, check_revocation)
        except IdgateError as exc:
            log.debug("request refused: %s", exc.code)
            raise refusal(exc, self.realm) from None

    async def _authenticate(self, request: Request, check_revocation: bool) -> Principal | None:
        state: dict[str, Any] | None = getattr(request.state, _STATE, None)
        if state is None:
            state = {}
            setattr(request.state, _STATE, state)
        principal: Principal | None = state.get("principal")
        if principal is None:
            credential = _credential(request)
            if credential is None:
                return None
            method, value = credential
            if method == "bearer":
                principal = await self.verify_token(value)
            else:
                principal = await self.verify_api_key(value)
            state["principal"], state["token"] = principal, value
        if check_revocation and principal.method == "bearer":
            principal = await self.check_revocation(principal, state["token"])
            state["principal"] = principal
        return principal

    async def refresh_keys(self) -> None:
        """Fetch idgate's keys now (optional, e.g. at start-up; they are fetched on first need
        anyway). Raises :class:`~idgate.core.errors.Unavailable` if idgate cannot be reached."""
        if self.keys is not None:
            await self.keys.refresh()

    async def aclose(self) -> None:
        """Close the guard's own HTTP client (not one passed in as ``http_client``)."""
        if self._owns_client:
            await self._client.aclose()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """A FastAPI ``lifespan`` that closes the guard when the app stops."""
        try:
            yield
        finally:
            await self.aclose()

    # --- dependencies --------------------------------------------------------------------

    def authenticated(
        self, *, users_only: bool = False, check_revocation: bool = False
    ) -> Dependency:
        """Dependency: the authenticated caller (401 without a valid credential).

        ``users_only``: refuse services (API keys) with 403. ``check_revocation``: also ask
        idgate whether the access token was revoked (needs ``api_key``).
        """
        self._needs_introspection(check_revocation)

        async def dependency(
            request: Request,
            _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER_DOC)] = None,
            _key: Annotated[str | None, Depends(_API_KEY_DOC)] = None,
        ) -> Principal:
            principal = await self._authenticate_or_refuse(request, check_revocation)
            if users_only and not principal.is_user:
                raise forbidden("This route is for user accounts only.")
            return principal

        return dependency

    def optional(self, *, check_revocation: bool = False) -> OptionalDependency:
        """Dependency: the caller, or None when the request carries no credential at all."""
        self._needs_introspection(check_revocation)

        async def dependency(
            request: Request,
            _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER_DOC)] = None,
            _key: Annotated[str | None, Depends(_API_KEY_DOC)] = None,
        ) -> Principal | None:
            return await self.authenticate(request, check_revocation=check_revocation)

        return dependency

    def require_permission(self, *permissions: str, check_revocation: bool = False) -> Dependency:
        """Dependency: the caller must be allowed every one of ``permissions`` (patterns such
        as ``posts:*`` in their roles count; scopes narrow); returns the principal."""
        authenticated = self.authenticated(check_revocation=check_revocation)

        async def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
            for permission in permissions:
                principal.require(permission)
            return principal

        return dependency

    def require_scope(self, *scopes: str, check_revocation: bool = False) -> Dependency:
        """Dependency: the credential itself must carry every one of ``scopes`` (an API key's
        scopes, an access token's ``scope`` claim) (AZ-06)."""
        authenticated = self.authenticated(check_revocation=check_revocation)

        async def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
            for scope in scopes:
                if not principal.has_scope(scope):
                    raise forbidden(
                        f"This credential lacks the {scope!r} scope.", realm=self.realm, scope=scope
                    )
            return principal

        return dependency

    def require_role(self, role: str, *, check_revocation: bool = False) -> Dependency:
        """Dependency: the caller must be a person holding ``role`` (API keys hold no roles)."""
        authenticated = self.authenticated(check_revocation=check_revocation)

        async def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
            if not principal.has_role(role):
                raise forbidden(f"You need the {role!r} role.")
            return principal

        return dependency

    # --- internals -----------------------------------------------------------------------

    async def _authenticate_or_refuse(self, request: Request, check_revocation: bool) -> Principal:
        principal = await self.authenticate(request, check_revocation=check_revocation)
        if principal is None:
            missing = AuthenticationError(
                "Not authenticated: send an 'Authorization: Bearer' access token "
                "or an X-API-Key header."
            )
            raise refusal(missing, self.realm)
        return principal

    def _introspector(self) -> Introspector:
        if self.introspection is None:
            raise ValueError(
                "the revocation check needs the guard's api_key: an idgate API key with the "
                "tokens:introspect scope"
            )
        return self.introspection

    def _needs_introspection(self, check_revocation: bool) -> None:
        if check_revocation:
            self._introspector()


def _credential(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthenticationError("Not authenticated: use an 'Authorization: Bearer' header.")
        value = value.strip()
        if not value or " " in value:
            raise InvalidToken("The access token is malformed.")
        return "bearer", value
    key = request.headers.get(API_KEY_HEADER)
    if key is not None:
        return "api_key", key.strip()
    return None


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return ()
    return tuple(value)
