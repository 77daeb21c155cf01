"""Service accounts and their API keys, for their owners (and for a key managing its own account).

Who may do what:

* a **user** manages the service accounts they own; acting on someone else's needs
  ``service_accounts:read`` / ``service_accounts:write`` (administrators hold ``*``);
* an **API key** may see or manage only its own service account's keys, with the scope
  ``apikeys:read`` / ``apikeys:write``, and never creates a key with scopes beyond its own (AK-05);
  it cannot create or delete service accounts;
* new keys' scopes must be held by the account's owner and by the caller.

The full key appears once, in the answer to creating or rotating it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from idgate.core.apikeys import ApiKey, ServiceAccount
from idgate.core.ports import UnitOfWork
from idgate.core.service_accounts import Ttl
from idgate.services import Services
from idgate.web.apikey_schemas import (
    ApiKeyIn,
    ApiKeyOut,
    NewApiKeyOut,
    RotateIn,
    ServiceAccountIn,
    ServiceAccountOut,
)
from idgate.web.authorization import Authorization, AuthorizationDep
from idgate.web.dependencies import CurrentUser, OriginDep, ServicesDep, UowDep, require_json

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Not yours, or beyond your permissions or the key's scopes"},
    404: {"description": "No such service account or key"},
}


async def _account(
    authz: Authorization, services: Services, uow: UnitOfWork, account_id: uuid.UUID, *, write: bool
) -> ServiceAccount:
    """Load an account the caller may read (or, with ``write``, manage)."""
    account = await services.service_accounts.get_account(uow, account_id)
    principal = authz.principal
    if principal.kind == "service":
        if principal.subject != str(account.id):
            await authz.deny("not_owner", "An API key may manage only its own service account.")
        await authz.require("apikeys:write" if write else "apikeys:read")
    else:
        await authz.require_owner_or(
            account.owner_id, "service_accounts:write" if write else "service_accounts:read"
        )
    return account


async def _key(
    authz: Authorization, services: Services, uow: UnitOfWork, key_id: uuid.UUID, *, write: bool
) -> ApiKey:
    key = await services.service_accounts.get_key(uow, key_id)
    await _account(authz, services, uow, key.service_account_id, write=write)
    return key


def _ttl(body: ApiKeyIn) -> Ttl:
    if body.never_expires:
        return None
    if body.expires_in_days is not None:
        return timedelta(days=body.expires_in_days)
    return "default"


def build_router() -> APIRouter:
    router = APIRouter(tags=["service accounts"], responses=_ERRORS)

    @router.post(
        "/service-accounts",
        status_code=201,
        response_model=ServiceAccountOut,
        name="create_service_account",
        dependencies=[Depends(require_json)],
    )
    async def create_account(
        body: ServiceAccountIn,
        user: CurrentUser,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> ServiceAccountOut:
        """Create a service account that you own (users only)."""
        account = await services.service_accounts.create_account(
            uow, user, body.name, origin, description=body.description, actor_id=user.id
        )
        return ServiceAccountOut.of(account)

    @router.get(
        "/service-accounts", response_model=list[ServiceAccountOut], name="list_service_accounts"
    )
    async def list_accounts(
        user: CurrentUser,
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        owner_id: Annotated[
            uuid.UUID | None, Query(description="Another user's (needs service_accounts:read)")
        ] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 100,
    ) -> list[ServiceAccountOut]:
        """Your service accounts (users only)."""
        owner = owner_id or user.id
        await authz.require_owner_or(owner, "service_accounts:read")
        accounts = await services.service_accounts.list_accounts(
            uow, owner, offset=offset, limit=limit
        )
        return [ServiceAccountOut.of(a) for a in accounts]

    @router.get(
        "/service-accounts/{account_id}",
        response_model=ServiceAccountOut,
        name="get_service_account",
    )
    async def get_account(
        account_id: uuid.UUID, authz: AuthorizationDep, services: ServicesDep, uow: UowDep
    ) -> ServiceAccountOut:
        """One service account."""
        return ServiceAccountOut.of(await _account(authz, services, uow, account_id, write=False))

    @router.delete("/service-accounts/{account_id}", status_code=204, name="delete_service_account")
    async def delete_account(
        account_id: uuid.UUID,
        user: CurrentUser,
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> Response:
        """Delete a service account and all its keys (users only)."""
        account = await _account(authz, services, uow, account_id, write=True)
        await services.service_accounts.delete_account(uow, account, origin, actor_id=user.id)
        return Response(status_code=204)

    @router.get(
        "/service-accounts/{account_id}/api-keys",
        response_model=list[ApiKeyOut],
        name="list_api_keys",
    )
    async def list_keys(
        account_id: uuid.UUID, authz: AuthorizationDep, services: ServicesDep, uow: UowDep
    ) -> list[ApiKeyOut]:
        """The account's keys, newest first: never the keys themselves."""
        account = await _account(authz, services, uow, account_id, write=False)
        now = services.clock.now()
        return [
            ApiKeyOut.of(k, now) for k in await services.service_accounts.list_keys(uow, account)
        ]

    @router.post(
        "/service-accounts/{account_id}/api-keys",
        status_code=201,
        response_model=NewApiKeyOut,
        name="create_api_key",
        dependencies=[Depends(require_json)],
    )
    async def create_key(
        account_id: uuid.UUID,
        body: ApiKeyIn,
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> NewApiKeyOut:
        """Create a key. The answer holds the key: it is shown this once."""
        account = await _account(authz, services, uow, account_id, write=True)
        new = await services.service_accounts.create_key(
            uow,
            account,
            origin,
            scopes=body.scopes,
            name=body.name,
            ttl=_ttl(body),
            granter=authz.authority,
            actor_id=_actor_id(authz),
        )
        return NewApiKeyOut.of(new, services.clock.now())

    @router.get("/api-keys/{key_id}", response_model=ApiKeyOut, name="get_api_key")
    async def get_key(
        key_id: uuid.UUID, authz: AuthorizationDep, services: ServicesDep, uow: UowDep
    ) -> ApiKeyOut:
        """One key's metadata."""
        key = await _key(authz, services, uow, key_id, write=False)
        return ApiKeyOut.of(key, services.clock.now())

    @router.post(
        "/api-keys/{key_id}/rotate",
        status_code=201,
        response_model=NewApiKeyOut,
        name="rotate_api_key",
        dependencies=[Depends(require_json)],
    )
    async def rotate_key(
        key_id: uuid.UUID,
        body: RotateIn,
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> NewApiKeyOut:
        """Replace a key by a new one (same name, scopes and lifetime); the old one stops
        working now, or after ``grace_seconds``."""
        key = await _key(authz, services, uow, key_id, write=True)
        new = await services.service_accounts.rotate_key(
            uow,
            key,
            origin,
            grace=timedelta(seconds=body.grace_seconds),
            granter=authz.authority,
            actor_id=_actor_id(authz),
        )
        return NewApiKeyOut.of(new, services.clock.now())

    @router.delete("/api-keys/{key_id}", status_code=204, name="revoke_api_key")
    async def revoke_key(
        key_id: uuid.UUID,
        authz: AuthorizationDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> Response:
        """Revoke a key: its next use fails, on every instance."""
        key = await _key(authz, services, uow, key_id, write=True)
        await services.service_accounts.revoke_key(uow, key, origin, actor_id=_actor_id(authz))
        return Response(status_code=204)

    return router


def _actor_id(authz: Authorization) -> uuid.UUID:
    """The audit actor: the user, or the service account whose key made the request."""
    principal = authz.principal
    if principal.is_user and principal.user is not None:
        return principal.user.id
    return uuid.UUID(principal.subject)
