"""The tutorial's protected and public routes."""

from __future__ import annotations

from fastapi import APIRouter

from idgate.web.dependencies import CurrentUser
from idgate.web.schemas import Message, UserOut


def build_router() -> APIRouter:
    router = APIRouter(tags=["accounts"])

    @router.get(
        "/profile",
        response_model=UserOut,
        name="profile",
        responses={401: {"description": "Missing, invalid or expired access token"}},
    )
    async def profile(user: CurrentUser) -> UserOut:
        """Return the account the bearer token belongs to."""
        return UserOut(
            id=user.id, username=user.username, roles=list(user.roles), created_at=user.created_at
        )

    @router.get("/public", response_model=Message, name="public")
    async def public() -> Message:
        """A route anyone may call."""
        return Message(message="This is a public endpoint: anyone can see it.")

    return router
