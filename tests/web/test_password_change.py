"""Changing the password: re-authentication, the policy, and revocation of older tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from idgate.core.clock import FixedClock
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, login_token, register

NEW_PASSWORD = "a brand new passphrase for alice"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def change(
    client: httpx.AsyncClient, token: str, current: object, new: object
) -> httpx.Response:
    return await client.post(
        "/password/change",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )


@pytest.fixture
async def token(client: httpx.AsyncClient) -> str:
    await register(client)
    return await login_token(client)


async def test_change_revokes_every_other_session_and_returns_a_fresh_pair(
    client: httpx.AsyncClient, token: str, clock: FixedClock, app: FastAPI
) -> None:
    other = (
        await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    ).json()
    clock.advance(timedelta(seconds=5))
    r = await change(client, token, GOOD_PASSWORD, NEW_PASSWORD)
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["token_type"] == "bearer" and fresh["refresh_token"]
    # Every older access token and refresh token of the account is dead (SS-07), at once ...
    for old in (token, other["access_token"]):
        r = await client.get("/profile", headers=bearer(old))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
    r = await client.post("/token/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "invalid_grant"
    # ... the fresh pair for the client that made the change works ...
    assert (await client.get("/profile", headers=bearer(fresh["access_token"]))).status_code == 200
    r = await client.post("/token/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert r.status_code == 200
    assert (
        await client.get("/profile", headers=bearer(r.json()["access_token"]))
    ).status_code == 200
    # ... and only the new password logs in.
    r = await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    assert r.status_code == 401
    assert await login_token(client, password=NEW_PASSWORD)
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        events = [(e.type, e.outcome) for e in await uow.audit.list(types=["password.changed"])]
        revoked = await uow.audit.list(types=["tokens.revoked"])
    assert events == [("password.changed", "success")]
    assert [e.reason for e in revoked] == ["password_changed"]


async def test_tokens_issued_in_the_same_second_die_too(
    client: httpx.AsyncClient, token: str
) -> None:
    # The clock does not move: the other device's token has the same iat as the change. The
    # revoked-before instant (whole seconds) cannot catch it; the deny-list of its family does.
    other = await login_token(client)
    r = await change(client, token, GOOD_PASSWORD, NEW_PASSWORD)
    assert r.status_code == 200
    for old in (token, other):
        assert (await client.get("/profile", headers=bearer(old))).status_code == 401
    assert (
        await client.get("/profile", headers=bearer(r.json()["access_token"]))
    ).status_code == 200


async def test_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, token: str, app: FastAPI
) -> None:
    r = await change(client, token, "not my password at all", NEW_PASSWORD)
    assert r.status_code == 403
    assert r.json()["code"] == "current_password_incorrect"
    assert (await client.get("/profile", headers=bearer(token))).status_code == 200
    assert await login_token(client)  # old password still works
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        (event,) = await uow.audit.list(types=["password.changed"])
    assert event.outcome == "failure" and event.reason == "current_password_incorrect"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"new_password": NEW_PASSWORD}, 422, "validation_error"),
        ({"current_password": GOOD_PASSWORD, "new_password": "short"}, 422, "weak_password"),
        ({"current_password": GOOD_PASSWORD, "new_password": GOOD_PASSWORD}, 422, "weak_password"),
        (
            {"current_password": GOOD_PASSWORD, "new_password": "alicealicealice1"},
            422,
            "weak_password",
        ),
        ({"current_password": 1, "new_password": NEW_PASSWORD}, 422, "validation_error"),
    ],
)
async def test_refusals(
    client: httpx.AsyncClient, token: str, body: dict[str, object], status: int, code: str
) -> None:
    r = await client.post("/password/change", json=body, headers=bearer(token))
    assert r.status_code == status and r.json()["code"] == code
    assert GOOD_PASSWORD not in r.text
    assert (await client.get("/profile", headers=bearer(token))).status_code == 200


async def test_needs_a_bearer_token(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/password/change", json={"current_password": GOOD_PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 401
