"""FastAPI dependencies: services, the unit of work, the caller's origin and principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from idgate.core.errors import AuthenticationError, IdgateError, PermissionDenied
from idgate.core.models import RequestOrigin, User
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.services import Services
from idgate.web.authentication import Authenticator
from idgate.web.origin import request_origin


# Dependencies are ``async def`` even when they never await: FastAPI runs a plain ``def`` in a
# worker thread, a round trip that cost more than the rest of a bearer request (bench/).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
OriginDep = Annotated[RequestOrigin, Depends(request_origin)]


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request, committed before the response is sent.

    It also commits when the route raises a deliberate :class:`IdgateError` (so a failed login's
    audit event is kept) and rolls back on anything else; see ``store.uow.run_in_unit_of_work``.
    """
    # Read from the app, not through ``get_services``: every bearer request resolves this
    # dependency, and each one FastAPI resolves costs measurably (docs/benchmarks.md).
    services: Services = request.app.state.services
    async with services.uow_factory() as uow:
        try:
            yield uow
        except IdgateError:
            await uow.commit()
            raise
        await uow.commit()


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

# Declares the scheme for the OpenAPI docs; credentials are parsed by the authenticators.
_bearer = HTTPBearer(auto_error=False, description="An access token from POST /login")


async def current_principal(
    request: Request,
    uow: UowDep,
    _docs: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal:
    """Authenticate the request with the first authenticator whose credential it carries."""
    state = request.app.state
    services: Services = state.services
    authenticators: list[Authenticator] = state.authenticators
    for authenticator in authenticators:
        if authenticator.applies(request):
            return await authenticator.authenticate(request, services, uow)
    raise AuthenticationError("Not authenticated")


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: PrincipalDep) -> User:
    """Return the account behind the request; services (API keys) are refused here (AK-05)."""
    if not principal.is_user or principal.user is None:
        raise PermissionDenied("This endpoint is for user accounts only.")
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]


def require_json(request: Request) -> None:
    """Refuse bodies that are not JSON: a cross-site form cannot post to a JSON endpoint."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415, "The request body must be JSON (Content-Type: application/json).")


__all__ = [
    "CurrentUser",
    "OriginDep",
    "PrincipalDep",
    "ServicesDep",
    "UowDep",
    "current_principal",
    "current_user",
    "get_services",
    "get_uow",
    "require_json",
]
