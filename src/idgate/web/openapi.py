"""The OpenAPI document's security: which operations take an access token.

Authentication is a dependency without dependencies of its own (``web/dependencies.py``): every
authenticated request resolves it, and a security scheme declared as one more dependency cost
about a twentieth of a bearer request (docs/benchmarks.md). FastAPI therefore cannot see the
scheme on those routes by itself; this module adds it to the generated document, so that
``/docs`` still shows which operations need a token and offers its "Authorize" button.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter

from idgate.web.dependencies import current_principal, current_user

#: The scheme's name in ``components.securitySchemes`` (the name FastAPI gives ``HTTPBearer``).
SCHEME = "HTTPBearer"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An access token from POST /login",
}
#: The dependencies that authenticate the caller.
_AUTHENTICATING: frozenset[Callable[..., Any]] = frozenset({current_principal, current_user})


def _authenticates(dependant: Dependant) -> bool:
    if dependant.call in _AUTHENTICATING:
        return True
    return any(_authenticates(dependency) for dependency in dependant.dependencies)


def authenticated_operations(routers: Iterable[APIRouter]) -> set[tuple[str, str]]:
    """Return ``(path, method)`` of every operation of ``routers`` that authenticates its caller.

    Found through ``Depends(current_principal)`` or ``Depends(current_user)`` at any depth; a
    dependency that calls them as plain functions declares its own scheme (as logout does in
    ``web/routers/tokens.py``).
    """
    return {
        (route.path, method.lower())
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and _authenticates(route.dependant)
        for method in route.methods or ()
    }


def declare_bearer_security(app: FastAPI, operations: set[tuple[str, str]]) -> None:
    """Mark ``operations`` in ``app``'s OpenAPI document as taking a bearer token."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's own, cached until the routes change
        # Idempotent, so the cached document may go through here again.
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[SCHEME] = dict(BEARER_SCHEME)  # also named so by the logout route's own scheme
        for path, operations_of_path in schema.get("paths", {}).items():
            for method, operation in operations_of_path.items():
                if (path, method) in operations and not operation.get("security"):
                    operation["security"] = [{SCHEME: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
