"""Refreshing token pairs and ending sessions: ``/token/refresh``, ``/logout``, ``/logout/all``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from idgate.core.errors import AuthenticationError
from idgate.core.principal import Principal
from idgate.web.authentication import Authenticator
from idgate.web.dependencies import (
    CurrentUser,
    OriginDep,
    PrincipalDep,
    ServicesDep,
    UowDep,
    current_principal,
    require_json,
)
from idgate.web.ratelimit import enforce_account, rate_limit
from idgate.web.schemas import LogoutRequest, RefreshRequest, TokenPairResponse
from idgate.web.sessions import clear_session_cookie, current_session

_REFRESH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "invalid_grant: unknown, expired, revoked or already used refresh token"},
    415: {"description": "The body is not JSON"},
    422: {"description": "The body is not a refresh request"},
    429: {"description": "Rate limited; Retry-After says for how long"},
}


def require_json_if_body(request: Request) -> None:
    """Like ``require_json``, for endpoints whose body is optional."""
    length = request.headers.get("content-length")
    if (length is not None and length.strip() not in {"", "0"}) or (
        "transfer-encoding" in request.headers
    ):
        require_json(request)


# Declares the optional bearer credential for the OpenAPI docs; the authenticators parse it.
_bearer = HTTPBearer(auto_error=False, description="The access token of the session to end")


async def logout_principal(
    request: Request,
    uow: UowDep,
    _docs: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
) -> Principal | AuthenticationError | None:
    """The caller if the request carries a valid credential, the refusal if it carries an
    invalid one, None if it carries none."""
    authenticators: list[Authenticator] = request.app.state.authenticators
    if not any(authenticator.applies(request) for authenticator in authenticators):
        return None
    try:
        return await current_principal(request)
    except AuthenticationError as exc:
        return exc


def build_router() -> APIRouter:
    router = APIRouter(tags=["tokens"])

    @router.post(
        "/token/refresh",
        response_model=TokenPairResponse,
        name="refresh_token",
        responses=_REFRESH_ERRORS,
        # Per client address and overall here, per account below. Refresh tokens are 256-bit, so
        # guessing is hopeless anyway, but a flood of refreshes still costs database writes.
        dependencies=[Depends(require_json), rate_limit("refresh")],
    )
    async def refresh(
        body: RefreshRequest,
        response: Response,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> TokenPairResponse:
        """Exchange a refresh token for a new access token and a new refresh token.

        The presented refresh token stops working. Presenting it again later ends the whole
        session (reuse detection); of concurrent refreshes with one token exactly one succeeds.
        """
        account = await services.tokens.account_of(uow, body.refresh_token)
        if account is not None:
            await enforce_account(services, uow, "refresh", origin, account, response)
        pair = await services.tokens.refresh(
            uow, body.refresh_token, origin, client_id=body.client_id
        )
        return TokenPairResponse.of(pair)

    @router.post(
        "/logout",
        status_code=204,
        name="logout",
        responses={
            401: {"description": "An invalid access token, or no credential at all"},
            415: {"description": "A body that is not JSON"},
        },
        dependencies=[Depends(require_json_if_body)],
    )
    async def logout(
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        caller: Annotated[Principal | AuthenticationError | None, Depends(logout_principal)],
        body: Annotated[LogoutRequest | None, Body()] = None,
    ) -> Response:
        """End this session: its refresh tokens and the access token used, at once.

        Authenticate with the access token, or send ``{"refresh_token": ...}``, or both; a
        browser signed in with its session cookie ends that session. With a
        refresh token, an expired (or otherwise refused) access token does not stop the logout:
        holding the refresh token is enough to end its own session.
        """
        refresh_token = body.refresh_token if body else None
        principal = caller if isinstance(caller, Principal) else None
        if principal is None and not refresh_token:
            if isinstance(caller, AuthenticationError):
                raise caller
            raise AuthenticationError(
                "Not authenticated: send an access token or a refresh token to log out."
            )
        await services.tokens.logout(
            uow,
            origin,
            user=principal.user if principal else None,
            claims=principal.claims if principal else None,
            refresh_token=refresh_token,
            client_id=body.client_id if body else None,
        )
        response = Response(status_code=204)
        session = current_session(request) if principal and principal.method == "session" else None
        if session is not None:
            # A browser session ends the same way as at /account/logout (SS-04).
            await services.sessions.logout(uow, session, origin)
            clear_session_cookie(response)
            response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response

    @router.post(
        "/logout/all",
        status_code=204,
        name="logout_all",
        responses={401: {"description": "Missing or invalid access token"}},
    )
    async def logout_all(
        principal: PrincipalDep,
        user: CurrentUser,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> Response:
        """Log out everywhere: every session and token of the account ends at once."""
        await services.tokens.logout_everywhere(uow, user, origin, principal.claims)
        return Response(status_code=204)

    return router
