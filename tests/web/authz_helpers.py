"""Helpers for the authorization, admin and API-key tests: users with roles, roles with
permissions, set up through idgate's own services (as the CLI would)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import httpx
from fastapi import FastAPI

from idgate.core.admin import Actor
from idgate.core.audit import AuditEvent
from idgate.core.models import SYSTEM_ORIGIN, User
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, login_token

OPERATOR = Actor(None, SYSTEM_ORIGIN)


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def make_user(app: FastAPI, name: str, *roles: str) -> User:
    services = services_of(app)
    async with services.uow_factory() as uow:
        user = await services.users.register(
            uow, name, GOOD_PASSWORD, SYSTEM_ORIGIN, roles=("user", *roles)
        )
        await uow.commit()
    return user


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    return bearer(await login_token(client, name))


async def make_role(app: FastAPI, name: str, permissions: Sequence[str]) -> None:
    services = services_of(app)
    async with services.uow_factory() as uow:
        await services.admin.create_role(uow, OPERATOR, name, permissions=permissions)
        await uow.commit()


async def set_role(app: FastAPI, user_id: uuid.UUID, role: str, *, held: bool) -> None:
    services = services_of(app)
    async with services.uow_factory() as uow:
        if held:
            await services.admin.grant_role(uow, OPERATOR, user_id, role)
        else:
            await services.admin.revoke_role(uow, OPERATOR, user_id, role)
        await uow.commit()


async def audit_events(app: FastAPI, *types: str) -> list[AuditEvent]:
    services = services_of(app)
    async with services.uow_factory() as uow:
        return list(reversed(await uow.audit.list(types=types, limit=1000)))
