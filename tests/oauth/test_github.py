"""'Continue with GitHub' end to end, against a local stand-in of GitHub's documented endpoints."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.services import Services
from tests.oauth.conftest import OCTOCAT, SocialVisitor, social_settings
from tests.oauth.standins import GitHubStandIn, OidcStandIn, s256, self_signed_context, serve
from tests.web.conftest import BASE, browser_for, csrf_token


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def audit_types(app: FastAPI) -> list[tuple[str, str, str | None]]:
    services = services_of(app)
    async with services.uow_factory() as uow:
        events = await uow.audit.list(limit=200)
    return [(e.type, str(e.outcome), e.reason) for e in reversed(events)]


async def test_first_login_creates_an_account_and_signs_in(
    browser: SocialVisitor, github: GitHubStandIn, social_app: FastAPI
) -> None:
    page = await browser.get("/account/login")
    assert 'href="/login/github"' in page.text and "Continue with GitHub" in page.text
    pre_session = browser.cookie

    start = await browser.leave("/login/github")
    assert start.status_code == 303
    url = urlsplit(start.headers["location"])
    assert f"{url.scheme}://{url.netloc}" == github.url and url.path == "/login/oauth/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["client_id"] == github.client_id
    assert query["redirect_uri"] == f"{BASE}/login/github/callback"
    assert query["scope"] == "read:user user:email"  # minimal scopes (OC-06)
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 43 and len(query["code_challenge"]) == 43
    assert browser.cookie == pre_session  # the trip is bound to this browser's session

    back = await browser.at_provider(start.headers["location"])
    answer = await browser.come_back(back)
    assert answer.status_code == 303 and answer.headers["location"] == "/account"
    assert browser.cookie not in (None, pre_session)  # a new session id at login (SS-02)
    assert "idgate-client" not in answer.text
    # The upstream access token never reaches the browser (OC-06).
    (token,) = github.tokens
    assert token not in answer.text and token not in str(answer.headers)

    account = await browser.get("/account")
    assert account.status_code == 200
    assert "octocat" in account.text and "octo@example.com" in account.text
    assert "Your account has no password" in account.text

    # The verifier sent to the token endpoint is the one whose challenge went out (PKCE).
    (exchange,) = [form for method, path, form in github.seen if path.endswith("access_token")]
    assert s256(exchange["code_verifier"]) == query["code_challenge"]

    types = await audit_types(social_app)
    assert ("user.registered", "success", None) in types
    assert ("social.identity_linked", "success", "new_account") in types
    assert ("social.login_succeeded", "success", None) in types
    assert ("session.created", "success", None) in types


async def test_the_same_github_account_signs_in_to_the_same_idgate_account(
    browser: SocialVisitor, other_browser: SocialVisitor, social_app: FastAPI
) -> None:
    await browser.register("octocat")  # a local account holds the name already
    assert (await browser.social_login("github")).status_code == 303
    assert (await other_browser.social_login("github")).status_code == 303
    services = services_of(social_app)
    async with services.uow_factory() as uow:
        _, total = await uow.users.search()
        local = await uow.users.get_by_username("octocat")
        social = await uow.users.get_by_username("octocat-2")
        assert local is not None and social is not None
        identities = await uow.federated_identities.list_for_user(social.id)
        # The local account was not linked: the name matches, but that proves nothing (OC-04).
        assert await uow.federated_identities.list_for_user(local.id) == []
    assert total == 2  # the local octocat, and one account for the GitHub identity
    assert social.password_hash is None
    assert [(i.provider, i.subject, i.login) for i in identities] == [
        ("github", "583231", "octocat")
    ]


async def test_next_only_leads_into_idgate(browser: SocialVisitor) -> None:
    answer = await browser.social_login("github", next="/account/password")
    assert answer.headers["location"] == "/account/password"
    for hostile in ("https://evil.test/", "//evil.test", "/%5Cevil.test", "javascript:alert(1)"):
        answer = await browser.social_login("github", next=hostile)
        assert answer.status_code == 303 and answer.headers["location"] == "/account"


async def test_unknown_provider_is_404(browser: SocialVisitor) -> None:
    assert (await browser.get("/login/nowhere")).status_code == 404
    assert (await browser.get("/login/nowhere/callback?state=x&code=y")).status_code == 404


async def _callback_refused(browser: SocialVisitor, url: str, code: str, reason: str) -> None:
    answer = await browser.come_back(url)
    assert answer.status_code == 400, answer.text
    assert f"<code>{code}</code>" in answer.text and "Sign-in failed" in answer.text
    assert "set-cookie" not in answer.headers  # no session of any kind (OC-01)
    account = await browser.get("/account")
    assert account.status_code == 303  # still signed out


async def test_state_missing_forged_reused_or_from_another_browser_is_refused(
    browser: SocialVisitor, other_browser: SocialVisitor, social_app: FastAPI
) -> None:
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    parts = urlsplit(back)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{BASE}/login/github/callback"

    await _callback_refused(browser, f"{base}?code={query['code']}", "social_state_invalid", "")
    await _callback_refused(
        browser, f"{base}?code={query['code']}&state=forged", "social_state_invalid", ""
    )
    # Another browser (the attacker's, or a victim's who was sent the link) cannot use it.
    await other_browser.get("/account/login")
    await _callback_refused(other_browser, back, "social_state_invalid", "")
    # ...and since a state is taken at its first use, it is dead for its owner too now.
    await _callback_refused(browser, back, "social_state_invalid", "")

    # A fresh trip works once, and not twice.
    ok = await browser.social_login("github")
    assert ok.status_code == 303
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    assert (await browser.come_back(back)).status_code == 303
    replay = await browser.come_back(back)
    assert replay.status_code == 400 and "set-cookie" not in replay.headers

    reasons = [r for t, o, r in await audit_types(social_app) if t == "social.login_failed"]
    assert reasons == [
        "missing_state",
        "unknown_state",
        "other_session",
        "unknown_state",
        "unknown_state",
    ]


async def test_a_browser_without_a_session_cannot_finish(
    browser: SocialVisitor, github: GitHubStandIn
) -> None:
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    browser.use_cookie(None)
    answer = await browser.come_back(back)
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


async def test_an_expired_state_is_refused(
    browser: SocialVisitor, social_app: FastAPI, clock: FixedClock
) -> None:
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    clock.advance(seconds=11 * 60)
    await _callback_refused(browser, back, "social_state_invalid", "expired_state")


async def test_a_state_comes_back_only_through_its_own_provider(browser: SocialVisitor) -> None:
    """Mix-up defence (OC-02): the provider is stored with the state; another provider's
    callback refuses it."""
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    await _callback_refused(
        browser, back.replace("/login/github/", "/login/acme/"), "social_state_invalid", ""
    )


async def test_denied_consent_ends_on_a_clear_page(
    browser: SocialVisitor, github: GitHubStandIn, social_app: FastAPI
) -> None:
    github.deny = True
    answer = await browser.social_login("github")
    assert answer.status_code == 400
    assert "cancelled" in answer.text and "<code>social_login_cancelled</code>" in answer.text
    assert "set-cookie" not in answer.headers
    assert ("social.login_failed", "failure", "access_denied") in await audit_types(social_app)


async def test_a_code_github_refuses_ends_on_a_clear_page(
    browser: SocialVisitor, github: GitHubStandIn
) -> None:
    start = await browser.leave("/login/github")
    back = await browser.at_provider(start.headers["location"])
    github.codes.clear()  # the code is no longer valid at GitHub
    answer = await browser.come_back(back)
    assert answer.status_code == 400
    assert "<code>social_login_failed</code>" in answer.text
    assert "set-cookie" not in answer.headers


async def test_a_disabled_account_cannot_sign_in_with_github(
    browser: SocialVisitor, social_app: FastAPI
) -> None:
    """LG-07: disabling an account closes the social pathway too."""
    assert (await browser.social_login("github")).status_code == 303
    services = services_of(social_app)
    async with services.uow_factory() as uow:
        (user,), _ = await uow.users.search()
        await uow.users.set_disabled(user.id, True)
        await uow.commit()
    assert (await browser.get("/account")).status_code == 303  # the session ended (SS-08)
    browser.use_cookie(None)
    answer = await browser.social_login("github")
    assert answer.status_code == 403
    assert "<code>social_login_refused</code>" in answer.text
    assert "set-cookie" not in answer.headers
    assert ("social.login_failed", "failure", "account_disabled") in await audit_types(social_app)


async def test_an_account_without_a_password_gets_tokens_from_the_account_page(
    browser: SocialVisitor, social_app: FastAPI
) -> None:
    await browser.social_login("github")
    page = await browser.get("/account")
    answer = await browser.post("/account/token", {"csrf_token": csrf_token(page.text)})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    match = re.search(r'<textarea id="access_token"[^>]*>([^<]+)</textarea>', answer.text)
    assert match
    profile = await browser.client.get(
        "/profile", headers={"authorization": f"Bearer {match.group(1)}"}
    )
    assert profile.status_code == 200 and profile.json()["username"] == "octocat"
    # A refresh token of its own token session comes with it, like a password login's.
    refresh = re.search(r'<textarea id="refresh_token"[^>]*>([^<]+)</textarea>', answer.text)
    assert refresh
    renewed = await browser.client.post("/token/refresh", json={"refresh_token": refresh.group(1)})
    assert renewed.status_code == 200 and renewed.json()["access_token"]
    # The JSON login refuses the account: it has no password.
    login = await browser.client.post("/login", json={"username": "octocat", "password": "x" * 20})
    assert login.status_code == 401
    assert ("token.issued", "success", None) in await audit_types(social_app)
    # Without the CSRF token, no token.
    refused = await browser.post("/account/token", {})
    assert refused.status_code == 403


async def test_a_provider_with_an_untrusted_certificate_is_refused(
    settings: Settings, oidc: OidcStandIn, clock: FixedClock, tmp_path: Path
) -> None:
    """TLS is verified on every call to a provider (OC-07): a self-signed GitHub fails."""
    standin = GitHubStandIn(redirect_uris={f"{BASE}/login/github/callback"}, user=dict(OCTOCAT))
    with serve(standin, tls=self_signed_context(tmp_path)) as github:
        app = create_app(social_settings(settings, github, oidc), clock=clock)
        async with app.router.lifespan_context(app), browser_for(app) as client:
            browser = SocialVisitor(client)
            answer = await browser.social_login("github")
            assert answer.status_code == 503
            assert "<code>social_provider_unavailable</code>" in answer.text
            assert answer.headers["retry-after"] == "5"
            assert "set-cookie" not in answer.headers
            assert not [path for _, path, _ in github.seen if path.endswith("access_token")]
            assert ("social.login_failed", "failure", "tls_error") in await audit_types(app)


async def test_starts_and_callbacks_are_rate_limited(social: Settings, clock: FixedClock) -> None:
    limited = social.model_copy(update={"rate_limits": {"social_login.ip": "3/minute"}})
    app = create_app(limited, clock=clock)
    async with app.router.lifespan_context(app), browser_for(app) as client:
        browser = SocialVisitor(client)
        assert (await browser.social_login("github")).status_code == 303  # 2 hits
        assert (await browser.leave("/login/github")).status_code == 303
        refused = await browser.leave("/login/github")
        assert refused.status_code == 429 and "retry-after" in refused.headers
