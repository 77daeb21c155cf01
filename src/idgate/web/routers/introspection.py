"""Token introspection (RFC 7662): ``POST /introspect`` for resource servers.

The caller authenticates itself (RFC 7662 2.1, SECURITY.md OP-15), normally with its own API key
in ``X-API-Key``, and must hold the ``tokens:introspect`` permission: a key scoped for it whose
owner holds it, or an access token of a user who holds it. A browser session cookie is refused:
introspection is for services. The token to describe comes in the form-encoded body, never in a
header or the query string.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse

from idgate.core.introspection import INTROSPECT_PERMISSION
from idgate.web.authorization import AuthorizationDep
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep
from idgate.web.ratelimit import rate_limit

_FORM = "application/x-www-form-urlencoded"
#: RFC 7662 answers describe credentials: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def require_form(request: Request) -> None:
    """RFC 7662 2.1: the request is ``application/x-www-form-urlencoded``."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != _FORM:
        raise HTTPException(415, f"The request body must be form-encoded (Content-Type: {_FORM}).")


def build_router() -> APIRouter:
    router = APIRouter(tags=["tokens"])

    @router.post(
        "/introspect",
        name="introspect",
        responses={
            200: {"description": '{"active": true, ...} or {"active": false}'},
            401: {"description": "The caller did not authenticate"},
            403: {"description": "The caller lacks the tokens:introspect permission"},
            415: {"description": "The body is not form-encoded"},
            429: {"description": "Rate limited; Retry-After says for how long"},
        },
        # The caller first (401 before anything else, AZ-01), then the shape of the request.
        dependencies=[rate_limit("introspect", per_user=True), Depends(require_form)],
    )
    async def introspect(
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        token: Annotated[str, Form(description="The access token or API key to describe.")],
        token_type_hint: Annotated[
            str | None,
            Form(max_length=64, description="access_token or api_key; only a hint."),
        ] = None,
    ) -> JSONResponse:
        """Say whether an access token or API key is active now and, if so, what it carries.

        Anything invalid, expired, revoked, unknown or not idgate's answers ``{"active": false}``
        with no other member.
        """
        if authz.principal.method == "session":
            await authz.deny(
                "introspection_by_session",
                "Introspection is for services: authenticate with an API key or access token.",
            )
        await authz.require(INTROSPECT_PERMISSION)
        result = await services.introspection.introspect(uow, token, origin)
        return JSONResponse(result.body(), headers=_NO_STORE)

    return router
