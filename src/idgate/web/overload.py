"""Shedding password requests at the door when the hashing pool is full.

During a login flood most logins find the hashing pool full and are refused with a ``503``
(``core.passwords.pool``). The application refuses them before any database work, but not
before FastAPI has routed the request, solved its dependencies and parsed its JSON body: each
refusal still costs a few hundred microseconds of the event loop, taken from every other request
it serves, and a flood sends refusals by the thousand (docs/benchmarks.md). This check runs in
the outermost middleware instead, before the body is even read, and answers with the very same
``503`` and ``Retry-After``, after the pool's shed pause (``HashingPool.hold``: nothing is held
meanwhile but a timer). Requests it lets through are checked again by the pool itself.

Only the JSON endpoints are shed here; the browser pages refuse through the application, which
renders the refusal as a page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Scope

from idgate.core.errors import IdgateError
from idgate.core.passwords.pool import HashingPool

#: A check run on each request before the application: the refusal to answer, or None.
Admission = Callable[[Scope], Awaitable[IdgateError | None]]

#: The JSON endpoints whose every request hashes a password.
HASHING_ENDPOINTS = frozenset({("POST", "/login"), ("POST", "/register")})


def hashing_admission(
    pool: HashingPool, endpoints: frozenset[tuple[str, str]] = HASHING_ENDPOINTS
) -> Admission:
    """Refuse requests to ``endpoints`` while ``pool`` would shed the hash they need."""

    async def admission(scope: Scope) -> IdgateError | None:
        if (scope["method"], scope["path"]) not in endpoints:
            return None
        refusal = pool.refusal()
        if refusal is not None:
            await pool.hold()
        return refusal

    return admission
