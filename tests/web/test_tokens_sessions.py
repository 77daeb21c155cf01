"""Token pairs and browser sessions of one account: a password change or a logout through either
ends what it should in the other."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import GOOD_PASSWORD
from tests.web.conftest import Visitor

NEW = "a much better passphrase indeed"


async def api_login(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


async def refresh_status(client: httpx.AsyncClient, token: str) -> int:
    r = await client.post("/token/refresh", json={"refresh_token": token})
    return r.status_code


async def test_a_password_change_through_the_session_api_ends_the_token_sessions(
    visitor: Visitor,
) -> None:
    await visitor.register()
    app_pair = await api_login(visitor.client)  # another client of the account
    csrf = await visitor.sign_in()
    old_cookie = visitor.cookie
    r = await visitor.client.post(
        "/password/change",
        json={"current_password": GOOD_PASSWORD, "new_password": NEW},
        headers={"x-csrf-token": csrf},
    )
    # The browser continues under a new session id; no tokens are handed to the page.
    assert r.status_code == 204 and r.content == b""
    assert visitor.cookie and visitor.cookie != old_cookie
    assert (await visitor.client.get("/profile")).status_code == 200
    # The token client is logged out.
    assert await refresh_status(visitor.client, app_pair["refresh_token"]) == 401
    r = await visitor.client.get(
        "/profile", headers={"Authorization": f"Bearer {app_pair['access_token']}"}
    )
    assert r.status_code == 401


async def test_the_account_page_password_change_ends_the_token_sessions(
    visitor: Visitor,
) -> None:
    await visitor.register()
    app_pair = await api_login(visitor.client)
    csrf = await visitor.sign_in()
    r = await visitor.post(
        "/account/password",
        {
            "csrf_token": csrf,
            "current_password": GOOD_PASSWORD,
            "new_password": NEW,
            "new_password_confirm": NEW,
        },
    )
    assert r.status_code == 303, r.text
    assert await refresh_status(visitor.client, app_pair["refresh_token"]) == 401


async def test_logout_with_the_session_cookie_ends_the_browser_session(visitor: Visitor) -> None:
    await visitor.register()
    csrf = await visitor.sign_in()
    r = await visitor.client.post("/logout", headers={"x-csrf-token": csrf})
    assert r.status_code == 204, r.text
    assert r.headers["clear-site-data"] == '"cache", "storage"'
    assert (await visitor.client.get("/profile")).status_code == 401


async def test_logout_with_the_session_cookie_needs_the_csrf_token(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.client.post("/logout")
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    assert (await visitor.client.get("/profile")).status_code == 200
