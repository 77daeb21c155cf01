"""Changing one's own password."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from idgate.web.dependencies import CurrentUser, OriginDep, ServicesDep, UowDep, require_json
from idgate.web.ratelimit import rate_limit
from idgate.web.schemas import PasswordChange

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
        status_code=204,
        name="change_password",
        responses=_ERRORS,
        dependencies=[rate_limit("password_change", per_user=True)],
    )
    async def change_password(
        body: PasswordChange,
        user: CurrentUser,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> None:
        """Set a new password, confirming the current one.

        Every token and session of the account issued before the change stops working at once,
        including the access token used for this request: log in again with the new password.
        """
        await services.users.change_password(
            uow, user, body.current_password, body.new_password, origin
        )
        # Returning nothing lets FastAPI keep the RateLimit-* headers of the dependency.

    return router
