"""'Continue with GitHub' end to end, against a local stand-in of GitHub's documented endpoints."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI

from idgate.services import Services
from tests.oauth.conftest import SocialVisitor
from tests.oauth.standins import GitHubStandIn, s256
from tests.web.conftest import BASE, COOKIE


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
