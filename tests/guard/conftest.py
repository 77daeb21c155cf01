"""A live idgate app and a service protected by ``idgate.guard``, side by side in one process.

The guard reaches idgate through :class:`IdgateLink`, an httpx transport over the real idgate
ASGI app that counts requests per path and can cut the line (``down = True``) to play an
unreachable idgate. Both sides share the test's ``FixedClock``.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes of
# ``protected_api`` at run time, and they name its local variables.

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from idgate.core.clock import FixedClock
from idgate.core.models import SYSTEM_ORIGIN
from idgate.guard import Guard, Principal, install_error_handler
from tests.web.authz_helpers import make_user, services_of

ISSUER = "http://testserver"
API = "http://api.test"


class IdgateLink(httpx.AsyncBaseTransport):
    """The wire between the guard and idgate: counts requests, and can be cut."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: Counter[str] = Counter()
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[request.url.path] += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    @property
    def jwks_fetches(self) -> int:
        return self.requests["/.well-known/jwks.json"]

    @property
    def introspections(self) -> int:
        return self.requests["/introspect"]


def describe(principal: Principal | None) -> dict[str, Any] | None:
    if principal is None:
        return None
    return {
        "subject": principal.subject,
        "kind": principal.kind,
        "method": principal.method,
        "roles": list(principal.roles),
        "permissions": list(principal.permissions),
        "scopes": list(principal.scopes),
        "username": principal.username,
        "owner_id": principal.owner_id,
        "checked": principal.checked_with_idgate,
    }


def protected_api(guard: Guard) -> FastAPI:
    """A resource server with one route per kind of rule."""
    api = FastAPI()
    install_error_handler(api)
    Caller = Annotated[Principal, Depends(guard.principal)]
    MaybeCaller = Annotated[Principal | None, Depends(guard.optional_principal)]
    User = Annotated[Principal, Depends(guard.user)]

    @api.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "anyone"}

    @api.get("/me")
    async def me(caller: Caller) -> dict[str, Any] | None:
        return describe(caller)

    @api.get("/maybe")
    async def maybe(caller: MaybeCaller) -> dict[str, Any] | None:
        return describe(caller)

    @api.post("/posts")
    async def create(author: User) -> dict[str, Any] | None:
        return describe(author)

    @api.get("/reports", dependencies=[Depends(guard.require_permission("reports:read"))])
    async def reports() -> dict[str, str]:
        return {"report": "ok"}

    @api.get("/export", dependencies=[Depends(guard.require_scope("reports:export"))])
    async def export() -> dict[str, str]:
        return {"export": "ok"}

    @api.get("/admin", dependencies=[Depends(guard.require_role("admin"))])
    async def admin() -> dict[str, str]:
        return {"admin": "ok"}

    if guard.introspection is None:
        return api  # the revocation check needs the guard's own key

    Fresh = Annotated[Principal, Depends(guard.authenticated(check_revocation=True))]

    @api.get("/fresh")
    async def fresh(caller: Fresh) -> dict[str, Any] | None:
        return describe(caller)

    @api.delete("/things/{owner}")
    async def delete(
        owner: str,
        caller: Annotated[
            Principal,
            Depends(guard.require_permission("things:read", check_revocation=True)),
        ],
    ) -> dict[str, str]:
        caller.require_owner_or(owner, "things:delete")
        return {"deleted": owner}

    return api


async def introspection_key(app: FastAPI, scopes: tuple[str, ...] = ("tokens:introspect",)) -> str:
    """The resource server's own key: an administrator's service account, scoped to introspect."""
    services = services_of(app)
    async with services.uow_factory() as uow:
        owner = await uow.users.get_by_username("operator")
    if owner is None:
        owner = await make_user(app, "operator", "admin")
    return await service_key(app, "operator", scopes)


async def service_key(app: FastAPI, owner: str, scopes: tuple[str, ...], **kwargs: Any) -> str:
    """A new service account of ``owner`` with one key scoped ``scopes``; returns the key."""
    services = services_of(app)
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username(owner)
        assert user is not None
        account = await services.service_accounts.create_account(
            uow, user, f"svc-{uuid.uuid4().hex[:8]}", SYSTEM_ORIGIN
        )
        new = await services.service_accounts.create_key(
            uow, account, SYSTEM_ORIGIN, scopes=scopes, **kwargs
        )
        await uow.commit()
    return new.secret


@pytest.fixture
def link(app: FastAPI) -> IdgateLink:
    return IdgateLink(app)


GuardFactory = Callable[..., Guard]


@pytest.fixture
async def make_guard(link: IdgateLink, clock: FixedClock) -> AsyncIterator[GuardFactory]:
    """``make_guard(**arguments)``: a guard wired to the test's idgate and clock."""
    made: list[Guard] = []

    def make(**arguments: Any) -> Guard:
        options: dict[str, Any] = {
            "issuer": ISSUER,
            "audience": "idgate",
            "transport": link,
            "clock": clock,
            "allow_http": True,
        }
        options.update(arguments)
        guard = Guard(**options)
        made.append(guard)
        return guard

    yield make
    for guard in made:
        await guard.aclose()


@pytest.fixture
async def guard(app: FastAPI, make_guard: GuardFactory) -> Guard:
    """A guard holding its own introspection key, so it accepts API keys too."""
    return make_guard(api_key=await introspection_key(app))


@pytest.fixture
async def api(guard: Guard) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the protected service."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=protected_api(guard)), base_url=API
    ) as c:
        yield c
