"""idgate's own stylesheet and icon: no CDN, nothing third-party (OP-13)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from idgate.core.errors import NotFound
from idgate.web.pages.rendering import STATIC_FILES, static_bytes


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    files = {name: (static_bytes(name), media) for name, media in STATIC_FILES.items()}

    @router.get("/static/{name}", name="static")
    async def static(name: str) -> Response:
        if name not in files:
            raise NotFound()
        body, media = files[name]
        # Pages link to these with a content hash (?v=...), so caching them is safe.
        return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})

    return router
