"""Registration and login: the tutorial's two POSTs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from idgate.core.rbac import user_token_claims
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep, require_json
from idgate.web.schemas import Credentials, TokenResponse, UserOut

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Invalid credentials (the same answer for every cause)"},
    415: {"description": "The body is not JSON"},
    422: {
        "description": "Invalid username or password refused by the policy (the reason says why)"
    },
}


def build_router() -> APIRouter:
    router = APIRouter(tags=["accounts"], dependencies=[Depends(require_json)])

    @router.post(
        "/register", status_code=201, response_model=UserOut, name="register", responses=_ERRORS
    )
    async def register(
        body: Credentials, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> UserOut:
        """Create an account. The password must pass the policy (length, not common)."""
        user = await services.users.register(uow, body.username, body.password, origin)
        return UserOut(
            id=user.id, username=user.username, roles=list(user.roles), created_at=user.created_at
        )

    @router.post("/login", response_model=TokenResponse, name="login", responses=_ERRORS)
    async def login(
        body: Credentials, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> TokenResponse:
        """Exchange a username and password for a bearer access token."""
        user = await services.users.authenticate(uow, body.username, body.password, origin)
        # Resource servers decide offline from the permissions in the token (docs/authorization.md).
        claims = await user_token_claims(uow, user)
        issued = services.access_tokens.issue(str(user.id), roles=user.roles, extra=claims)
        return TokenResponse(access_token=issued.token, expires_in=issued.expires_in)

    return router
