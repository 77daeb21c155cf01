"""How a request proves who it is. Each way is an :class:`Authenticator`; ``create_app`` lists
them in order and the first one whose credential the request carries decides.

A request that carries a credential which fails is refused; idgate never falls through to a
weaker method after a failed one.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from idgate.core.errors import AuthenticationError, InvalidToken
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.services import Services


class Authenticator(Protocol):
    """One kind of credential (bearer token, session cookie, API key).

    Example::

        class HeaderKeyAuthenticator:
            def applies(self, request: Request) -> bool:
                return "x-api-key" in request.headers

            async def authenticate(self, request, services, uow) -> Principal:
                ...  # raise AuthenticationError when the key is wrong
    """

    def applies(self, request: Request) -> bool:
        """Return whether ``request`` carries this kind of credential at all."""
        ...

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        """Return the principal, or raise :class:`AuthenticationError` / ``InvalidToken``."""
        ...


def bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, None if there is no such header.

    Tokens are only ever read from this header, never from a query string or form (ASVS 14.2.1).
    """
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    if not value or " " in value:
        raise InvalidToken("The access token is malformed.")
    return value


class BearerAuthenticator:
    """Access tokens in the Authorization header, for enabled accounts only (JW-06)."""

    def applies(self, request: Request) -> bool:
        return "authorization" in request.headers

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise AuthenticationError("Not authenticated: use an 'Authorization: Bearer' header.")
        claims, user = await services.tokens.authenticate(uow, token)
        return Principal(
            subject=str(user.id),
            kind="user",
            method="bearer",
            user=user,
            roles=user.roles,
            scopes=claims.scope,
            claims=claims,
        )
