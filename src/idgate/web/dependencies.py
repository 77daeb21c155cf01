"""FastAPI dependencies: services, the unit of work, the caller's origin and principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

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
        request.scope[_UOW] = uow  # authentication later in the request shares it
        try:
            yield uow
        except IdgateError:
            await uow.commit()
            raise
        finally:
            request.scope.pop(_UOW, None)
        await uow.commit()


UowDep = Annotated[UnitOfWork, Depends(get_uow, scope="function")]

#: Where a request keeps its unit of work and its principal (in the ASGI scope, per request).
_UOW = "idgate.uow"
_PRINCIPAL = "idgate.principal"


async def current_principal(request: Request) -> Principal:
    """Authenticate the request with the first authenticator whose credential it carries.

    The result is kept for the rest of the request, so routes and dependencies that ask for the
    principal and the user authenticate once. This dependency has no dependencies of its own:
    it runs on every authenticated request, and each dependency FastAPI resolves (a generator
    one most of all) costs more than the bearer check itself (docs/benchmarks.md). It uses the
    request's unit of work if one is open, so that one request never holds two write
    transactions; otherwise a unit of work of its own, committed once the caller is known (an
    API key's last use, a session's last activity) and, like ``get_uow``, also when it refuses
    (the refusal's audit event is kept). Its database session is only opened if a read needs it:
    the bearer check reads the account directly (``store.user_state``).
    """
    cached: Principal | None = request.scope.get(_PRINCIPAL)
    if cached is not None:
        return cached
    services: Services = request.app.state.services
    shared: UnitOfWork | None = request.scope.get(_UOW)
    if shared is not None:
        principal = await _authenticate(request, services, shared)
    else:
        async with services.uow_factory() as uow:
            try:
                principal = await _authenticate(request, services, uow)
            except IdgateError:
                await uow.commit()
                raise
            await uow.commit()
    request.scope[_PRINCIPAL] = principal
    return principal


async def _authenticate(request: Request, services: Services, uow: UnitOfWork) -> Principal:
    authenticators: list[Authenticator] = request.app.state.authenticators
    for authenticator in authenticators:
        if authenticator.applies(request):
            return await authenticator.authenticate(request, services, uow)
    raise AuthenticationError("Not authenticated")


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_user(request: Request) -> User:
    """Return the account behind the request; services (API keys) are refused here (AK-05)."""
    principal = await current_principal(request)  # not a sub-dependency: one fewer to resolve
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
