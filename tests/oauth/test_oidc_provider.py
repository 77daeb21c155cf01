"""Social login end to end against a real, certified OpenID Connect provider: npm's
``oidc-provider`` (``tests/oauth/peers/``), started on a free 127.0.0.1 port and configured by
the test, with ``idgate serve`` on another, driven in headless Chromium with Playwright.

``make test`` installs the peer (``npm ci`` in ``tests/oauth/peers`` when ``node_modules`` is
missing) and Chromium. Without them a plain ``pytest`` skips these tests and says why; with
``CI=true`` they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.conftest import IN_CI
from tests.helpers import GOOD_PASSWORD
from tests.live import free_port, live_server
from tests.web.pages.test_browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Watch, snap

PEERS = Path(__file__).parent / "peers"
COOKIE = "__Host-idgate-session"
CLIENT_ID = "idgate-e2e"
CLIENT_SECRET = "an-e2e-client-secret-of-enough-length"
ACCOUNTS = {
    "jane": {
        "email": "Jane@Example.test",
        "email_verified": True,
        "preferred_username": "jane",
        "name": "Jane Doe",
    },
    "bob": {"email": "bob@example.test", "email_verified": False, "name": "Bob"},
}


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message)  # CI never passes by skipping the real provider
    pytest.skip(message + " (run `make test`, which installs it)")


@dataclass
class Peers:
    idgate: str
    provider: str


def _start_provider(port: int, redirect_uri: str) -> subprocess.Popen[str]:
    node = shutil.which(os.environ.get("IDGATE_TEST_NODE", "node"))
    if node is None:
        _unavailable("Node.js is not installed")
    if not (PEERS / "node_modules" / "oidc-provider").is_dir():
        _unavailable("npm's oidc-provider is not installed in tests/oauth/peers")
    config = {
        "port": port,
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [redirect_uri],
            }
        ],
        "accounts": ACCOUNTS,
        "cookie_key": os.urandom(16).hex(),
    }
    env = {k: v for k, v in os.environ.items() if k != "NODE_ENV"}
    process = subprocess.Popen(
        [str(node), "provider.mjs", json.dumps(config)],
        cwd=PEERS,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "listening <issuer>", or "" if it died
    if not line.startswith("listening "):
        process.kill()
        process.wait()
        process.stdout.close()
        _unavailable(f"oidc-provider did not start: {line!r}")
    return process


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    idgate_port, provider_port = free_port(), free_port()
    idgate = f"http://127.0.0.1:{idgate_port}"
    provider = _start_provider(provider_port, f"{idgate}/login/local/callback")
    issuer = f"http://127.0.0.1:{provider_port}"
    try:
        deadline = time.monotonic() + 30
        while httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        providers = [
            {
                "name": "local",
                "title": "Local ID",
                "issuer": issuer,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        ]
        with live_server(
            tmp_path_factory.mktemp("social-server"),
            port=idgate_port,
            oidc_providers=json.dumps(providers),
        ) as base:
            yield Peers(idgate=base, provider=issuer)
    finally:
        provider.terminate()
        try:
            provider.wait(timeout=10)
        except subprocess.TimeoutExpired:
            provider.kill()
            provider.wait()
        if provider.stdout is not None:
            provider.stdout.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    manager = sync_playwright().start()
    try:
        try:
            browser = manager.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
            )
        except Exception as exc:
            _unavailable(f"Chromium cannot start ({CHROMIUM}): {exc}")
        yield browser
        browser.close()
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("IDGATE_SCREENSHOTS_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _loopback_only(route: Route) -> None:
    # The provider's development pages import a web font; nothing leaves this machine.
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def new_context(chromium: Browser) -> BrowserContext:
    context = chromium.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.route("**/*", _loopback_only)
    return context


def session_cookie(context: BrowserContext) -> str | None:
    values = [c["value"] for c in context.cookies() if c["name"] == COOKIE]
    return values[0] if values else None


def sign_in_at_provider(page: Page, login: str) -> None:
    """The provider's own pages: its login form, then its consent form."""
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password: the development login takes any")
    page.click("button[type=submit]")
    page.wait_for_selector("button:has-text('Continue')")
    page.click("button:has-text('Continue')")


