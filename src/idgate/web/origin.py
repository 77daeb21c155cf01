"""Who is calling: the client address and user agent of a request."""

from __future__ import annotations

from fastapi import Request

from idgate.core.models import RequestOrigin
from idgate.logs import request_id_var


def request_origin(request: Request) -> RequestOrigin:
    """Return the :class:`RequestOrigin` of ``request`` (the direct peer's address)."""
    client = request.client
    user_agent = request.headers.get("user-agent")
    return RequestOrigin(
        ip=client.host if client else None,
        user_agent=user_agent[:512] if user_agent else None,
        request_id=request_id_var.get(),
    )
