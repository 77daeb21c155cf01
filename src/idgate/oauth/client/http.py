"""Outbound HTTP to providers (SECURITY.md OC-07): TLS verified, short timeouts, no redirect
followed, bounded answers; only to the URLs the settings name (or their discovery documents do).

The clients are ``httpx2`` clients, the HTTP library authlib's client integration is built on.
Upstream access tokens live only in the memory of the request that obtained them (OC-06).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client

from idgate.core.federation import ProviderUnavailable, SocialLoginFailed

#: The largest JSON document read from a provider (discovery, JWKS, user info).
MAX_DOCUMENT = 256 * 1024


class ProviderHttp:
    """Makes the HTTP clients that talk to providers.

    ``verify`` is always on in idgate; tests of the TLS refusal rely on it. ``timeout`` bounds
    connecting, each read and each write.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = httpx2.Timeout(timeout)

    def oauth_client(self, **kwargs: Any) -> AsyncOAuth2Client:
        """Return an authlib OAuth 2.0 client for one token exchange."""
        return AsyncOAuth2Client(
            timeout=self.timeout, follow_redirects=False, verify=True, **kwargs
        )

    async def get_json(
        self, url: str, *, provider: str, headers: dict[str, str] | None = None
    ) -> Any:
        """GET ``url`` and return its JSON; raise ``ProviderUnavailable`` on network errors and
        5xx, ``SocialLoginFailed`` on other refusals or a body that is not JSON."""
        sent = {"Accept": "application/json", **(headers or {})}
        try:
            async with (
                httpx2.AsyncClient(
                    timeout=self.timeout, follow_redirects=False, verify=True
                ) as client,
                client.stream("GET", url, headers=sent) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT:
                        raise SocialLoginFailed("oversized_response")
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(_network_reason(exc)) from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"http_{response.status_code}")
        if response.status_code != 200:
            raise SocialLoginFailed(f"http_{response.status_code}")
        try:
            return json.loads(bytes(body))
        except ValueError:
            raise SocialLoginFailed("invalid_json") from None


def _network_reason(exc: httpx2.HTTPError) -> str:
    text = str(exc).lower()
    if "certificate" in text or "ssl" in text:
        return "tls_error"
    if isinstance(exc, httpx2.TimeoutException):
        return "timeout"
    return "unreachable"


async def exchange_code(
    http: ProviderHttp,
    *,
    provider: str,
    token_endpoint: str,
    client_id: str,
    client_secret: str,
    auth_method: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> dict[str, Any]:
    """Exchange an authorization code at ``token_endpoint`` (RFC 6749 4.1.3, RFC 7636 4.5).

    Returns the token response (kept in memory only). ``SocialLoginFailed`` when the provider
    refuses the code, ``ProviderUnavailable`` when it cannot be reached.
    """
    from authlib.integrations.base_client import OAuthError

    async with http.oauth_client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=auth_method,
        redirect_uri=redirect_uri,
    ) as client:
        try:
            token = await client.fetch_token(token_endpoint, code=code, code_verifier=code_verifier)
        except OAuthError as exc:
            raise SocialLoginFailed(f"token_refused:{exc.error}"[:64]) from None
        except httpx2.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise ProviderUnavailable(f"http_{exc.response.status_code}") from None
            raise SocialLoginFailed(f"http_{exc.response.status_code}") from None
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(_network_reason(exc)) from None
        except ValueError:
            raise SocialLoginFailed("invalid_token_response") from None
    result: dict[str, Any] = dict(token)
    if not isinstance(result.get("access_token"), str):
        raise SocialLoginFailed("invalid_token_response")
    return result
