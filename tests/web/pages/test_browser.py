"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright, against
``idgate serve`` over TCP.

Chromium comes from the system (``make test`` installs Debian's package); Playwright's own
browser download is never used. With ``CI=true`` a Chromium that cannot start fails the suite;
elsewhere the tests are skipped with the reason. Each page is photographed: into a temporary
directory, or into ``IDGATE_SCREENSHOTS_DIR`` (``make screenshots`` writes docs/screenshots/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright._impl._api_structures import SetCookieParam
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    expect,
    sync_playwright,
)

from tests.conftest import IN_CI
from tests.helpers import GOOD_PASSWORD
from tests.live import live_server

CHROMIUM = os.environ.get("IDGATE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COOKIE = "__Host-idgate-session"
NEW_PASSWORD = "a much better passphrase indeed"
HOSTILE = "<img src=x onerror=alert(1)>"
VIEWPORT = {"width": 1100, "height": 760}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; a fresh temporary profile for every launch."""
    manager = sync_playwright().start()
    try:
        try:
            chromium = manager.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
            )
        except Exception as exc:
            message = f"Chromium cannot start ({CHROMIUM}): {exc}"
            if IN_CI:
                pytest.fail(message)  # CI must never pass by skipping the browser tests
            pytest.skip(message + " (run `make test`, which installs it)")
        yield chromium
        chromium.close()
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(tmp_path_factory.mktemp("browser-server")) as base:
        yield base


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("IDGATE_SCREENSHOTS_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Watch:
    """Collects what must never happen on idgate's pages: dialogs and console errors (a CSP
    violation from an inline style or script shows up as one)."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message: ConsoleMessage) -> None:
        # Error statuses are expected on error pages; anything else (a CSP violation) is not.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def snap(page: Page, shots: Path, name: str) -> None:
    """Photograph the page, after checking that it fits its width (no horizontal scrolling)."""
    width = page.viewport_size["width"] if page.viewport_size else 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def session_cookie(context: BrowserContext) -> dict[str, object]:
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    return dict(cookie)


def replayed(value: str) -> SetCookieParam:
    """A copy of a session cookie, as an attacker who stole it would present it."""
    return {
        "name": COOKIE,
        "value": value,
        "domain": "127.0.0.1",
        "path": "/",
        "secure": True,
        "httpOnly": True,
        "sameSite": "Lax",
    }


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/account/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def register(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/account/register")
    page.fill("#username", username)
    page.fill("#password", password)
    page.fill("#password_confirm", password)
    page.click("form.form button[type=submit]")


def test_register_login_change_password_logout(browser: Browser, server: str, shots: Path) -> None:
    """The whole journey, with JavaScript off: the pages need none."""
    context = browser.new_context(java_script_enabled=False, viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    watch = Watch(page)

    page.goto(f"{server}/account")
    assert page.url == f"{server}/account/login?next=/account"
    assert page.locator("input[type=password]#password").get_attribute("autocomplete") == (
        "current-password"
    )
    snap(page, shots, "login")

    page.click("text=Create an account")
    assert page.url == f"{server}/account/register"
    snap(page, shots, "register")
    register(page, server, "alice", GOOD_PASSWORD)
    assert page.url == f"{server}/account/login?done=registered"
    assert "Your account is ready" in page.inner_text("[role=status]")

    pre_session = session_cookie(context)["value"]
    sign_in(page, server, "alice", GOOD_PASSWORD)
    assert page.url == f"{server}/account"
    assert page.inner_text("dd.username") == "alice"
    expect(page.locator("li.session")).to_have_count(1)  # waits for the page to load
    assert "This browser" in page.inner_text("li.session")

    cookie = session_cookie(context)
    assert cookie["value"] != pre_session  # a new id at login (SS-02)
    assert cookie["httpOnly"] is True and cookie["secure"] is True
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1"  # host-only: no Domain attribute
    assert cookie["expires"] == -1  # a browser-session cookie
    assert len(str(cookie["value"])) == 43
    snap(page, shots, "account")

    # A second browser signs in too; it will be signed out by the password change.
    other = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    other_page = other.new_page()
    sign_in(other_page, server, "alice", GOOD_PASSWORD)
    assert other_page.url == f"{server}/account"
    page.reload()
    expect(page.locator("li.session")).to_have_count(2)  # waits for the page to load

    page.click("text=Change password")
    assert page.url == f"{server}/account/password"
    page.fill("#current_password", "not my password at all")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_confirm", NEW_PASSWORD)
    page.click("form.form button[type=submit]")
    assert "The current password is incorrect." in page.inner_text("[role=alert]")
    snap(page, shots, "password-error")
    page.fill("#current_password", GOOD_PASSWORD)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#new_password_confirm", NEW_PASSWORD)
    snap(page, shots, "password")
    page.click("form.form button[type=submit]")
    assert page.url == f"{server}/account?done=password_changed"
    rotated = session_cookie(context)["value"]
    assert rotated != cookie["value"]  # rotated at the privilege change
    expect(page.locator("li.session")).to_have_count(1)  # waits for the page to load

    other_page.goto(f"{server}/account")  # the other browser's session is dead (SS-07)
    assert other_page.url.startswith(f"{server}/account/login")

    # The cookie from before the change is rejected by the server, not just forgotten.
    replay = browser.new_context()
    replay.add_cookies([replayed(str(cookie["value"]))])
    replay_page = replay.new_page()
    replay_page.goto(f"{server}/account")
    assert replay_page.url.startswith(f"{server}/account/login")

    page.click("text=Sign out")
    assert page.url == f"{server}/account/login?done=logged_out"
    assert "You have signed out." in page.inner_text("[role=status]")
    replay.clear_cookies()
    replay.add_cookies([replayed(str(rotated))])
    replay_page.goto(f"{server}/account")
    assert replay_page.url.startswith(f"{server}/account/login")  # logout was server-side

    sign_in(page, server, "alice", GOOD_PASSWORD)
    assert "Invalid username or password." in page.inner_text("[role=alert]")
    sign_in(page, server, "alice", NEW_PASSWORD)
    assert page.url == f"{server}/account"

    page.goto(f"{server}/no/such/page")
    assert "Page not found" in page.inner_text("h1")
    snap(page, shots, "error")
    assert watch.dialogs == [] and watch.errors == [], watch.errors
    for ctx in (context, other, replay):
        ctx.close()


def test_hostile_text_is_shown_as_text(browser: Browser, server: str, shots: Path) -> None:
    """A username or user agent made of HTML is displayed literally; no dialog ever opens."""
    context = browser.new_context(user_agent=f"{HOSTILE} <script>alert(2)</script>")
    page = context.new_page()
    watch = Watch(page)

    register(page, server, HOSTILE, GOOD_PASSWORD)
    assert page.input_value("#username") == HOSTILE
    assert "username" in page.inner_text("[role=alert]").lower()
    assert page.locator("img[src=x]").count() == 0
    snap(page, shots, "register-error")

    sign_in(page, server, HOSTILE, GOOD_PASSWORD)
    assert page.input_value("#username") == HOSTILE
    assert page.locator("img[src=x]").count() == 0

    register(page, server, "mallory", GOOD_PASSWORD)
    sign_in(page, server, "mallory", GOOD_PASSWORD)
    assert page.url == f"{server}/account"
    assert HOSTILE in page.inner_text("p.agent")
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main script").count() == 0
    assert watch.dialogs == []
    context.close()


def test_cross_site_form_post_is_refused(browser: Browser, server: str, shots: Path) -> None:
    """A page on another site posts to idgate; the browser's session survives untouched."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    register(page, server, "victim", GOOD_PASSWORD)
    sign_in(page, server, "victim", GOOD_PASSWORD)
    assert page.url == f"{server}/account"
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    before = session_cookie(context)

    attacker = f"""<!doctype html><html><body>
      <form id="logout" method="post" action="{server}/account/logout">
        <input name="csrf_token" value="{token}"><button id="go-logout">Win a prize</button>
      </form>
      <form id="password" method="post" action="{server}/account/password">
        <input name="csrf_token" value="{token}">
        <input name="current_password" value="guess"><input name="new_password" value="x">
        <button id="go-password">Claim</button>
      </form></body></html>"""
    context.route(
        "http://attacker.test/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=attacker),
    )
    for button in ("#go-logout", "#go-password"):
        page.goto("http://attacker.test/prize")
        with page.expect_navigation() as navigation:
            page.click(button)
        response = navigation.value
        assert response is not None and response.status == 403
        assert "Request refused" in page.inner_text("h1")
        assert response.headers.get("set-cookie") is None  # the victim's cookie is left alone
    snap(page, shots, "csrf-refused")

    assert session_cookie(context) == before
    page.goto(f"{server}/account")
    assert page.url == f"{server}/account"  # still signed in: nothing changed
    context.close()


def test_pages_are_responsive(browser: Browser, server: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{server}/account/login")
    snap(page, shots, "login-mobile")  # fits a phone's width
    page.goto(f"{server}/account/register")
    snap(page, shots, "register-mobile")
    context.close()
