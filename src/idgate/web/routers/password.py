"""Changing one's own password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from idgate.web.dependencies import (
    CurrentUser,
    OriginDep,
    PrincipalDep,
    ServicesDep,
    UowDep,
    require_json,
)
from idgate.web.ratelimit import rate_limit
from idgate.web.schemas import PasswordChange, TokenPairResponse
from idgate.web.sessions import current_session, set_session_cookie

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid access token"},
    403: {"description": "The current password is incorrect"},
    422: {"description": "The new password is refused by the policy (with the reason)"},
    429: {"description": "Rate limited, or too many wrong current passwords; see Retry-After"},
}


def build_router() -> APIRouter:
    router = APIRouter(tags=["accounts"], dependencies=[Depends(require_json)])

    @router.post(
        "/password/change",
        response_model=TokenPairResponse | None,
        name="change_password",
        responses={
            **_ERRORS,
            204: {"description": "Changed, for a browser session: it continues under a new id"},
        },
        dependencies=[rate_limit("password_change", per_user=True)],
    )
    async def change_password(
        body: PasswordChange,
        request: Request,
        response: Response,
        principal: PrincipalDep,
        user: CurrentUser,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> TokenPairResponse | None:
        """Set a new password, confirming the current one.

        Every other session of the account ends at once: its refresh tokens, browser sessions,
        and every access token issued before the change, including the one used for this request
        (SS-07). A bearer caller gets a fresh token pair for its client; a browser session
        continues under a new id (204).
        """
        await services.users.change_password(
            uow, user, body.current_password, body.new_password, origin
        )
        await services.tokens.revoke_user(uow, user, origin, reason="password_changed")
        session = current_session(request) if principal.method == "session" else None
        # A model or None (not a Response) lets FastAPI keep the dependency's RateLimit-* headers.
        if session is not None:
            issued = await services.sessions.after_password_change(uow, user, session, origin)
            set_session_cookie(response, issued)
            response.status_code = 204
            return None
        client_id = principal.claims.client_id if principal.claims else None
        pair = await services.tokens.issue(uow, user, origin, client_id=client_id)
        return TokenPairResponse.of(pair)

    return router
