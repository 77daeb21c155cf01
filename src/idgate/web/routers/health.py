"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from idgate.core.errors import Unavailable
from idgate.web.dependencies import ServicesDep
from idgate.web.schemas import Health


def build_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/", name="index", include_in_schema=False)
    async def index() -> dict[str, str]:
        """Where to go from here."""
        return {"service": "idgate", "jwks_uri": "/.well-known/jwks.json"}

    @router.get("/health", response_model=Health, name="health")
    async def health() -> Health:
        """The process is up."""
        return Health(status="ok")

    @router.get(
        "/health/ready",
        response_model=Health,
        name="ready",
        responses={503: {"description": "A dependency is unreachable"}},
    )
    async def ready(services: ServicesDep) -> Health:
        """The process can serve: the database (and Redis, when configured) answer."""
        try:
            await services.ping_database()
        except Exception:
            raise Unavailable(5, "The database is not reachable.") from None
        if services.redis is not None:
            try:
                await services.redis.ping()
            except Exception:
                raise Unavailable(5, "Redis is not reachable.") from None
        return Health(status="ok")

    return router
