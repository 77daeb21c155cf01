"""The OpenAPI document says which operations take an access token (web/openapi.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI

from idgate.core.principal import Principal
from idgate.web.authorization import AuthorizationDep
from idgate.web.dependencies import CurrentUser, PrincipalDep
from idgate.web.openapi import SCHEME, authenticated_operations


def test_operations_that_authenticate_carry_the_bearer_scheme(app: FastAPI) -> None:
    schema = app.openapi()
    scheme = schema["components"]["securitySchemes"][SCHEME]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from POST /login",
    }
    paths = schema["paths"]
    bearer: list[dict[str, list[str]]] = [{SCHEME: []}]
    for path, method in [
        ("/profile", "get"),
        ("/password/change", "post"),
        ("/logout/all", "post"),
        ("/admin/users", "get"),
        ("/admin/roles", "post"),
        ("/service-accounts", "get"),
    ]:
        assert paths[path][method].get("security") == bearer, (path, method)
    for path, method in [("/public", "get"), ("/login", "post"), ("/register", "post")]:
        assert "security" not in paths[path][method], (path, method)
    assert app.openapi() is schema  # cached, and unchanged by a second pass
    assert paths["/profile"]["get"]["security"] == bearer


def test_authenticated_operations_follow_dependencies_at_any_depth() -> None:
    router = APIRouter()

    async def needs_principal(principal: PrincipalDep) -> Principal:
        return principal

    @router.get("/user")
    async def user(_: CurrentUser) -> None: ...

    @router.delete("/deep", dependencies=[Depends(needs_principal)])
    async def deep() -> None: ...

    @router.put("/authz")
    async def authz(_: AuthorizationDep) -> None: ...

    @router.get("/open")
    async def open_() -> None: ...

    @router.post("/other")
    async def other(_: Annotated[int, Depends(lambda: 1)]) -> None: ...

    assert authenticated_operations([router]) == {
        ("/user", "get"),
        ("/deep", "delete"),
        ("/authz", "put"),
    }
