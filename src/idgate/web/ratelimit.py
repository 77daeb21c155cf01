"""Rate limits as a FastAPI dependency: one line per route.

::

    @router.post("/token/refresh", dependencies=[rate_limit("refresh")])

counts the request against the endpoint's ``global`` and ``ip`` rules (``core.ratelimit``)
before the route runs, so a refused request never reaches password hashing or the database
beyond its audit record. ``rate_limit("password_change", per_user=True)`` also applies the
``account`` rules, keyed by the authenticated principal. For an account named in the body (login,
refresh, password reset), the route calls :func:`enforce_account` once it has read the body.

Allowed answers carry ``RateLimit-*`` headers for the tightest rule; refusals are
``429 rate_limited`` with ``Retry-After`` and the same headers.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response

from idgate.core.models import RequestOrigin
from idgate.core.ports import UnitOfWork
from idgate.core.ratelimit import Quota
from idgate.services import Services
from idgate.web.dependencies import OriginDep, PrincipalDep, ServicesDep, UowDep
from idgate.web.errors import rate_limit_headers


def _set_headers(response: Response, quota: Quota | None) -> None:
    if quota is not None:
        response.headers.update(
            rate_limit_headers(
                quota.rule.amount, quota.rule.seconds, quota.remaining, quota.reset_after
            )
        )


def rate_limit(endpoint: str, *, per_user: bool = False) -> Any:
    """Return a dependency that enforces ``endpoint``'s limits (see the module docstring)."""

    async def enforce(
        response: Response, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> None:
        _set_headers(response, await services.rate_limits.enforce(uow, endpoint, origin))

    async def enforce_per_user(
        response: Response,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        principal: PrincipalDep,
    ) -> None:
        await enforce(response, services, uow, origin)
        await enforce_account(services, uow, endpoint, origin, principal.subject, response)

    return Depends(enforce_per_user if per_user else enforce)


async def enforce_account(
    services: Services,
    uow: UnitOfWork,
    endpoint: str,
    origin: RequestOrigin,
    account: str,
    response: Response | None = None,
) -> None:
    """Apply ``endpoint``'s ``account`` rules to ``account`` (a canonical username, a user id
    or a client id); raises ``RateLimited``."""
    quota = await services.rate_limits.enforce(
        uow, endpoint, origin, scopes=("account",), account=account
    )
    if response is not None:
        _set_headers(response, quota)
