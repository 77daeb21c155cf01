"""idgate.guard: protect your own FastAPI service with idgate's tokens and API keys.

It verifies access tokens locally from idgate's published keys (no call per request), checks API
keys and, where a route asks for it, revocation through idgate's introspection endpoint, and
offers FastAPI dependencies that read like the rule::

    guard = Guard(issuer="https://id.example.com", audience="idgate")

    @app.post("/posts")
    async def create(post: PostIn, author: Annotated[Principal, Depends(guard.user)]): ...

It needs FastAPI, PyJWT, cryptography and httpx, and imports nothing of idgate's server. See
docs/guard.md.
"""

from __future__ import annotations

from idgate.guard.errors import GuardRefusal, install_error_handler
from idgate.guard.guard import Guard
from idgate.guard.principal import Principal

__all__ = ["Guard", "GuardRefusal", "Principal", "install_error_handler"]
