"""Login, registration and logout pages: cookies, login CSRF, enumeration, headers, ``next``."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from idgate.core.models import SYSTEM_ORIGIN
from idgate.services import Services
from idgate.store.models import BrowserSessionRow
from idgate.web.devices import DEVICE_COOKIE
from tests.helpers import GOOD_PASSWORD
from tests.web.conftest import BASE, COOKIE, HTML, Visitor, browser_for, csrf_token

PAGES = ["/account/login", "/account/register"]


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


async def stored_sessions(app: FastAPI) -> int:
    services: Services = app.state.services
    async with services.uow_factory() as uow:
        count = await uow.session.scalar(  # type: ignore[attr-defined]
            select(func.count()).select_from(BrowserSessionRow)
        )
        return int(count)


# --- headers and markup (HD-02..04, OP-13, PW-11) ---------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_pages_have_a_strict_csp_and_no_inline_code(visitor: Visitor, path: str) -> None:
    r = await visitor.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    csp = {d.split(" ", 1)[0]: d for d in r.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == "default-src 'none'"
    assert csp["script-src"] == "script-src 'none'"
    assert csp["style-src"] == "style-src 'self'"
    assert csp["form-action"] == "form-action 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["base-uri"] == "base-uri 'none'" and csp["object-src"] == "object-src 'none'"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["strict-transport-security"].startswith("max-age=63072000")
    html = r.text
    assert "<script" not in html and " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
    assert "http://" not in html and "https://" not in html  # nothing third-party
    assert 'href="/static/idgate.css?v=' in html


async def test_password_fields_welcome_password_managers(visitor: Visitor) -> None:
    html = (await visitor.get("/account/login")).text
    field = re.search(r"<input[^>]*id=\"password\"[^>]*>", html)
    assert field is not None
    assert 'type="password"' in field.group(0)
    assert 'autocomplete="current-password"' in field.group(0)
    assert "onpaste" not in html and 'autocomplete="off"' not in html
    html = (await visitor.get("/account/register")).text
    assert html.count('autocomplete="new-password"') == 2
    assert "hint" not in re.sub(
        r'class="hint"|id="[a-z-]*hint"|aria-describedby="[a-z-]*"', "", html
    )


async def test_the_stylesheet_is_served_by_idgate(visitor: Visitor) -> None:
    r = await visitor.client.get("/static/idgate.css")
    assert r.status_code == 200 and r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=86400"
    assert "@import" not in r.text and "url(" not in r.text
    assert (await visitor.client.get("/static/favicon.svg")).status_code == 200
    assert (await visitor.client.get("/static/../config.py")).status_code == 404
    assert (await visitor.client.get("/static/nope.css")).status_code == 404


# --- the session cookie (SS-01..SS-03) --------------------------------------------------------


async def test_the_cookie_is_host_prefixed_secure_httponly_lax(visitor: Visitor) -> None:
    r = await visitor.get("/account/login")
    (header,) = set_cookie_headers(r)
    name, _, rest = header.partition("=")
    value, *attributes = [part.strip() for part in rest.split(";")]
    assert name == COOKIE
    attrs = {a.split("=")[0].lower(): a for a in attributes}
    assert set(attrs) == {"httponly", "path", "samesite", "secure"}
    assert attrs["path"] == "Path=/" and attrs["samesite"].lower() == "samesite=lax"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)  # 256 bits, base64url, no structure
    assert value not in r.text  # only ever in Set-Cookie


async def test_session_ids_are_unique_and_opaque(https_app: FastAPI) -> None:
    seen = set()
    for _ in range(25):
        async with browser_for(https_app) as client:
            r = await client.get("/account/login", headers=HTML)
            seen.add(r.cookies[COOKIE])
    assert len(seen) == 25
    assert not any(value.startswith("ey") and value.count(".") == 2 for value in seen)


async def test_the_store_keeps_only_a_hash_of_the_id(visitor: Visitor, https_app: FastAPI) -> None:
    await visitor.register()
    await visitor.sign_in()
    raw = visitor.cookie
    assert raw is not None
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        keys = list(await uow.session.scalars(select(BrowserSessionRow.key)))  # type: ignore[attr-defined]
    assert hashlib.sha256(raw.encode()).hexdigest() in keys
    assert raw not in keys


async def test_login_issues_a_new_id_and_the_old_one_dies(visitor: Visitor) -> None:
    await visitor.register()
    token = await visitor.token()
    before = visitor.cookie
    r = await visitor.post(
        "/account/login",
        {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD},
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    after = visitor.cookie
    assert before and after and after != before
    assert (await visitor.client.get("/profile")).json()["username"] == "alice"
    visitor.use_cookie(before)
    assert (await visitor.client.get("/profile")).status_code == 401
    # The pre-session's CSRF token died with it.
    r = await visitor.post(
        "/account/login", {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("planted", ["attacker123", "A" * 43])
async def test_an_attacker_chosen_id_is_never_adopted(visitor: Visitor, planted: str) -> None:
    await visitor.register()
    visitor.use_cookie(planted)
    r = await visitor.get("/account/login")
    assert visitor.cookie != planted and COOKIE in r.headers["set-cookie"]
    await visitor.sign_in()
    assert visitor.cookie != planted


# --- login --------------------------------------------------------------------------------


async def test_failed_logins_look_the_same_for_every_cause(
    visitor: Visitor, https_app: FastAPI
) -> None:
    await visitor.register()
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        bob = await services.users.register(uow, "bob", GOOD_PASSWORD, SYSTEM_ORIGIN)
        await uow.users.set_disabled(bob.id, True)
        await uow.commit()
    token = await visitor.token()
    answers = []
    for username, password in [
        ("alice", "wrong password, sorry"),
        ("ghost", "wrong password, sorry"),
        ("bob", GOOD_PASSWORD),
        ("alice", "x" * 2000),
    ]:
        r = await visitor.post(
            "/account/login", {"csrf_token": token, "username": username, "password": password}
        )
        assert r.status_code == 401
        assert "set-cookie" not in r.headers
        body = r.text.replace(f'value="{username}"', 'value=""')
        answers.append(body)
    assert len(set(answers)) == 1
    assert "Invalid username or password." in answers[0]


async def test_wrong_credentials_keep_the_form_usable(visitor: Visitor) -> None:
    await visitor.register()
    token = await visitor.token()
    r = await visitor.post(
        "/account/login", {"csrf_token": token, "username": "alice", "password": "nope nope"}
    )
    assert csrf_token(r.text) == token
    r = await visitor.post(
        "/account/login", {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD}
    )
    assert r.status_code == 303


@pytest.mark.parametrize(
    ("headers", "with_token", "with_cookie"),
    [
        ({}, False, True),  # no token
        ({}, True, False),  # no pre-session
        ({"sec-fetch-site": "cross-site"}, True, True),
        ({"sec-fetch-site": "same-site"}, True, True),
        ({"sec-fetch-site": None, "origin": "https://evil.test"}, True, True),
        ({"sec-fetch-site": None, "origin": "null"}, True, True),
        ({"sec-fetch-site": None, "origin": "https://testserver.evil.test"}, True, True),
    ],
)
async def test_login_csrf_is_refused(
    visitor: Visitor,
    https_app: FastAPI,
    headers: dict[str, str | None],
    with_token: bool,
    with_cookie: bool,
) -> None:
    """An attacker's site cannot sign the victim in to the attacker's account (CSRF-04)."""
    await visitor.register()
    token = await visitor.token()
    if not with_cookie:
        visitor.use_cookie(None)
    sessions_before = await stored_sessions(https_app)
    data = {"username": "alice", "password": GOOD_PASSWORD}
    if with_token:
        data["csrf_token"] = token
    sent = {**HTML, "sec-fetch-site": "same-origin"}
    for name, value in headers.items():
        sent.pop(name, None)
        if value is not None:
            sent[name] = value
    r = await visitor.client.post("/account/login", data=data, headers=sent)
    assert r.status_code == 403
    assert "set-cookie" not in r.headers  # pitfall 9: the victim's cookie is left alone
    assert "Request refused" in r.text
    assert await stored_sessions(https_app) == sessions_before


async def test_refusals_are_json_for_programs(visitor: Visitor) -> None:
    await visitor.token()
    r = await visitor.client.post("/account/login", data={"username": "a", "password": "b"})
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"


async def test_csrf_refusals_are_audited(visitor: Visitor, https_app: FastAPI) -> None:
    await visitor.token()
    await visitor.post("/account/login", {"username": "a", "password": "b"})
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        (event,) = await uow.audit.list(types=["csrf.refused"])
    assert event.reason == "missing_token" and event.details == {"path": "/account/login"}


# --- next (OP-14) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/account/password", "/account/password"),
        ("/account?x=1", "/account?x=1"),
        ("https://evil.test/", "/account"),
        ("//evil.test/x", "/account"),
        ("/\\evil.test", "/account"),
        ("javascript:alert(1)", "/account"),
        ("/account\r\nSet-Cookie: x=y", "/account"),
        ("", "/account"),
    ],
)
async def test_next_only_leads_inside_idgate(visitor: Visitor, value: str, expected: str) -> None:
    await visitor.register()
    page = await visitor.client.get("/account/login", params={"next": value}, headers=HTML)
    token = csrf_token(page.text)
    r = await visitor.post(
        "/account/login",
        {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD, "next": value},
    )
    assert r.status_code == 303 and r.headers["location"] == expected


async def test_a_signed_in_browser_skips_the_login_page(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    r = await visitor.client.get(
        "/account/login", params={"next": "/account/password"}, headers=HTML
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/password"


async def test_pages_that_need_a_session_send_to_the_login_page(visitor: Visitor) -> None:
    r = await visitor.get("/account/password")
    assert r.status_code == 303
    assert r.headers["location"] == "/account/login?next=/account/password"


# --- registration -------------------------------------------------------------------------


async def test_registration_then_login(visitor: Visitor) -> None:
    token = await visitor.token("/account/register")
    r = await visitor.post(
        "/account/register",
        {
            "csrf_token": token,
            "username": "carol",
            "password": GOOD_PASSWORD,
            "password_confirm": GOOD_PASSWORD,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/login?done=registered"
    assert "set-cookie" not in r.headers  # registration does not sign in by itself
    page = await visitor.get("/account/login?done=registered")
    assert "Your account is ready" in page.text
    page = await visitor.get("/account/login?done=<b>hi</b>")
    assert "<b>hi</b>" not in page.text and "&lt;b&gt;" not in page.text
    await visitor.sign_in("carol")


@pytest.mark.parametrize(
    ("username", "password", "confirm", "status", "message"),
    [
        ("dave", "short", "short", 422, "at least 15 characters"),
        ("dave", GOOD_PASSWORD, GOOD_PASSWORD + "!", 422, "not the same"),
        ("<b>x</b>", GOOD_PASSWORD, GOOD_PASSWORD, 422, "Username may contain only"),
        ("alice", GOOD_PASSWORD, GOOD_PASSWORD, 409, "already taken"),
    ],
)
async def test_registration_errors_redisplay_the_form(
    visitor: Visitor, username: str, password: str, confirm: str, status: int, message: str
) -> None:
    await visitor.register("alice")
    token = await visitor.token("/account/register")
    r = await visitor.post(
        "/account/register",
        {
            "csrf_token": token,
            "username": username,
            "password": password,
            "password_confirm": confirm,
        },
    )
    assert r.status_code == status
    assert message in r.text
    assert "<b>x</b>" not in r.text  # escaped: &lt;b&gt;x&lt;/b&gt;
    assert password not in r.text  # a password is never sent back


async def test_registration_needs_the_csrf_token(visitor: Visitor) -> None:
    await visitor.token("/account/register")
    r = await visitor.post(
        "/account/register",
        {"username": "eve", "password": GOOD_PASSWORD, "password_confirm": GOOD_PASSWORD},
    )
    assert r.status_code == 403
    token = await visitor.token("/account/register")
    r = await visitor.post(
        "/account/register",
        {
            "csrf_token": token,
            "username": "eve",
            "password": GOOD_PASSWORD,
            "password_confirm": GOOD_PASSWORD,
        },
    )
    assert r.status_code == 303  # eve did not exist yet: the refused request changed nothing


# --- logout (SS-04) -----------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(visitor: Visitor, https_app: FastAPI) -> None:
    await visitor.register()
    token = await visitor.sign_in()
    saved = visitor.cookie
    r = await visitor.post("/account/logout", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/account/login?done=logged_out"
    assert r.headers["clear-site-data"] == '"cache", "storage"'
    (cleared,) = set_cookie_headers(r)
    assert cleared.startswith(f'{COOKIE}="";') or cleared.startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in cleared and "Secure" in cleared
    visitor.use_cookie(saved)
    assert (await visitor.client.get("/profile")).status_code == 401
    assert (await visitor.get("/account")).status_code == 303
    services: Services = https_app.state.services
    async with services.uow_factory() as uow:
        (event,) = await uow.audit.list(types=["session.destroyed"])
    assert event.reason == "logout"


async def test_logout_is_post_only_and_csrf_protected(visitor: Visitor) -> None:
    await visitor.register()
    await visitor.sign_in()
    assert (await visitor.get("/account/logout")).status_code == 405
    r = await visitor.post("/account/logout", {})
    assert r.status_code == 403
    r = await visitor.post("/account/logout", {"csrf_token": "x" * 43})
    assert r.status_code == 403
    assert (await visitor.client.get("/profile")).status_code == 200  # still signed in


# --- one set of limits for every login pathway (LG-07) ------------------------------------


async def _fail_through_the_api(app: FastAPI, times: int) -> None:
    for number in range(times):
        transport = httpx.ASGITransport(app=app, client=(f"192.0.2.{number + 1}", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            r = await client.post(
                "/login", json={"username": "alice", "password": "wrong password, elsewhere"}
            )
            assert r.status_code in (401, 429)  # failed, or throttled after the free failures


async def test_the_web_form_shares_the_account_throttle(
    visitor: Visitor, https_app: FastAPI
) -> None:
    await visitor.register()
    await _fail_through_the_api(https_app, 5)
    token = await visitor.token()
    r = await visitor.post(
        "/account/login", {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD}
    )
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1


async def test_a_browser_that_signed_in_before_is_not_locked_out(
    visitor: Visitor, https_app: FastAPI
) -> None:
    await visitor.register()
    csrf = await visitor.sign_in()
    assert visitor.client.cookies.get(DEVICE_COOKIE)
    r = await visitor.post("/account/logout", {"csrf_token": csrf})
    assert r.status_code == 303
    await _fail_through_the_api(https_app, 8)
    await visitor.sign_in()


async def test_the_web_form_and_the_api_share_the_per_ip_limit(
    visitor: Visitor, https_app: FastAPI
) -> None:
    # Different usernames, so only the per-IP rule (10/minute) can refuse.
    async with browser_for(https_app) as api:  # the visitor's own address
        for number in range(5):
            r = await api.post("/login", json={"username": f"nobody{number}", "password": "x" * 20})
            assert r.status_code == 401
    token = await visitor.token()
    statuses = []
    for number in range(6):
        r = await visitor.post(
            "/account/login",
            {"csrf_token": token, "username": f"someone{number}", "password": "x" * 20},
        )
        statuses.append(r.status_code)
    assert statuses == [401] * 5 + [429]
