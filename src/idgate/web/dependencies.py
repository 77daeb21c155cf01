"""FastAPI dependencies: the unit of work, the caller's origin, the bearer-token principal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from idgate.core.errors import AuthenticationError, IdgateError, InvalidToken
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.tokens.access import AccessClaims
from idgate.services import Services
from idgate.web.origin import request_origin


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
OriginDep = Annotated[RequestOrigin, Depends(request_origin)]


async def get_uow(services: ServicesDep) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request, committed before the response is sent.

    It also commits when the route raises a deliberate :class:`IdgateError` (so a failed login's
    audit event is kept) and rolls back on anything else; see ``store.uow.run_in_unit_of_work``.
    """
    async with services.uow_factory() as uow:
        try:
            yield uow
        except IdgateError:
            await uow.commit()
            raise
        await uow.commit()


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

# Declares the scheme for the OpenAPI docs; the token itself is parsed strictly below.
_bearer = HTTPBearer(auto_error=False, description="An access token from POST /login")


def bearer_token(
    request: Request,
    _docs: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> str:
    """Return the bearer token of the Authorization header (never a query or form value)."""
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationError("Not authenticated")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationError("Not authenticated: use an 'Authorization: Bearer' header.")
    value = value.strip()
    if not value or " " in value:
        raise InvalidToken("The access token is malformed.")
    return value


def current_claims(
    token: Annotated[str, Depends(bearer_token)], services: ServicesDep
) -> AccessClaims:
    """Verify the request's access token and return its claims."""
    return services.access_tokens.verify(token)


ClaimsDep = Annotated[AccessClaims, Depends(current_claims)]


async def current_user(claims: ClaimsDep, uow: UowDep) -> User:
    """Return the enabled account the access token was issued to (SECURITY.md JW-06)."""
    try:
        user_id = uuid.UUID(claims.subject)
    except ValueError:
        raise InvalidToken("The access token's subject is unknown.") from None
    user = await uow.users.get(user_id)
    if user is None or user.disabled:
        raise InvalidToken("The account behind this access token is not active.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_json(request: Request) -> None:
    """Refuse bodies that are not JSON: a cross-site form cannot post to a JSON endpoint."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, "The request body must be JSON (Content-Type: application/json).")


__all__ = [
    "ClaimsDep",
    "CurrentUser",
    "OriginDep",
    "ServicesDep",
    "UowDep",
    "bearer_token",
    "current_claims",
    "current_user",
    "get_services",
    "get_uow",
    "require_json",
]
