"""Token introspection (RFC 7662): is this access token or API key good *now*, and what may it do?

Resource servers verify access tokens themselves from the JWKS, which cannot show a revocation
(docs/tokens.md). They ask here when that matters, and for every API key, which only idgate can
check. The answer for anything that is not active is ``{"active": false}`` and nothing else: an
unknown, malformed, expired, revoked or foreign token, a refresh token (only idgate redeems
those), a disabled account's token, a revoked or expired key (RFC 7662 2.2, SECURITY.md OP-15).

An active access token is described by its claims (RFC 7662 2.2 members) plus the account's
roles and permissions as they are now, so a resource server that asks gets the current state,
not the state at issue time (AZ-05). An active API key is described by its service account, its
scopes and its owner's current permissions, as :meth:`ServiceAccountService.authenticate`
computes them; the key may do what both allow.

Who may ask is the web layer's decision (the ``tokens:introspect`` permission).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idgate.core.apikeys import PREFIX as API_KEY_PREFIX, InvalidApiKey
from idgate.core.clock import to_timestamp
from idgate.core.errors import InvalidToken
from idgate.core.models import RequestOrigin
from idgate.core.ports import UnitOfWork
from idgate.core.service_accounts import ServiceAccountService
from idgate.core.tokens.service import TokenService
from idgate.core.tokens.verification import MAX_TOKEN_LENGTH

#: The permission a caller needs to introspect tokens.
INTROSPECT_PERMISSION = "tokens:introspect"
#: ``token_type`` of an active API key; access tokens are ``Bearer`` (RFC 6749 7.1).
API_KEY_TOKEN_TYPE = "api_key"  # noqa: S105 - a type name


@dataclass(frozen=True)
class Introspection:
    """The answer about one token: ``active`` and, only when active, its description."""

    active: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """Return the RFC 7662 response body."""
        if not self.active:
            return {"active": False}
        return {"active": True, **self.details}


INACTIVE = Introspection(active=False)


class TokenIntrospection:
    """Answers introspection requests from idgate's own records (no outbound request)."""

    def __init__(self, tokens: TokenService, service_accounts: ServiceAccountService) -> None:
        self._tokens = tokens
        self._service_accounts = service_accounts

    async def introspect(self, uow: UnitOfWork, token: str, origin: RequestOrigin) -> Introspection:
        """Describe ``token`` if it is an active access token or API key, else :data:`INACTIVE`.

        The ``token_type_hint`` of a request changes nothing: an API key is recognised by its
        prefix and an access token by being a JWT, and RFC 7662 2.1 asks servers to look beyond a
        wrong hint anyway.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return INACTIVE
        if token.startswith(API_KEY_PREFIX):
            return await self._api_key(uow, token, origin)
        return await self._access_token(uow, token)

    async def _access_token(self, uow: UnitOfWork, token: str) -> Introspection:
        try:
            claims, user = await self._tokens.authenticate(uow, token)
        except InvalidToken:
            return INACTIVE
        access = self._tokens.access
        permissions = await uow.roles.permissions_of(user.roles)
        details: dict[str, Any] = {
            "token_type": "Bearer",
            "iss": access.issuer,
            "aud": access.audience,
            "sub": claims.subject,
            "username": user.username,
            "exp": to_timestamp(claims.expires_at),
            "iat": to_timestamp(claims.issued_at),
            "jti": claims.jti,
            "roles": list(user.roles),
            "permissions": list(permissions),
        }
        if claims.scope:
            details["scope"] = " ".join(claims.scope)
        if claims.client_id is not None:
            details["client_id"] = claims.client_id
        if claims.session_id is not None:
            details["sid"] = claims.session_id
        return Introspection(active=True, details=details)

    async def _api_key(self, uow: UnitOfWork, token: str, origin: RequestOrigin) -> Introspection:
        try:
            verified = await self._service_accounts.authenticate(uow, token, origin)
        except InvalidApiKey:
            return INACTIVE
        key, account = verified.key, verified.account
        details: dict[str, Any] = {
            "token_type": API_KEY_TOKEN_TYPE,
            "iss": self._tokens.access.issuer,
            "sub": str(account.id),
            "service_account": account.name,
            "owner_id": str(account.owner_id),
            "key_id": str(key.id),
            "iat": to_timestamp(key.created_at),
            "scope": " ".join(key.scopes),
            "permissions": list(verified.owner_permissions),
        }
        if key.expires_at is not None:
            details["exp"] = to_timestamp(key.expires_at)
        return Introspection(active=True, details=details)
