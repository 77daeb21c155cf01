"""The account page: sessions listed and revoked, password change, timeouts, re-authentication."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI

from idgate.core.clock import FixedClock
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD
from tests.web.conftest import Visitor, csrf_token

NEW_PASSWORD = "a much better passphrase indeed"


async def audit_types(app: FastAPI) -> list[str]:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        return [e.type for e in reversed(await uow.audit.list(limit=500))]


async def test_the_account_page_lists_the_sessions(
    visitor: Visitor, second_visitor: Visitor
) -> None:
    await visitor.register()
    await visitor.sign_in()
    await second_visitor.sign_in()
    page = await visitor.get("/account")
    assert page.status_code == 200
    assert page.text.count('<li class="session') == 2
    assert "203.0.113.7" in page.text and "198.51.100.20" in page.text
    assert "Firefox on Linux" in page.text
    assert page.text.count("This browser") == 1
    assert visitor.cookie is not None and visitor.cookie not in page.text


async def test_revoking_one_session(
    visitor: Visitor, second_visitor: Visitor, https_app: FastAPI
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    await second_visitor.sign_in()
    page = (await visitor.get("/account")).text
    (public_id,) = re.findall(r"/account/sessions/([0-9a-f-]{36})/revoke", page)
    r = await visitor.post(f"/account/sessions/{public_id}/revoke", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=revoked"
    assert (await second_visitor.client.get("/profile")).status_code == 401
    assert (await visitor.client.get("/profile")).status_code == 200
    assert "session.destroyed" in await audit_types(https_app)


async def test_revoking_needs_the_csrf_token(visitor: Visitor, second_visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    other_token = await second_visitor.sign_in()
    # Another session's token, and a token of this user's earlier session, are both refused.
    r = await visitor.post("/account/sessions/revoke-others", {"csrf_token": other_token})
    assert r.status_code == 403
    assert (await second_visitor.client.get("/profile")).status_code == 200


async def test_signing_out_other_sessions(
    visitor: Visitor, second_visitor: Visitor, https_app: FastAPI
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    await second_visitor.sign_in()
    r = await visitor.post("/account/sessions/revoke-others", {"csrf_token": token})
    assert r.headers["location"] == "/account?done=others_revoked"
    assert (await second_visitor.client.get("/profile")).status_code == 401
    page = await visitor.get("/account?done=others_revoked")
    assert page.text.count('<li class="session') == 1
    assert "Every other session has been signed out." in page.text


async def test_revoking_asks_for_the_password_after_the_reauth_window(
    visitor: Visitor, second_visitor: Visitor, clock: FixedClock
) -> None:
    """Terminating sessions needs a recent authentication (SS-09); confirming rotates the id."""
    await visitor.register()
    token = await visitor.sign_in()
    await second_visitor.sign_in()
    clock.advance(timedelta(minutes=11))
    r = await visitor.post("/account/sessions/revoke-others", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/account/confirm?next=/account"
    assert (await second_visitor.client.get("/profile")).status_code == 200

    page = await visitor.get("/account/confirm?next=/account")
    assert 'autocomplete="current-password"' in page.text
    r = await visitor.post(
        "/account/confirm", {"csrf_token": token, "password": "wrong!", "next": "/account"}
    )
    assert r.status_code == 401 and "The password is incorrect." in r.text
    before = visitor.cookie
    r = await visitor.post(
        "/account/confirm",
        {"csrf_token": token, "password": GOOD_PASSWORD, "next": "https://evil.test"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert visitor.cookie != before  # re-authentication is a privilege change (SS-02)
    visitor.use_cookie(before)
    assert (await visitor.client.get("/profile")).status_code == 401
    visitor.client.cookies.clear()
    visitor.client.cookies.update(r.cookies)
    token = csrf_token((await visitor.get("/account")).text)
    r = await visitor.post("/account/sessions/revoke-others", {"csrf_token": token})
    assert r.headers["location"] == "/account?done=others_revoked"
    assert (await second_visitor.client.get("/profile")).status_code == 401


# --- password change (SS-07, SS-10, PW-09) ------------------------------------------------


async def test_changing_the_password_keeps_this_session_and_ends_the_others(
    visitor: Visitor, second_visitor: Visitor, https_app: FastAPI, clock: FixedClock
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    await second_visitor.sign_in()
    bearer = (
        await visitor.client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    ).json()["access_token"]
    clock.advance(seconds=1)  # access tokens carry whole seconds
    before = visitor.cookie
    r = await visitor.post(
        "/account/password",
        {
            "csrf_token": token,
            "current_password": GOOD_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password_changed"
    assert visitor.cookie != before
    assert (await visitor.client.get("/profile")).status_code == 200
    assert (await second_visitor.client.get("/profile")).status_code == 401
    headers = {"authorization": f"Bearer {bearer}"}
    assert (await second_visitor.client.get("/profile", headers=headers)).status_code == 401
    visitor.use_cookie(before)
    assert (await visitor.client.get("/profile")).status_code == 401
    types = await audit_types(https_app)
    assert types[-4:] == [
        "password.changed",
        "tokens.revoked",  # the account's refresh-token sessions and access tokens
        "session.destroyed",
        "session.rotated",
    ]


@pytest.mark.parametrize(
    ("current", "new", "confirm", "status", "message"),
    [
        ("not it at all", NEW_PASSWORD, NEW_PASSWORD, 403, "The current password is incorrect."),
        (GOOD_PASSWORD, "short", "short", 422, "at least 15 characters"),
        (GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "?", 422, "not the same"),
        (GOOD_PASSWORD, GOOD_PASSWORD, GOOD_PASSWORD, 422, "must differ"),
    ],
)
async def test_password_change_errors(
    visitor: Visitor, current: str, new: str, confirm: str, status: int, message: str
) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    before = visitor.cookie
    r = await visitor.post(
        "/account/password",
        {
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "new_password_confirm": confirm,
        },
    )
    assert r.status_code == status and message in r.text
    assert "set-cookie" not in r.headers and visitor.cookie == before
    assert GOOD_PASSWORD not in r.text and NEW_PASSWORD not in r.text
    assert (await visitor.client.get("/profile")).status_code == 200


async def test_password_change_needs_the_csrf_token(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.post(
        "/account/password",
        {
            "current_password": GOOD_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert r.status_code == 403
    r = await visitor.client.post("/login", json={"username": "alice", "password": GOOD_PASSWORD})
    assert r.status_code == 200  # unchanged


# --- timeouts (SS-05, SS-06) and disabled accounts (SS-08) ----------------------------------


async def test_idle_timeout(visitor: Visitor, clock: FixedClock, https_app: FastAPI) -> None:
    await visitor.register()
    await visitor.sign_in()
    for _ in range(3):
        clock.advance(timedelta(minutes=29))
        assert (await visitor.get("/account")).status_code == 200  # activity keeps it alive
    clock.advance(timedelta(minutes=30))
    r = await visitor.get("/account")
    assert r.status_code == 303 and r.headers["location"] == "/account/login?next=/account"
    assert (await visitor.client.get("/profile")).status_code == 401
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        events = await uow.audit.list(types=["session.destroyed"])
    assert [e.reason for e in events] == ["idle_timeout"]


async def test_absolute_timeout(visitor: Visitor, clock: FixedClock) -> None:
    await visitor.register()
    await visitor.sign_in()
    for _ in range(28):  # a request every 25 minutes, for 11 h 40 min
        clock.advance(timedelta(minutes=25))
        assert (await visitor.client.get("/profile")).status_code == 200
    clock.advance(timedelta(minutes=25))  # 12 h 5 min after login
    assert (await visitor.client.get("/profile")).status_code == 401


async def test_a_disabled_account_loses_its_sessions(visitor: Visitor, https_app: FastAPI) -> None:
    await visitor.register()
    await visitor.sign_in()
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("alice")
        assert user is not None
        await uow.users.set_disabled(user.id, True)
        await uow.commit()
    assert (await visitor.client.get("/profile")).status_code == 401
    assert (await visitor.get("/account")).status_code == 303
