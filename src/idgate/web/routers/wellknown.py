"""Standard discovery documents: the JWKS (RFC 7517) at its well-known path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from idgate.web.dependencies import ServicesDep


def build_router() -> APIRouter:
    router = APIRouter(tags=["discovery"])

    @router.get("/.well-known/jwks.json", name="jwks")
    async def jwks(services: ServicesDep) -> JSONResponse:
        """The public keys that verify idgate's access tokens."""
        body: dict[str, Any] = services.keys.current().jwks()
        # Short enough that a rotated key is seen soon; verifiers also refetch on an unknown kid.
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    return router
