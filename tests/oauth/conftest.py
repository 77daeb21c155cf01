"""Fixtures of the social-login tests: the stand-in providers on 127.0.0.1, an app that knows
them, and a browser-like client that walks the redirects between the two."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import OidcProviderSettings, Settings
from idgate.core.clock import FixedClock
from tests.oauth.standins import GitHubStandIn, OidcStandIn, serve
from tests.web.conftest import BASE, Visitor, browser_for

OCTOCAT: dict[str, Any] = {
    "id": 583231,
    "login": "octocat",
    "name": "The Octocat",
    "emails": [
        {"email": "octo@example.com", "primary": True, "verified": True, "visibility": "public"},
        {"email": "old@example.com", "primary": False, "verified": True, "visibility": None},
    ],
}
JANE: dict[str, Any] = {
    "sub": "248289761001",
    "email": "Jane@Example.com",
    "email_verified": True,
    "preferred_username": "jane",
    "name": "Jane Doe",
}


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn(redirect_uris={f"{BASE}/login/github/callback"}, user=dict(OCTOCAT))
    with serve(standin) as running:
        yield running


@pytest.fixture
def oidc() -> Iterator[OidcStandIn]:
    standin = OidcStandIn(redirect_uris={f"{BASE}/login/acme/callback"}, user=dict(JANE))
    with serve(standin) as running:
        yield running


def social_settings(settings: Settings, github: GitHubStandIn, oidc: OidcStandIn) -> Settings:
    return settings.model_copy(
        update={
            "issuer": BASE,
            "github_client_id": github.client_id,
            "github_client_secret": SecretStr(github.client_secret),
            "github_url": github.url,
            "github_api_url": github.url,
            "oidc_providers": [
                OidcProviderSettings(
                    name="acme",
                    title="Acme ID",
                    issuer=oidc.issuer,
                    client_id=oidc.client_id,
                    client_secret=SecretStr(oidc.client_secret),
                )
            ],
        }
    )


@pytest.fixture
def social(settings: Settings, github: GitHubStandIn, oidc: OidcStandIn) -> Settings:
    """Settings with GitHub and an OpenID Connect provider "acme", both stand-ins."""
    return social_settings(settings, github, oidc)


@pytest.fixture
async def social_app(social: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(social, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


class SocialVisitor(Visitor):
    """A :class:`Visitor` that can also follow a redirect out to a provider and back."""

    async def leave(self, path: str) -> httpx.Response:
        """GET ``path`` on idgate; return its answer (a 303 to the provider, or a page)."""
        return await self.get(path)

    async def at_provider(self, location: str) -> str:
        """Visit the provider's authorize URL; return where it sends the browser back."""
        # The test's side of a self-signed stand-in; idgate's own calls always verify.
        async with httpx.AsyncClient(verify=False) as outside:  # noqa: S501
            answer = await outside.get(location)
        assert answer.status_code == 302, answer.text
        back: str = answer.headers["location"]
        assert back.startswith(BASE + "/"), back
        return back

    async def come_back(self, url: str) -> httpx.Response:
        return await self.client.get(url, headers={"accept": "text/html"})

    async def social_login(self, provider: str, next: str | None = None) -> httpx.Response:
        """The whole trip: start, the provider, the callback; return the callback's answer."""
        path = f"/login/{provider}" + (f"?next={next}" if next else "")
        start = await self.leave(path)
        assert start.status_code == 303, start.text
        back = await self.at_provider(start.headers["location"])
        return await self.come_back(back)


@pytest.fixture
async def browser(social_app: FastAPI) -> AsyncIterator[SocialVisitor]:
    async with browser_for(social_app) as client:
        yield SocialVisitor(client)


@pytest.fixture
async def other_browser(social_app: FastAPI) -> AsyncIterator[SocialVisitor]:
    async with browser_for(social_app, ip="198.51.100.20") as client:
        yield SocialVisitor(client)
