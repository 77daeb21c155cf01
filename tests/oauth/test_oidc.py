"""OpenID Connect providers by discovery, against a tamperable local stand-in: every check on
the ID token and the authorization response (SECURITY.md OC-01..OC-03), email linking (OC-04),
linking and unlinking from the account page."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from joserfc.jwk import RSAKey

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from tests.oauth.conftest import SocialVisitor
from tests.oauth.standins import OidcStandIn
from tests.oauth.test_github import audit_types, services_of
from tests.web.conftest import browser_for, csrf_token


async def test_login_with_an_openid_connect_provider(
    browser: SocialVisitor, oidc: OidcStandIn, social_app: FastAPI
) -> None:
    page = await browser.get("/account/login")
    assert 'href="/login/acme"' in page.text and "Continue with Acme ID" in page.text
    start = await browser.leave("/login/acme")
    url = urlsplit(start.headers["location"])
    assert url.path == "/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["scope"] == "openid email profile" and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["nonce"]) >= 43 and len(query["state"]) >= 43
    assert query["nonce"] != query["state"]

    answer = await browser.come_back(await browser.at_provider(start.headers["location"]))
    assert answer.status_code == 303 and answer.headers["location"] == "/account"
    account = await browser.get("/account")
    assert "jane" in account.text and "jane@example.com" in account.text  # lower-cased
    services = services_of(social_app)
    async with services.uow_factory() as uow:
        identity = await uow.federated_identities.get("acme", "248289761001")
    assert identity is not None and identity.email_verified and identity.login == "jane"


def _expired() -> dict[str, Any]:
    return {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"iss": "https://evil.test"}, id="wrong-issuer"),
        pytest.param({"aud": "another-client"}, id="wrong-audience"),
        pytest.param({"aud": ["idgate-client", "other"], "azp": "other"}, id="wrong-azp"),
        pytest.param(_expired(), id="expired"),
        pytest.param({"iat": int(time.time()) + 3600}, id="issued-in-the-future"),
        pytest.param({"nonce": "not-the-nonce-we-sent"}, id="wrong-nonce"),
        pytest.param({"nonce": None}, id="no-nonce"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param("foreign-key", id="foreign-signature"),
    ],
)
async def test_an_id_token_that_fails_a_check_signs_no_one_in(
    browser: SocialVisitor, oidc: OidcStandIn, social_app: FastAPI, tamper: object
) -> None:
    if tamper == "foreign-key":
        oidc.sign_with_other_key = True
    else:
        assert isinstance(tamper, dict)
        oidc.id_token_overrides = tamper
    answer = await browser.social_login("acme")
    assert answer.status_code == 400, answer.text
    assert "<code>social_login_failed</code>" in answer.text
    assert "set-cookie" not in answer.headers
    assert (await browser.get("/account")).status_code == 303
    reasons = [r for t, _, r in await audit_types(social_app) if t == "social.login_failed"]
    assert len(reasons) == 1 and str(reasons[0]).startswith("bad_id_token")
    services = services_of(social_app)
    async with services.uow_factory() as uow:
        assert (await uow.users.search())[1] == 0  # no account was created


async def test_discovery_naming_another_issuer_is_refused(
    browser: SocialVisitor, oidc: OidcStandIn
) -> None:
    oidc.discovery_issuer = oidc.issuer + "/other"
    answer = await browser.leave("/login/acme")
    assert answer.status_code == 400
    assert "another issuer" in answer.text


@pytest.mark.parametrize(
    ("response_iss", "announced", "reason"),
    [
        ("https://evil.test", True, "iss_mismatch"),
        ("https://evil.test", False, "iss_mismatch"),
        (None, True, "missing_iss"),
    ],
)
async def test_the_iss_of_the_authorization_response_is_checked(
    browser: SocialVisitor,
    oidc: OidcStandIn,
    social_app: FastAPI,
    response_iss: str | None,
    announced: bool,
    reason: str,
) -> None:
    """RFC 9207 (mix-up defence, OC-02)."""
    oidc.response_iss, oidc.announce_iss_parameter = response_iss, announced
    answer = await browser.social_login("acme")
    assert answer.status_code == 400 and "set-cookie" not in answer.headers
    assert ("social.login_failed", "failure", reason) in await audit_types(social_app)
    assert not [path for _, path, _ in oidc.seen if path == "/token"]  # no code was redeemed


async def test_a_provider_that_does_not_send_iss_may_omit_it(
    browser: SocialVisitor, oidc: OidcStandIn
) -> None:
    oidc.response_iss, oidc.announce_iss_parameter = None, False
    assert (await browser.social_login("acme")).status_code == 303


async def test_userinfo_about_someone_else_is_refused(
    browser: SocialVisitor, oidc: OidcStandIn
) -> None:
    oidc.userinfo_sub = "someone-else"
    answer = await browser.social_login("acme")
    assert answer.status_code == 400 and "set-cookie" not in answer.headers


async def test_rotated_provider_keys_are_fetched_again(
    browser: SocialVisitor, oidc: OidcStandIn, clock: FixedClock
) -> None:
    assert (await browser.social_login("acme")).status_code == 303

    oidc.key = RSAKey.generate_key(2048, parameters={"kid": "standin-2", "use": "sig"})
    fetches = oidc.jwks_fetches
    browser.use_cookie(None)
    clock.advance(seconds=120)
    answer = await browser.social_login("acme")
    assert answer.status_code == 303, answer.text
    assert oidc.jwks_fetches == fetches + 1
    # A token naming an unknown key right after a fetch does not make idgate fetch again.
    oidc.key = RSAKey.generate_key(2048, parameters={"kid": "standin-3", "use": "sig"})
    browser.use_cookie(None)
    assert (await browser.social_login("acme")).status_code == 400
    assert oidc.jwks_fetches == fetches + 1


# --- linking by email -----------------------------------------------------------------------


async def _users(app: FastAPI) -> int:
    services = services_of(app)
    async with services.uow_factory() as uow:
        return (await uow.users.search())[1]


@pytest.fixture
async def linking_app(social: Settings, clock: FixedClock) -> Any:
    app = create_app(social.model_copy(update={"social_link_verified_email": True}), clock=clock)
    async with app.router.lifespan_context(app):
        yield app


async def test_emails_do_not_link_accounts_by_default(
    browser: SocialVisitor, oidc: OidcStandIn, social_app: FastAPI
) -> None:
    oidc.user["email"] = "octo@example.com"  # the same verified address as at GitHub
    await browser.social_login("github")
    browser.use_cookie(None)
    await browser.social_login("acme")
    assert await _users(social_app) == 2


async def test_a_verified_email_links_when_the_setting_allows_it(
    linking_app: FastAPI, oidc: OidcStandIn
) -> None:
    oidc.user["email"] = "OCTO@example.com"
    async with browser_for(linking_app) as client:
        browser = SocialVisitor(client)
        await browser.social_login("github")
        browser.use_cookie(None)
        assert (await browser.social_login("acme")).status_code == 303
        page = await browser.get("/account")
        assert "octocat" in page.text and "Acme ID" in page.text
    assert await _users(linking_app) == 1
    assert ("social.identity_linked", "success", "verified_email") in await audit_types(linking_app)


async def test_an_unverified_email_never_links(linking_app: FastAPI, oidc: OidcStandIn) -> None:
    oidc.user.update(email="octo@example.com", email_verified=False)
    async with browser_for(linking_app) as client:
        browser = SocialVisitor(client)
        await browser.social_login("github")
        browser.use_cookie(None)
        await browser.social_login("acme")
    assert await _users(linking_app) == 2


async def test_a_password_account_named_like_the_email_is_never_linked(
    linking_app: FastAPI, oidc: OidcStandIn
) -> None:
    """Pre-account takeover: a local account that claims an address proves nothing (OC-04)."""
    async with browser_for(linking_app) as client:
        browser = SocialVisitor(client)
        await browser.register("jane@example.com")
        assert (await browser.social_login("acme")).status_code == 303
        page = await browser.get("/account")
        assert "Your account has no password" in page.text  # a new, separate account
    assert await _users(linking_app) == 2


# --- linking from the account page, unlinking ---------------------------------------------------


async def test_link_and_unlink_from_the_account_page(
    browser: SocialVisitor, social_app: FastAPI, clock: FixedClock
) -> None:
    await browser.social_login("github")
    page = await browser.get("/account")
    assert 'href="/account/identities/acme/link"' in page.text
    assert 'href="/account/identities/github/link"' not in page.text  # already linked

    start = await browser.leave("/account/identities/acme/link")
    assert start.status_code == 303
    answer = await browser.come_back(await browser.at_provider(start.headers["location"]))
    assert answer.headers["location"] == "/account?done=linked"
    page = await browser.get("/account?done=linked")
    assert "The account was linked" in page.text and "jane@example.com" in page.text
    assert await _users(social_app) == 1

    services = services_of(social_app)
    async with services.uow_factory() as uow:
        user = await uow.users.get_by_username("octocat")
        assert user is not None
        github, acme = sorted(
            await uow.federated_identities.list_for_user(user.id), key=lambda i: i.provider
        )
    token = csrf_token(page.text)
    gone = await browser.post(f"/account/identities/{github.id}/unlink", {"csrf_token": token})
    assert gone.headers["location"] == "/account?done=unlinked"
    last = await browser.post(f"/account/identities/{acme.id}/unlink", {"csrf_token": token})
    assert last.status_code == 409 and "<code>last_login_method</code>" in last.text
    # Someone else's identity id is not found, and a forged POST is refused.
    assert (
        await browser.post(f"/account/identities/{github.id}/unlink", {"csrf_token": token})
    ).status_code == 404
    assert (await browser.post(f"/account/identities/{acme.id}/unlink", {})).status_code == 403
    types = await audit_types(social_app)
    assert ("social.identity_linked", "success", "account_page") in types
    assert ("social.identity_unlinked", "success", None) in types
    assert ("social.identity_unlinked", "failure", "last_login_method") in types


async def test_a_password_account_may_unlink_its_only_provider(browser: SocialVisitor) -> None:
    await browser.register("alice")
    await browser.sign_in("alice")
    start = await browser.leave("/account/identities/github/link")
    answer = await browser.come_back(await browser.at_provider(start.headers["location"]))
    assert answer.headers["location"] == "/account?done=linked"
    page = await browser.get("/account")
    (identity_id,) = [
        line.split("/account/identities/")[1].split("/unlink")[0]
        for line in page.text.splitlines()
        if "/unlink" in line
    ]
    gone = await browser.post(
        f"/account/identities/{identity_id}/unlink", {"csrf_token": csrf_token(page.text)}
    )
    assert gone.headers["location"] == "/account?done=unlinked"
    # Signing in with GitHub now creates a separate account: the link is gone.
    browser.use_cookie(None)
    await browser.social_login("github")
    assert "octocat" in (await browser.get("/account")).text


async def test_an_identity_linked_to_another_account_cannot_be_linked_again(
    browser: SocialVisitor, other_browser: SocialVisitor
) -> None:
    await other_browser.social_login("acme")  # Jane's Acme account has its own idgate account
    await browser.social_login("github")
    start = await browser.leave("/account/identities/acme/link")
    answer = await browser.come_back(await browser.at_provider(start.headers["location"]))
    assert answer.status_code == 409
    assert "<code>identity_linked_elsewhere</code>" in answer.text


async def test_linking_needs_a_recent_sign_in(
    browser: SocialVisitor, oidc: OidcStandIn, clock: FixedClock
) -> None:
    await browser.social_login("github")
    clock.advance(seconds=11 * 60)
    start = await browser.leave("/account/identities/acme/link")
    assert start.headers["location"] == "/account/confirm?next=/account"
    confirm = await browser.get("/account/confirm?next=/account")
    # No password to type: the account confirms by signing in again with its provider.
    assert "Sign in again" in confirm.text and 'href="/login/github?next=/account"' in confirm.text
    again = await browser.social_login("github", next="/account")
    assert again.headers["location"] == "/account"
    start = await browser.leave("/account/identities/acme/link")
    assert start.headers["location"].startswith(oidc.url)
