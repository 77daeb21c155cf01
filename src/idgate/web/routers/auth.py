"""Registration and login: the tutorial's two POSTs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from idgate.core.usernames import canonical_username
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep, require_json
from idgate.web.devices import device_cookie, set_device_cookie
from idgate.web.ratelimit import enforce_account, rate_limit
from idgate.web.schemas import Credentials, LoginRequest, LoginResponse, UserOut

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Invalid credentials (the same answer for every cause)"},
    415: {"description": "The body is not JSON"},
    422: {
        "description": "Invalid username or password refused by the policy (the reason says why)"
    },
    429: {"description": "Rate limited or throttled; Retry-After says for how long"},
    503: {"description": "Too many password checks queued; Retry-After says when to retry"},
}


def build_router() -> APIRouter:
    router = APIRouter(tags=["accounts"], dependencies=[Depends(require_json)])

    @router.post(
        "/register",
        status_code=201,
        response_model=UserOut,
        name="register",
        responses=_ERRORS,
        dependencies=[rate_limit("register")],
    )
    async def register(
        body: Credentials, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> UserOut:
        """Create an account. The password must pass the policy (length, not common)."""
        user = await services.users.register(uow, body.username, body.password, origin)
        return UserOut(
            id=user.id, username=user.username, roles=list(user.roles), created_at=user.created_at
        )

    @router.post(
        "/login",
        response_model=LoginResponse,
        name="login",
        responses=_ERRORS,
        dependencies=[rate_limit("login")],
    )
    async def login(
        body: LoginRequest,
        request: Request,
        response: Response,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> LoginResponse:
        """Exchange a username and password for a bearer access token and a refresh token.

        ``client_id`` (optional, default ``idgate``) names the client the pair is bound to.
        The answer also carries a device token (in the body, and as a cookie for browsers):
        presented on later logins to the same account, it keeps this client from being
        throttled by failed attempts made elsewhere.
        """
        canonical = canonical_username(body.username)
        await enforce_account(services, uow, "login", origin, canonical, response)
        device_token = body.device_token or device_cookie(request)
        user = await services.users.authenticate(
            uow, body.username, body.password, origin, device_token=device_token
        )
        pair = await services.tokens.issue(uow, user, origin, client_id=body.client_id)
        device = services.devices.issue(user.id)
        set_device_cookie(response, device)
        return LoginResponse.of(pair, device_token=device.token)

    return router
