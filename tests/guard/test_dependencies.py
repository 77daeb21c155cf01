"""The guard's FastAPI dependencies and the principal's rules: idgate's pattern matching,
scopes, roles and ownership; 401/403 with their headers, in any FastAPI app."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import Depends, FastAPI

from idgate.guard import Guard, GuardRefusal, Principal, install_error_handler
from tests.guard.conftest import GuardFactory
from tests.web.authz_helpers import login, make_role, make_user


def person(
    permissions: tuple[str, ...], scopes: tuple[str, ...] = (), roles: tuple[str, ...] = ()
) -> Principal:
    return Principal(
        subject="u1",
        kind="user",
        method="bearer",
        permissions=permissions,
        scopes=scopes,
        roles=roles,
    )


def service(permissions: tuple[str, ...], scopes: tuple[str, ...]) -> Principal:
    return Principal(
        subject="s1",
        kind="service",
        method="api_key",
        permissions=permissions,
        scopes=scopes,
        owner_id="u1",
    )


@pytest.mark.parametrize(
    ("principal", "permission", "allowed"),
    [
        (person(("posts:*",)), "posts:delete", True),
        (person(("posts:*",)), "posts", False),
        (person(("posts:*:read",)), "posts:42:read", True),
        (person(("posts:*:read",)), "posts:42:write", False),
        (person(("*",)), "anything:at:all", True),
        (person(()), "posts:read", False),
        # A token's scope claim narrows what its user may do (AZ-06).
        (person(("*",), scopes=("posts:read",)), "posts:read", True),
        (person(("*",), scopes=("posts:read",)), "posts:delete", False),
        # A key: its scopes and its owner's permissions, both.
        (service(("posts:*",), ("posts:read",)), "posts:read", True),
        (service(("posts:*",), ("posts:read",)), "posts:write", False),
        (service(("reports:*",), ("posts:read",)), "posts:read", False),
        (service(("*",), ()), "posts:read", False),
    ],
)
def test_permissions_follow_idgates_rules(
    principal: Principal, permission: str, allowed: bool
) -> None:
    assert principal.allows(permission) is allowed


def test_ownership_and_roles() -> None:
    alice = person((), roles=("user",))
    assert alice.owns("u1") and alice.owns(uuid.UUID(int=1)) is False
    assert alice.may_act_on("u1", "posts:delete")
    assert not alice.may_act_on("u2", "posts:delete")
    assert not alice.may_act_on(None, "posts:delete")
    assert person(("posts:delete",)).may_act_on("u2", "posts:delete")
    # A service never acts as its owner.
    key = service(("*",), ("posts:read",))
    assert not key.owns("u1") and not key.may_act_on("u1", "posts:delete")
    assert not service(("*",), ("*",)).has_role("admin")
    assert alice.has_role("user") and not alice.has_role("admin")
    with pytest.raises(GuardRefusal) as refused:
        alice.require_owner_or("u2", "posts:delete")
    assert refused.value.status_code == 403 and refused.value.code == "permission_denied"
    with pytest.raises(GuardRefusal):
        alice.require_owner("u2")
    with pytest.raises(GuardRefusal):
        alice.require("posts:read")
    alice.require_owner("u1")


async def test_refusals_render_in_any_fastapi_app(
    app: FastAPI, client: httpx.AsyncClient, make_guard: GuardFactory
) -> None:
    guard: Guard = make_guard(realm="reports")
    plain = FastAPI()  # no install_error_handler: FastAPI's own rendering

    @plain.get("/maybe")
    async def maybe(caller: Principal | None = Depends(guard.optional_principal)) -> str:  # noqa: B008
        return caller.subject if caller else "anonymous"

    @plain.get("/admin", dependencies=[Depends(guard.require_role("admin"))])
    async def admin() -> str:
        return "ok"

    await make_role(app, "reporter", ["reports:*"])
    await make_user(app, "alice", "reporter")
    await make_user(app, "root", "admin")
    alice, root = await login(client, "alice"), await login(client, "root")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=plain), base_url="http://api.test"
    ) as api:
        assert (await api.get("/maybe")).json() == "anonymous"
        assert (await api.get("/maybe", headers=alice)).status_code == 200
        r = await api.get("/maybe", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401
        assert r.json() == {"detail": "The access token is malformed."}
        assert r.headers["www-authenticate"] == (
            'Bearer realm="reports", error="invalid_token", '
            'error_description="The access token is malformed."'
        )
        r = await api.get("/admin")
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="reports"'
        r = await api.get("/admin", headers=alice)
        assert r.status_code == 403 and r.json() == {"detail": "You need the 'admin' role."}
        assert (await api.get("/admin", headers=root)).status_code == 200


def closed(client: httpx.AsyncClient) -> bool:
    return client.is_closed


async def test_the_guard_closes_with_the_app() -> None:
    guard = Guard("https://id.example.com", "idgate")
    api = FastAPI(lifespan=guard.lifespan)
    install_error_handler(api)
    async with api.router.lifespan_context(api):
        assert not closed(guard._client)
    assert closed(guard._client)
    # A client passed in belongs to the caller: the guard leaves it open.
    async with httpx.AsyncClient() as own:
        lent = Guard("https://id.example.com", "idgate", http_client=own)
        await lent.aclose()
        assert not closed(own)
