"""GitHub: OAuth 2.0 (no OpenID Connect), the user from its REST API.

GitHub's documented endpoints: ``GET https://github.com/login/oauth/authorize`` (with PKCE),
``POST https://github.com/login/oauth/access_token`` (answers JSON when asked with
``Accept: application/json``), ``GET https://api.github.com/user`` and
``GET https://api.github.com/user/emails`` (scope ``user:email``). The identity is GitHub's
numeric user id, which never changes (a login can be renamed); the email is the primary one,
verified if GitHub says so. Scopes are the minimum: ``read:user user:email`` (OC-06).
"""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from idgate.core.federation import SocialLoginFailed, UpstreamIdentity
from idgate.oauth.client.http import ProviderHttp, exchange_code

SCOPES = ("read:user", "user:email")
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubProvider:
    """'Continue with GitHub'. ``url`` and ``api_url`` move only in tests (stand-ins)."""

    name = "github"
    title = "GitHub"
    kind = "github"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        http: ProviderHttp,
        url: str = "https://github.com",
        api_url: str = "https://api.github.com",
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self.url = url.rstrip("/")
        self.api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"GitHubProvider(url={self.url!r})"

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
            "allow_signup": "true",
        }
        url: str = add_params_to_uri(f"{self.url}/login/oauth/authorize", params)
        return url

    async def check_issuer(self, iss: str | None) -> None:
        # GitHub is not an OpenID provider and sends no iss; the mix-up defence is the callback
        # URL of its own (/login/github/callback) and the provider stored with the state.
        return None

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        token = await exchange_code(
            self._http,
            provider=self.name,
            token_endpoint=f"{self.url}/login/oauth/access_token",
            client_id=self.client_id,
            client_secret=self._client_secret,
            auth_method="client_secret_post",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        headers = {**API_HEADERS, "Authorization": f"Bearer {token['access_token']}"}
        user = await self._http.get_json(
            f"{self.api_url}/user", provider=self.name, headers=headers
        )
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise SocialLoginFailed("bad_user", "GitHub did not say who signed in.")
        emails = await self._http.get_json(
            f"{self.api_url}/user/emails", provider=self.name, headers=headers
        )
        email, verified = primary_email(emails)
        login = user.get("login")
        name = user.get("name")
        return UpstreamIdentity(
            provider=self.name,
            subject=str(user["id"]),
            email=email,
            email_verified=verified,
            login=login[:255] if isinstance(login, str) else None,
            name=name[:255] if isinstance(name, str) else None,
        )


def primary_email(emails: Any) -> tuple[str | None, bool]:
    """Return GitHub's primary address (lower-cased) and whether GitHub verified it."""
    if not isinstance(emails, list):
        return None, False
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True:
            address = entry.get("email")
            if isinstance(address, str) and 3 <= len(address) <= 320 and "@" in address:
                return address.strip().lower(), entry.get("verified") is True
    return None, False
