"""API keys in the ``X-API-Key`` header: the authenticator for services (SECURITY.md AK-03).

Keys are read from this header only, never from a query string, a form or a cookie. A request
that carries the header is decided by the key: a wrong, revoked or expired key (or one whose
owner is disabled) is ``401 invalid_api_key``, the same answer in every case.
"""

from __future__ import annotations

from fastapi import Request

from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.services import Services
from idgate.web.origin import request_origin

API_KEY_HEADER = "x-api-key"


class ApiKeyAuthenticator:
    """Authenticates a service account by one of its API keys.

    The principal is the service account (``kind="service"``): it holds no roles, its scopes are
    the key's, and its permissions are its owner's at this moment; a route allows what both do.
    """

    def applies(self, request: Request) -> bool:
        return API_KEY_HEADER in request.headers

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        presented = request.headers.get(API_KEY_HEADER, "").strip()
        origin = request_origin(request)
        verified = await services.service_accounts.authenticate(uow, presented, origin)
        # Each key has its own rate limit (AK-04), counted only once the key is known to be
        # good, so nobody can exhaust another service's quota with wrong keys.
        await services.rate_limits.enforce(
            uow, "api_key", origin, scopes=("account",), account=str(verified.key.id)
        )
        return Principal(
            subject=str(verified.account.id),
            kind="service",
            method="api_key",
            scopes=verified.key.scopes,
            permissions=verified.owner_permissions,
            owner_id=str(verified.owner.id),
            credential_id=str(verified.key.id),
        )
