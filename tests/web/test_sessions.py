"""The session cookie on the JSON API: it authenticates, and every change it authenticates needs
the CSRF token and a same-origin request (CSRF-01, CSRF-02); bearer requests need neither."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from idgate.services import Services
from tests.helpers import GOOD_PASSWORD
from tests.web.conftest import Visitor

NEW = "a much better passphrase indeed"
CHANGE = {"current_password": GOOD_PASSWORD, "new_password": NEW}


async def password_is(client: httpx.AsyncClient, password: str) -> bool:
    r = await client.post("/login", json={"username": "alice", "password": password})
    return r.status_code == 200


async def test_the_cookie_authenticates_api_reads(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.client.get("/profile")
    assert r.status_code == 200 and r.json()["username"] == "alice"


async def test_a_pre_session_is_not_signed_in(visitor: Visitor) -> None:
    await visitor.token()
    r = await visitor.client.get("/profile")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


async def test_the_session_id_is_never_read_from_the_url(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    value = visitor.cookie
    visitor.use_cookie(None)
    r = await visitor.client.get("/profile", params={"sid": value, "__Host-idgate-session": value})
    assert r.status_code == 401


@pytest.mark.parametrize("token", ["missing", "empty", "other_user", "previous_session"])
async def test_changes_need_this_sessions_csrf_token(
    visitor: Visitor, second_visitor: Visitor, token: str
) -> None:
    await visitor.register()
    await second_visitor.register("bob")
    previous = await visitor.sign_in()
    visitor.use_cookie(None)
    await visitor.sign_in()  # another session of the same user: its own token
    tokens = {
        "missing": None,
        "empty": "",
        "other_user": await second_visitor.sign_in("bob"),
        "previous_session": previous,
    }
    headers = {} if tokens[token] is None else {"x-csrf-token": str(tokens[token])}
    r = await visitor.client.post("/password/change", json=CHANGE, headers=headers)
    assert r.status_code == 403
    assert r.json() == {
        "code": "csrf_failed",
        "detail": "The request was refused: it did not come from an idgate page of this "
        "session. Reload the page and try again.",
    }
    assert await password_is(visitor.client, GOOD_PASSWORD)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://testserver.attacker.test"},
        {"origin": "https://evil.test"},
        {"origin": "null"},
        {"origin": "http://testserver"},  # another scheme is another origin
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site", "origin": "https://testserver"},
    ],
)
async def test_cross_origin_changes_are_refused_even_with_the_token(
    visitor: Visitor, headers: dict[str, str]
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    r = await visitor.client.post(
        "/password/change", json=CHANGE, headers={"x-csrf-token": token, **headers}
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    assert "set-cookie" not in r.headers
    assert await password_is(visitor.client, GOOD_PASSWORD)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # not a browser: the token alone decides
        {"origin": "https://testserver"},
        {"sec-fetch-site": "same-origin", "origin": "null"},  # Chrome with no-referrer
        {"sec-fetch-site": "same-origin"},
    ],
)
async def test_same_origin_changes_with_the_token_pass(
    visitor: Visitor, headers: dict[str, str]
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    r = await visitor.client.post(
        "/password/change", json=CHANGE, headers={"x-csrf-token": token, **headers}
    )
    assert r.status_code == 204, r.text
    assert await password_is(visitor.client, NEW)


async def test_reads_need_no_token_even_cross_site(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.client.get("/profile", headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 200


async def test_bearer_requests_need_no_csrf_token(visitor: Visitor) -> None:
    """A bearer token is not sent by the browser on its own, so it needs no CSRF defence; the
    bearer authenticator decides even when a session cookie is present too."""
    await visitor.register()
    await visitor.sign_in()
    access = (
        await visitor.client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    ).json()["access_token"]
    r = await visitor.client.post(
        "/password/change",
        json=CHANGE,
        headers={"authorization": f"Bearer {access}", "sec-fetch-site": "cross-site"},
    )
    assert r.status_code == 200 and r.json()["refresh_token"]  # a bearer caller's fresh pair


async def test_a_bad_bearer_does_not_fall_back_to_the_cookie(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.client.get("/profile", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_json_routes_still_refuse_forms(visitor: Visitor) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    r = await visitor.client.post(
        "/password/change", data={**CHANGE, "csrf_token": token}, headers={"x-csrf-token": token}
    )
    assert r.status_code == 415


async def test_refusals_are_audited_with_the_user(visitor: Visitor, https_app: FastAPI) -> None:
    await visitor.register()
    await visitor.sign_in()
    await visitor.client.post("/password/change", json=CHANGE, headers={"x-csrf-token": "x"})
    await visitor.client.post("/password/change", json=CHANGE, headers={"origin": "null"})
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        events = await uow.audit.list(types=["csrf.refused"])
        alice = await uow.users.get_by_username("alice")
    assert [e.reason for e in events] == ["foreign_origin", "wrong_token"]
    assert alice is not None and events[1].subject_id == alice.id
    assert all(e.ip == "203.0.113.7" for e in events)