def test_continue_with_a_real_openid_connect_provider(
    chromium: Browser, peers: Peers, shots: Path
) -> None:
    context = new_context(chromium)
    page = context.new_page()
    watch = Watch(page)

    page.goto(f"{peers.idgate}/account/login?next=/account")
    button = page.locator("a.provider", has_text="Continue with Local ID")
    assert button.get_attribute("href") == "/login/local"
    snap(page, shots, "login-providers")
    pre_session = session_cookie(context)

    button.click()
    assert page.url.startswith(peers.provider + "/interaction/")
    assert page.context.cookies(peers.idgate)  # idgate's pre-session stays in this browser
    sign_in_at_provider(page, "jane")

    page.wait_for_url(f"{peers.idgate}/account")
    assert page.inner_text("dd.username") == "jane"
    assert "Local ID" in page.inner_text("#methods-heading + ul")
    assert "jane@example.test" in page.inner_text(".identities")  # from userinfo, lower-cased
    assert "no password" in page.inner_text("main")
    cookie = session_cookie(context)
    assert cookie is not None and cookie != pre_session  # a new session id at login (SS-02)
    snap(page, shots, "account-social")

    # An access token for the API, from the account page.
    page.click("text=Get an access token")
    token = page.input_value("#access_token")
    profile = httpx.get(f"{peers.idgate}/profile", headers={"authorization": f"Bearer {token}"})
    assert profile.status_code == 200 and profile.json()["username"] == "jane"
    snap(page, shots, "access-token")

    # Signing out and in again with the provider reaches the same account, without a new one.
    page.goto(f"{peers.idgate}/account")
    page.click("text=Sign out")
    page.click("a.provider")  # the provider remembers jane: consent given, straight back
    page.wait_for_url(f"{peers.idgate}/account")
    assert page.inner_text("dd.username") == "jane"
    assert watch.dialogs == [] and watch.errors == [], watch.errors
    context.close()


def test_cancelling_at_the_provider_ends_on_a_clear_page(
    chromium: Browser, peers: Peers, shots: Path
) -> None:
    context = new_context(chromium)
    page = context.new_page()
    page.goto(f"{peers.idgate}/account/login")
    page.click("a.provider")
    page.click("text=[ Cancel ]")
    page.wait_for_url(f"{peers.idgate}/login/local/callback*")
    assert page.inner_text("h1") == "Sign-in failed"
    assert "cancelled" in page.inner_text("main")
    assert page.inner_text(".error-code code") == "social_login_cancelled"
    snap(page, shots, "social-cancelled")
    callback = page.url

    # The same answer replayed (the browser's history, a shared link): refused, not signed in.
    response = page.goto(callback)
    assert response is not None and response.status == 400
    assert page.inner_text(".error-code code") == "social_state_invalid"
    page.goto(f"{peers.idgate}/account")
    assert page.url.startswith(f"{peers.idgate}/account/login")
    context.close()


def test_link_then_unlink_from_the_account_page(chromium: Browser, peers: Peers) -> None:
    context = new_context(chromium)
    page = context.new_page()
    page.goto(f"{peers.idgate}/account/register")
    page.fill("#username", "robert")
    page.fill("#password", GOOD_PASSWORD)
    page.fill("#password_confirm", GOOD_PASSWORD)
    page.click("form.form button[type=submit]")
    page.fill("#username", "robert")
    page.fill("#password", GOOD_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{peers.idgate}/account")

    page.click("text=Link Local ID")
    sign_in_at_provider(page, "bob")
    page.wait_for_url(f"{peers.idgate}/account?done=linked")
    assert "The account was linked" in page.inner_text("[role=status]")
    assert "Bob" not in page.inner_text("dd.username")  # still robert's account
    assert "bob@example.test" in page.inner_text(".identities")

    page.click(".identities button:has-text('Unlink')")
    page.wait_for_url(f"{peers.idgate}/account?done=unlinked")
    assert page.locator(".identities").count() == 0
    context.close()
